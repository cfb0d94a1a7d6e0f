"""RunKey: the identity of one evaluation run, and nothing else.

model + weights sha, dataset @ revision, protocol @ version, fold, seed, the recipe (benchmarks.recipe: stages,
preset, limit, arch / stage overrides) and the hash of the stage configs it resolves to. Built from specs only (no
timestamps, no world size, no paths), so the same command gives the same key on a laptop and on the cluster, and
the result store can say "done" by looking for one file. Made by the planner (benchmarks.plan) only.

    key.name       avfmae-tiny@ab12cd/demo@3f2e1a/paper-v1/fold1/seed0[/cfg=9c0f3e,stages=1+3,stage3.epochs=3]
                   readable; every '/'-separated part is filesystem safe
    key.slug       the same in one path component ('__' for '/'), for job names and file names
    key.signature  12 hex chars of sha256 over the canonical JSON of ``to_dict()``; the store's file name
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, fields
from typing import Mapping

from .recipe import Recipe

_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+-]+")


def _safe(part: str) -> str:
    return _UNSAFE.sub("_", part).strip("_") or "_"


@dataclass(frozen=True)
class RunKey:
    model: str                  # zoo name, e.g. "avfmae-tiny" (a name.tag is fine: "avfmae-large.vox2-s3")
    weights_sha: str            # sha256 (or a prefix) of the weights file; "" for random init
    dataset: str                # DatasetSpec.name
    dataset_revision: str       # DatasetSpec.revision(): hash of split files + label map
    protocol: str               # Protocol name: "paper", "clean", "linear", ...
    protocol_version: str       # Protocol version string: "1", "v2", ...
    fold: str                   # DatasetSpec.folds entry (ints are accepted and stored as str)
    seed: int = 0
    recipe: Recipe = Recipe()   # a Recipe, or its flat dict form
    config_hash: str = ""       # benchmarks.resolve.Resolved.config_hash of the stage configs the run uses

    def __post_init__(self):
        for f in ("model", "weights_sha", "dataset", "dataset_revision", "protocol", "protocol_version"):
            v = getattr(self, f)
            if not isinstance(v, str):
                raise TypeError(f"RunKey.{f} must be a str, got {type(v).__name__}")
        for f in ("model", "dataset", "protocol"):
            if not getattr(self, f):
                raise ValueError(f"RunKey.{f} must not be empty")
        object.__setattr__(self, "fold", str(self.fold))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            try:
                seed = int(self.seed)
            except (TypeError, ValueError):
                raise TypeError(f"RunKey.seed must be an int, got {self.seed!r}") from None
            object.__setattr__(self, "seed", seed)
        if isinstance(self.recipe, Mapping):
            object.__setattr__(self, "recipe", Recipe.parse(self.recipe))
        elif not isinstance(self.recipe, Recipe):
            raise TypeError(f"RunKey.recipe must be a Recipe or its flat dict, got {type(self.recipe).__name__}")
        if not isinstance(self.config_hash, str):
            raise TypeError("RunKey.config_hash must be a str")

    # ----------------------------------------------------------------------------- names

    @property
    def name(self) -> str:
        version = self.protocol_version
        version = version if version[:1] in ("v", "V") else f"v{version}"
        fold = self.fold if self.fold.lower().startswith("fold") else f"fold{self.fold}"
        parts = [
            f"{_safe(self.model)}@{_safe(self.weights_sha[:6] or 'init')}",
            f"{_safe(self.dataset)}@{_safe(self.dataset_revision[:6] or 'none')}",
            f"{_safe(self.protocol)}-{_safe(version)}",
            _safe(fold),
            f"seed{self.seed}",
        ]
        extra = ",".join(p for p in (f"cfg={self.config_hash[:6]}" if self.config_hash else "",
                                     self.recipe.label(hide=(), runtime=False)) if p)
        if extra:
            parts.append(_safe(extra))
        return "/".join(parts)

    @property
    def slug(self) -> str:
        return self.name.replace("/", "__")

    @property
    def signature(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:12]

    def canonical_json(self, legacy: bool = False) -> str:
        """The identity: every field, the recipe without its runtime fields (`to_dict` still carries them to the
        job; they change how a run executes, not what it computes), and without the path of one weights file
        for every fold: `weights_sha` is the file's identity, so the same file named by another path (relative
        or absolute, another folder, another machine) is the same run. Per-fold references (a '{fold}' pattern,
        a mapping file) stay: each key holds one fold's sha, the reference names the set (see `identity_recipe`).
        `legacy`: the identity before these changes (path and batch size kept), for results stored then."""
        d = self.to_dict()
        d["recipe"] = self.recipe.identity() if legacy else self.identity_recipe()
        return json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    def identity_recipe(self) -> dict:
        """The recipe's part of the identity (flat form): `Recipe.identity()` without the path of a weights file
        identified by `weights_sha`, and for the eval protocol without the fields that only say how its test
        runs (EVAL_RUN_ONLY: batch size), which its config hash leaves out too."""
        from .protocols import PROTOCOLS
        from .recipe import EVAL_RUN_ONLY

        items = self.recipe.identity()
        if self.weights_by_sha:
            items.pop("weights", None)
        proto = PROTOCOLS.get(self.protocol)
        if proto is not None and proto.kind == "eval":
            for f in EVAL_RUN_ONLY:
                items.pop(f"stage3.{f}", None)
        return items

    @property
    def weights_by_sha(self) -> bool:
        """Whether the recipe names one weights file for all folds, identified by `weights_sha`."""
        from .foldweights import is_per_fold

        return bool(self.recipe.weights) and bool(self.weights_sha) and not is_per_fold(self.recipe.weights)

    @property
    def legacy_signature(self) -> str | None:
        """The signature this key had when the weights path and the eval protocol's batch size were part of the
        identity (None where it is the same): the store still finds results written under it."""
        old = hashlib.sha256(self.canonical_json(legacy=True).encode()).hexdigest()[:12]
        return None if old == self.signature else old

    def same_run(self, other: "RunKey") -> bool:
        """Whether `other` is the same run: the same identity (`canonical_json`), whatever runtime fields
        (progress, threads, memory switches) either carries; `==` compares those too."""
        return self.canonical_json() == other.canonical_json()

    # ----------------------------------------------------------------------------- (de)serialisation
    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["recipe"] = self.recipe.flat()
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "RunKey":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"RunKey.from_dict: unknown fields {sorted(unknown)}")
        return cls(**{k: d[k] for k in known if k in d})

    def replace(self, **changes) -> "RunKey":
        d = self.to_dict()
        d.update(changes)
        return RunKey.from_dict(d)

    def __str__(self) -> str:
        return self.name
