"""Recipe: what a run does beyond (model, weights, dataset, fold, seed, protocol), as typed, validated data.

A recipe is written flat, as `--set` items or a grid variant's dict:

    stages=1+2+3  preset=cpu  limit=48  weights=ckpt.pth  grid=masking
    arch.<AVFConfig field>=...       architecture change (an ablation variant, zoo.derive)
    stage1.<Stage1Config field>=...  stage2.<Stage2Config field>=...
    stage3.<Stage3Config field>=...  or the bare field name (epochs=5): stage-3 fine-tuning
    probe.C=... / probe.alpha=...    the probe protocol's regularisation

`Recipe.parse` checks every key and `resolve` builds every stage config the run will use, so a typo
(`arch.mask_ratio_vidoe`, `--set epoch=3`) or a bad value fails when the command is planned, naming the key and
the valid ones, before anything is submitted.

The resolved stage configs are the run's identity: `Resolved.config_hash` (a hash of every config field that can
change a result, with data sources written as dataset@revision:fold:split) goes into the RunKey, and the configs
themselves into the stored result. Editing a preset therefore makes new run keys instead of counting old results
as done.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping

STAGES = ("3", "1+3", "1+2+3")
RUN_KEYS = ("stages", "preset", "limit", "weights", "grid")
BUCKETS = ("arch", "stage1", "stage2", "stage3", "probe")
PROBE_FIELDS = {"C": float, "alpha": float}
# Config fields that change how a run executes, never what it computes (resumable, deterministic training).
RUNTIME_FIELDS = frozenset({"progress", "tensorboard", "log_every", "num_workers", "cache_dir", "threads",
                            "checkpoint_every", "resume", "export_tag", "device", "cache", "dist_timeout_s"})


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

    def with_items(self, items: Mapping[str, Any]) -> "Recipe":
        return Recipe.parse({**self.flat(), **items}) if items else self

    @property
    def pipeline(self) -> bool:
        return self.stages != "3"

    def label(self, hide: tuple = ("grid",)) -> str:
        """'stages=1+3,arch.fusion_depth=1' (non-defaults, in flat-key order), or ''."""
        return ",".join(f"{k}={_fmt(v)}" for k, v in sorted(self.flat().items()) if k not in hide)

    def variant(self) -> str:
        """How this run differs from a plain one, for tables: the label without grid, preset and limit."""
        return self.label(hide=("grid", "preset", "limit", "weights")) or "default"


# ------------------------------------------------------------------------------------------------ resolution
@dataclass(frozen=True)
class Resolved:
    """The stage configs one run uses (`stage1`/`stage2` only for pipeline recipes), and the model to fine-tune."""
    model: str
    configs: dict
    probe: dict
    tags: dict = dataclasses.field(default_factory=dict)   # stage -> zoo tag of a pipeline stage's weights

    def identity(self) -> dict:
        """Every config field that can change a result (RUNTIME_FIELDS dropped)."""
        out = {s: {k: v for k, v in cfg.to_dict().items() if k not in RUNTIME_FIELDS}
               for s, cfg in self.configs.items()}
        if self.probe:
            out["probe"] = dict(self.probe)
        return out

    @property
    def config_hash(self) -> str:
        return config_hash(self.identity())

    def to_dict(self) -> dict:
        return {s: cfg.to_dict() for s, cfg in self.configs.items()} | ({"probe": dict(self.probe)} if self.probe
                                                                       else {})

    def with_sources(self, real: Mapping[str, str], init: tuple[str | None, str | None] = (None, None)
                     ) -> "Resolved":
        """The same configs with each symbolic data name replaced by the data to read (`real[symbolic]`) and the
        symbolic starting weights `init[0]` by the reference to load `init[1]`, for running; pipeline tags and
        the identity stay those of the symbolic configs."""
        def swap(text: str) -> str:
            head, *opts = text.split("|")
            if head not in real:
                return text
            target, *own = real[head].split("|")
            merged = dict(o.split("=", 1) for o in own + opts)      # the recipe's options win
            return "|".join([target, *(f"{k}={v}" for k, v in merged.items())])

        out = {}
        for stage, cfg in self.configs.items():
            changes = {}
            for f in ("train", "test", "val"):
                if getattr(cfg, f, None):
                    changes[f] = swap(getattr(cfg, f))
            if getattr(cfg, "data", None):
                changes["data"] = tuple(swap(t) for t in cfg.data)
            if init[0] is not None and cfg.init == init[0]:
                changes["init"] = init[1]
            out[stage] = cfg.replace(**changes)
        return Resolved(self.model, out, self.probe, self.tags)


def config_hash(identity: Mapping) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _apply(cfg, pairs: tuple, bucket: str):
    """cfg with the bucket's (field, value) pairs applied; an unknown field names the valid ones."""
    from avfmae.train.config import apply_overrides

    names = {f.name for f in fields(cfg)}
    for k, _ in pairs:
        if k not in names:
            close = sorted(n for n in names if k in n or n in k) or sorted(names)
            raise RecipeError(f"{bucket}.{k}: not a {type(cfg).__name__} field; "
                              + ("did you mean " if len(close) < len(names) else "valid: ")
                              + ", ".join(f"{bucket}.{n}" for n in close))
    try:
        return apply_overrides(cfg, [f"{k}={'none' if v is None else _literal(v)}" for k, v in pairs])
    except (TypeError, ValueError) as e:
        raise RecipeError(f"{bucket}: {e}") from None


