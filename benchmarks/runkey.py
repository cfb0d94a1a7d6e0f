"""RunKey: the identity of one evaluation run, and nothing else.

model + weights sha, dataset @ revision, protocol @ version, fold, seed and overrides. Built from specs only (no
timestamps, no world size, no paths), so the same command gives the same key on a laptop and on the cluster, and
the result store can say "done" by looking for one file.

    key.name       avfmae-tiny@ab12cd/demo@3f2e1a/paper-v1/fold1/seed0[/lr=0.001,epochs=3]
                   readable; every '/'-separated part is filesystem safe
    key.slug       the same in one path component ('__' for '/'), for job names and file names
    key.signature  12 hex chars of sha256 over the canonical JSON of ``to_dict()``; the store's file name
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, fields
from typing import Any, Iterable, Mapping

_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+-]+")
_SCALARS = (str, int, float, bool, type(None))


def _freeze(value: Any, where: str) -> Any:
    """Overrides must be JSON values that hash: scalars, or tuples (from lists) of them."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v, where) for v in value)
    raise TypeError(f"override {where}: {type(value).__name__} is not a JSON scalar or list; "
                    "pass a str/int/float/bool/None or a list of them")


def _thaw(value: Any) -> Any:
    return [_thaw(v) for v in value] if isinstance(value, tuple) else value


def _safe(part: str) -> str:
    return _UNSAFE.sub("_", part).strip("_") or "_"


def _fmt(value: Any) -> str:
    if isinstance(value, tuple):
        return "+".join(_fmt(v) for v in value)
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    return str(value)


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
    overrides: tuple = ()       # sorted ((key, value), ...); a dict or pairs are accepted

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
        ov = self.overrides
        pairs: Iterable = ov.items() if isinstance(ov, Mapping) else (ov or ())
        norm = {}
        for pair in pairs:
            k, v = pair
            k = str(k)
            if k in norm:
                raise ValueError(f"override {k!r} given twice")
            norm[k] = _freeze(v, k)
        object.__setattr__(self, "overrides", tuple(sorted(norm.items())))

    # ----------------------------------------------------------------------------- names
    @property
    def overrides_dict(self) -> dict:
        return {k: _thaw(v) for k, v in self.overrides}

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
        if self.overrides:
            parts.append(_safe(",".join(f"{k}={_fmt(v)}" for k, v in self.overrides)))
        return "/".join(parts)

    @property
    def slug(self) -> str:
        return self.name.replace("/", "__")

    @property
    def signature(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:12]

    def canonical_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    # ----------------------------------------------------------------------------- (de)serialisation
    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["overrides"] = self.overrides_dict
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
