"""Resolution: a Recipe (benchmarks.recipe) for one model, dataset, fold and seed -> every stage config it runs.

`resolve` builds the configs with symbolic data names (dataset@revision:fold:split), so the identity and its
`config_hash` are the same on every machine; `Resolved.with_sources` swaps in the manifests to read when a job
runs. Unknown fields, bad values, presets a model lacks and unprepared corpora are RecipeErrors, raised when the
planner resolves (before anything is submitted).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping

from .recipe import EVAL_RUN_ONLY, PROBE_FIELDS, RUNTIME_FIELDS, Recipe, RecipeError, _thawed

# The eval protocol's config fields that can change a score (the rest of its stage-3-like config only says how
# to run: batch size, device, workers); `Resolved.identity` keeps these alone for an "eval" config.
EVAL_IDENTITY = ("model", "init", "test", "task", "num_classes", "modalities", "head_activation", "test_segments",
                 "test_crops", "amp", "on_error")


# The stage-3 fields an eval recipe may set: how the test runs (the identity fields among them still count).
EVAL_RUN_FIELDS = RUNTIME_FIELDS | EVAL_RUN_ONLY | {"amp", "on_error"}


# ------------------------------------------------------------------------------------------------ resolution
@dataclass(frozen=True)
class Resolved:
    """The stage configs one run uses (`stage1`/`stage2` only for pipeline recipes), and the model to fine-tune."""
    model: str
    configs: dict
    probe: dict
    tags: dict = dataclasses.field(default_factory=dict)   # stage -> zoo tag of a pipeline stage's weights
    adapter: dict = dataclasses.field(default_factory=dict)  # a model of your own: ref, source sha, input contract

    def identity(self) -> dict:
        """Every config field that can change a result (RUNTIME_FIELDS dropped)."""
        out = {s: {k: v for k, v in cfg.to_dict().items()
                   if k not in RUNTIME_FIELDS and (s != "eval" or k in EVAL_IDENTITY)}
               for s, cfg in self.configs.items()}
        if self.probe:
            out["probe"] = dict(self.probe)
        if self.adapter:
            out["adapter"] = dict(self.adapter)
        return out

    @property
    def config_hash(self) -> str:
        return config_hash(self.identity())

    def to_dict(self) -> dict:
        return {s: cfg.to_dict() for s, cfg in self.configs.items()} | ({"probe": dict(self.probe)} if self.probe
                                                                       else {}) \
            | ({"adapter": dict(self.adapter)} if self.adapter else {})

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
        return Resolved(self.model, out, self.probe, self.tags, self.adapter)


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


_NAMED = re.compile(r"^(?P<name>[A-Za-z0-9._-]+):(?P<fold>[^:|@/]+):(?P<split>train|val|test)$")
_SYMBOLIC = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)@(?P<rev>[0-9a-f]+):(?P<fold>[^:|]+):(?P<split>train|val|test)"
                       r"(?::first(?P<limit>[0-9]+))?$")


def _named_data(cfg, bucket: str):
    """A stage config whose `data` names registered datasets ("NAME:FOLD:SPLIT|opts") with those names made
    symbolic (dataset@revision:fold:split), like the run's own data. Raises RecipeError for an unknown or
    unprepared dataset."""
    from .datasets import registry

    out = []
    for text in cfg.data:
        head, *opts = text.split("|")
        m = _NAMED.match(head.strip())
        if m is None:
            out.append(text)
            continue
        try:
            spec = registry.get(m["name"])
        except KeyError as e:
            raise RecipeError(f"{bucket}.data: {e.args[0]}") from None
        if m["fold"] not in spec.folds:
            raise RecipeError(f"{bucket}.data {head!r}: {spec.name} has folds {', '.join(spec.folds)}")
        if not spec.is_prepared():
            raise RecipeError(f"{bucket}.data names {spec.name}, which is not prepared at {spec.path()} "
                              f"({registry.layout_of(spec.name)})")
        out.append("|".join([f"{spec.name}@{spec.revision()}:{m['fold']}:{m['split']}", *opts]))
    return cfg.replace(data=tuple(out))


def symbolic_heads(resolved: "Resolved") -> list[str]:
    """Every symbolic data name (dataset@revision:fold:split[:firstN]) the resolved configs read."""
    heads = []
    for cfg in resolved.configs.values():
        texts = [getattr(cfg, f, None) for f in ("train", "test", "val")] + list(getattr(cfg, "data", ()) or ())
        for text in texts:
            head = (text or "").split("|")[0]
            if _SYMBOLIC.match(head) and head not in heads:
                heads.append(head)
    return heads


def parse_symbolic(head: str) -> dict:
    """'demo@3f2e1a9b8c7d:fold1:train:first48' -> {name, rev, fold, split, limit}."""
    m = _SYMBOLIC.match(head)
    if m is None:
        raise ValueError(f"{head!r} is not a symbolic data name")
    return {**m.groupdict(), "limit": int(m["limit"] or 0)}


def _literal(value: Any) -> str:
    return repr(value) if isinstance(value, tuple) else str(value)


def derive_model(model: str, recipe: Recipe) -> str:
    """The zoo model (a derived ablation variant for arch.* changes) a run trains; checks the arch fields."""
    from avfmae import zoo

    if zoo.is_adapter_ref(model):
        if recipe.arch:
            raise RecipeError(f"arch.* changes are for AVF-MAE++ zoo models, not {model} (change your factory)")
        return model
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
    adapter = adapter_identity(model)
    if adapter and recipe.pipeline:
        raise RecipeError(f"stages={recipe.stages}: pre-training (stages 1/2) is for AVF-MAE++ zoo models; "
                          f"{model} fine-tunes from its own init or --weights (stages=3)")
    preset = recipe.preset or protocol.preset
    if protocol.kind == "probe":
        if recipe.pipeline or recipe.stage1 or recipe.stage2 or recipe.stage3:
            raise RecipeError(f"the {protocol.name} protocol trains no stages: drop stages/stageN.* from the recipe")
        return Resolved(derived, {}, {k: PROBE_FIELDS[k](v) for k, v in recipe.probe}, {}, adapter)
    if protocol.kind == "eval":
        return resolve_eval(derived, spec, seed, protocol, recipe, source, init, preset, adapter)
    if recipe.probe:
        raise RecipeError(f"probe.* keys apply to the probe protocol, not {protocol.name}")
    try:
        configs, tags = {}, {}
        if recipe.pipeline:
            s1 = stage_config("stage1", preset, model=derived, data=(source("train"),), seed=seed, init=init)
            configs["stage1"] = _named_data(_apply(s1, recipe.stage1, "stage1"), "stage1")
            tags["stage1"] = pipeline_tag("stage1", configs["stage1"])
            init = f"{derived}.{tags['stage1']}"
            if recipe.stages == "1+2+3":
                s2 = stage_config("stage2", preset, model=derived, data=(f"{source('train')}|name={spec.name}",),
                                  seed=seed, init=init)
                configs["stage2"] = _named_data(_apply(s2, recipe.stage2, "stage2"), "stage2")
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
    return Resolved(derived, configs, {}, tags, adapter)


def adapter_identity(model: str) -> dict:
    """{} for a zoo model; for a model of your own ("pkg.module:factory", avfmae.zoo.adapters) its import path,
    source sha256 and input contract, which go into the config hash (a changed source -> new run keys). Raises
    RecipeError when it does not import or breaks the contract."""
    from avfmae import zoo

    if not zoo.is_adapter_ref(model):
        return {}
    try:
        return zoo.load_adapter(model).identity()
    except zoo.AdapterError as e:
        raise RecipeError(str(e)) from None


def resolve_eval(derived: str, spec, seed: int, protocol, recipe: Recipe, source: Callable[[str], str],
                 init: str | None, preset: str, adapter: dict | None = None) -> Resolved:
    """The eval protocol's one config ("eval"): a stage-3 config whose test part (model, weights, test split,
    task, class count, modalities; the views are the model's input contract) is the identity; nothing trains."""
    from avfmae.train.config import stage_config

    training = [f"stage3.{k}" for k, _ in recipe.stage3 if k not in EVAL_RUN_FIELDS]
    if recipe.pipeline or recipe.stage1 or recipe.stage2 or recipe.probe or training:
        raise RecipeError(f"the {protocol.name} protocol trains nothing: drop stages/stage1.*/stage2.*/probe.* and "
                          f"training fields ({', '.join(training) or 'none'}) from the recipe; of the stage-3 fields "
                          f"it takes only how to run the test: {', '.join(sorted(EVAL_RUN_FIELDS))}")
    if not init:
        raise RecipeError(f"the {protocol.name} protocol scores given weights, and none were given: pass --weights "
                          "(a fine-tuned checkpoint file, a zoo tag, hf:<repo>:<file>, a per-fold pattern such as "
                          "'ckpts/mafw-{fold}.pth' or a fold -> path .json/.tsv) or a model with a weights tag "
                          "(avfmae-base.mytag)")
    try:
        cfg = stage_config("stage3", preset, model=derived, init=init, seed=seed, test=source("test"),
                           selection="last", task="regression" if spec.regression else "classification",
                           num_classes=spec.num_classes,
                           modalities=tuple(m for m in ("video", "audio") if m in spec.modalities))
    except (TypeError, ValueError) as e:
        raise RecipeError(str(e)) from None
    return Resolved(derived, {"eval": _apply(cfg, recipe.stage3, "stage3")}, {}, {}, adapter or {})


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


__all__ = ["Resolved", "resolve", "resolve_eval", "EVAL_IDENTITY", "derive_model", "pipeline_tag", "symbolic_source",
           "symbolic_heads", "parse_symbolic", "config_hash", "adapter_identity"]

