"""Recipe: what a run does beyond (model, weights, dataset, fold, seed, protocol), as typed, validated data.

A recipe is written flat, as `--set` items or a grid variant's dict:

    stages=1+2+3  preset=cpu  limit=48  weights=ckpt.pth  grid=masking
    arch.<AVFConfig field>=...       architecture change (an ablation variant, zoo.derive)
    stage1.<Stage1Config field>=...  stage2.<Stage2Config field>=...
    stage3.<Stage3Config field>=...  or the bare field name (epochs=5): stage-3 fine-tuning
    stage1.data / stage2.data         other corpora by dataset name, "NAME:FOLD:SPLIT[|name=..|map=..]" (a
                                      manifest path works too, but is not portable between machines)
    probe.C=... / probe.alpha=...    the probe protocol's regularisation

`Recipe.parse` checks every key and `benchmarks.resolve.resolve` builds every stage config the run will use, so a typo
(`arch.mask_ratio_vidoe`, `--set epoch=3`) or a bad value fails when the command is planned, naming the key and
the valid ones, before anything is submitted.

The resolved stage configs are the run's identity: `Resolved.config_hash` (a hash of every config field that can
change a result, with data sources written as dataset@revision:fold:split) goes into the RunKey, and the configs
themselves into the stored result. Editing a preset therefore makes new run keys instead of counting old results
as done.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

STAGES = ("3", "1+3", "1+2+3")
RUN_KEYS = ("stages", "preset", "limit", "weights", "grid")
BUCKETS = ("arch", "stage1", "stage2", "stage3", "probe")
PROBE_FIELDS = {"C": float, "alpha": float}
# Config fields that change how a run executes, never what it computes (resumable, deterministic training).
RUNTIME_FIELDS = frozenset({"grad_checkpointing", "optimizer_in_backward", "release_memory",
                            "progress", "tensorboard", "log_every", "num_workers", "cache_dir", "threads",
                            "checkpoint_every", "resume", "export_tag", "device", "cache", "dist_timeout_s"})

# Stage-3 fields that only say how the eval protocol's test runs (no training: the batch size changes nothing it
# computes); out of an eval run's identity and config hash (benchmarks.resolve.EVAL_IDENTITY, RunKey).
EVAL_RUN_ONLY = frozenset({"batch_size"})


class RecipeError(ValueError):
    """A recipe key or value that no stage, model or protocol accepts."""


def _frozen(value: Any, key: str) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v, key) for v in value)
    raise RecipeError(f"{key}: {type(value).__name__} is not a JSON scalar or list")


def _thawed(value: Any) -> Any:
    return [_thawed(v) for v in value] if isinstance(value, tuple) else value


def _fmt(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "+".join(_fmt(v) for v in value)
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    return str(value)


@dataclass(frozen=True)
class Recipe:
    stages: str = "3"             # "3": fine-tune the weights (or a random init); "1+3" / "1+2+3": pre-train first
    preset: str = ""              # stage preset (avfmae.train.config); "": the protocol's
    limit: int = 0                # > 0: only the first N clips of each split (quick looks)
    weights: str = ""             # weights reference of a model given without a tag ("": random init)
    grid: str = ""                # the ablation grid this run belongs to
    arch: tuple = ()              # ((field, value), ...) sorted, for each bucket
    stage1: tuple = ()
    stage2: tuple = ()
    stage3: tuple = ()
    probe: tuple = ()

    def __post_init__(self):
        if str(self.stages) not in STAGES:
            raise RecipeError(f"stages={self.stages!r}: must be one of {', '.join(STAGES)}")
        object.__setattr__(self, "stages", str(self.stages))
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 0:
            raise RecipeError(f"limit={self.limit!r}: must be a whole number >= 0")
        for b in BUCKETS:
            pairs = getattr(self, b)
            items = pairs.items() if isinstance(pairs, Mapping) else pairs
            object.__setattr__(self, b, tuple(sorted((str(k), _frozen(v, f"{b}.{k}")) for k, v in items)))
        for k, _ in self.probe:
            if k not in PROBE_FIELDS:
                raise RecipeError(f"probe.{k}: unknown; valid: {', '.join(f'probe.{f}' for f in PROBE_FIELDS)}")

    # ------------------------------------------------------------------------------------------ flat form
    @classmethod
    def parse(cls, items: Mapping[str, Any]) -> "Recipe":
        """From the flat form (`--set` items, a grid variant). Unknown top-level keys are checked against the
        stage-3 config here; bucket fields are checked by `resolve` (they need the model)."""
        top: dict[str, Any] = {}
        buckets: dict[str, dict] = {b: {} for b in BUCKETS}
        for key, value in items.items():
            key = str(key).strip()
            prefix, dot, rest = key.partition(".")
            if dot and prefix in BUCKETS:
                if not rest:
                    raise RecipeError(f"{key!r}: name a field after {prefix}.")
                buckets[prefix][rest.replace("-", "_")] = value
            elif dot:
                raise RecipeError(f"{key!r}: unknown prefix {prefix!r}; valid: " + ", ".join(f"{b}." for b in BUCKETS))
            elif key in RUN_KEYS:
                top[key] = value
            else:
                buckets["stage3"][key.replace("-", "_")] = value
        if "limit" in top:
            try:
                top["limit"] = int(top["limit"] or 0)
            except (TypeError, ValueError):
                raise RecipeError(f"limit={top['limit']!r}: must be a whole number") from None
        for k in ("preset", "weights", "grid"):
            if k in top:
                top[k] = "" if top[k] is None else str(top[k])
        return cls(**top, **{b: tuple(v.items()) for b, v in buckets.items()})

    def flat(self) -> dict:
        """The flat form of the non-default parts (inverse of `parse`); what run keys and tables show."""
        out: dict[str, Any] = {}
        for f in RUN_KEYS:
            value = getattr(self, f)
            if value != getattr(Recipe, f):
                out[f] = value
        for b in BUCKETS:
            for k, v in getattr(self, b):
                out[f"{b}.{k}"] = _thawed(v)
        return out

    def identity(self) -> dict:
        """`flat()` without the fields that only change how a run executes (RUNTIME_FIELDS: memory switches,
        threads, progress, ...): what a run key's signature and name are made of, so turning on activation
        checkpointing or another thread count does not make a finished run look missing."""
        return {k: v for k, v in self.flat().items() if "." not in k or k.split(".", 1)[1] not in RUNTIME_FIELDS}

    def with_items(self, items: Mapping[str, Any]) -> "Recipe":
        return Recipe.parse({**self.flat(), **items}) if items else self

    @property
    def pipeline(self) -> bool:
        return self.stages != "3"

    def label(self, hide: tuple = ("grid",), runtime: bool = True) -> str:
        """'stages=1+3,arch.fusion_depth=1' (non-defaults, in flat-key order), or ''; `runtime=False` leaves out
        the RUNTIME_FIELDS (see `identity`)."""
        items = self.flat() if runtime else self.identity()
        return ",".join(f"{k}={_fmt(v)}" for k, v in sorted(items.items()) if k not in hide)

    def variant(self) -> str:
        """How this run differs from a plain one, for tables: the label without grid, preset, limit, the
        stage-1/2 data (corpus names are long; the grid file says which) and fields that only change how it
        runs (threads, progress, ...)."""
        hidden = ("grid", "preset", "limit", "weights", "stage1.data", "stage2.data",
                  *(f"{b}.{f}" for b in ("stage1", "stage2", "stage3") for f in RUNTIME_FIELDS))
        label = self.label(hide=hidden)
        if self.grid and self.stages == "3":       # in a grid, say which arm trains from its init only
            label = ",".join(p for p in (label, "stages=3") if p)
        return label or "default"


def applicable(items: Mapping[str, Any]) -> dict:
    """Shared items (a grid's base, a suite's `--set`) for one arm: without the stage-1/2 keys of stages the
    arm's own `stages` does not run, so `stage1.epochs=1` given to a whole grid does not make a scratch arm
    pre-train (or fail). Everything else is kept, and still validated."""
    stages = str(items.get("stages", "3"))
    runs = {"stage1": stages in ("1+3", "1+2+3"), "stage2": stages == "1+2+3"}
    return {k: v for k, v in items.items() if runs.get(str(k).partition(".")[0], True)}


__all__ = ["Recipe", "RecipeError", "applicable", "EVAL_RUN_ONLY", "STAGES", "RUN_KEYS", "BUCKETS", "PROBE_FIELDS", "RUNTIME_FIELDS"]