def _literal(value: Any) -> str:
    return repr(value) if isinstance(value, tuple) else str(value)


def derive_model(model: str, recipe: Recipe) -> str:
    """The zoo model (a derived ablation variant for arch.* changes) a run trains; checks the arch fields."""
    from avfmae import zoo

    base, _, tag = model.partition(".")
    if not recipe.arch:
        return base
    arch = zoo.get_spec(base).arch
    names = {f.name for f in fields(arch)}
    for k, _ in recipe.arch:
        if k not in names:
            close = sorted(n for n in names if k[:6] in n) or sorted(names)
            raise RecipeError(f"arch.{k}: not a field of {base}'s architecture ({type(arch).__name__}); "
                              + ("did you mean " if len(close) < len(names) else "valid: ")
                              + ", ".join(f"arch.{n}" for n in close))
    try:
        return zoo.derive(base, **{k: _thawed(v) for k, v in recipe.arch})
    except (TypeError, ValueError) as e:
        raise RecipeError(f"arch: {e}") from None


def resolve(model: str, spec, fold: str, seed: int, protocol, recipe: Recipe, source: Callable[[str], str],
            init: str | None) -> Resolved:
    """Every stage config of one run. `source(split)` names the data of a split symbolically (see
    `symbolic_source`; `Resolved.with_sources` swaps in the manifests to read); `init` is the weights stage 1
    (or stage 3 without a pipeline) starts from."""
    from avfmae.train.config import stage_config

    derived = derive_model(model, recipe)
    preset = recipe.preset or protocol.preset
    if protocol.kind == "probe":
        if recipe.pipeline or recipe.stage1 or recipe.stage2 or recipe.stage3:
            raise RecipeError(f"the {protocol.name} protocol trains no stages: drop stages/stageN.* from the recipe")
        return Resolved(derived, {}, {k: PROBE_FIELDS[k](v) for k, v in recipe.probe})
    if recipe.probe:
        raise RecipeError(f"probe.* keys apply to the probe protocol, not {protocol.name}")
    try:
        configs, tags = {}, {}
        if recipe.pipeline:
            s1 = stage_config("stage1", preset, model=derived, data=(source("train"),), seed=seed, init=init)
            configs["stage1"] = _apply(s1, recipe.stage1, "stage1")
            tags["stage1"] = pipeline_tag("stage1", configs["stage1"])
            init = f"{derived}.{tags['stage1']}"
            if recipe.stages == "1+2+3":
                s2 = stage_config("stage2", preset, model=derived, data=(f"{source('train')}|name={spec.name}",),
                                  seed=seed, init=init)
                configs["stage2"] = _apply(s2, recipe.stage2, "stage2")
                tags["stage2"] = pipeline_tag("stage2", configs["stage2"])
                init = f"{derived}.{tags['stage2']}"
        elif recipe.stage1 or recipe.stage2:
            raise RecipeError("stage1.* / stage2.* keys need stages=1+3 or 1+2+3")
        s3 = dict(model=derived, init=init, seed=seed, train=source("train"), test=source("test"),
                  selection=protocol.selection, task="regression" if spec.regression else "classification",
                  num_classes=spec.num_classes, modalities=tuple(m for m in ("video", "audio") if m in spec.modalities))
        if protocol.selection == "val" and spec.validation == "val":
            s3["val"] = source("val")
        configs["stage3"] = _apply(stage_config("stage3", preset, **s3), recipe.stage3, "stage3")
    except RecipeError:
        raise
    except (TypeError, ValueError) as e:   # a preset that does not exist for this model, a bad value
        raise RecipeError(str(e)) from None
    return Resolved(derived, configs, {}, tags)


def pipeline_tag(stage: str, cfg) -> str:
    """The zoo tag of a pipeline stage's exported weights: the hash of its identity and architecture, so every
    run (and every process) that needs the same pre-training finds the same weights."""
    from avfmae import zoo

    ident = {k: v for k, v in cfg.to_dict().items() if k not in RUNTIME_FIELDS}
    sig = config_hash({"stage": stage, "cfg": ident, "arch": zoo.get_spec(cfg.model).arch_hash})
    return f"s{stage[-1]}-{sig}"


def symbolic_source(spec, revision: str, fold: str, limit: int = 0) -> Callable[[str], str]:
    """Split names for the identity: 'demo@3f2e1a9b8c7d:fold1:train' (plus ':first48' under a limit)."""
    return lambda split: f"{spec.name}@{revision}:{fold}:{split}" + (f":first{limit}" if limit else "")


__all__ = ["Recipe", "RecipeError", "Resolved", "resolve", "derive_model", "pipeline_tag", "symbolic_source",
           "config_hash", "STAGES", "RUNTIME_FIELDS"]

