"""The one planner: which runs a command stands for, their keys, which are done, and which data is missing.

Every command that names runs (`run`, `grid`, `status`, the planning benchmark) builds a `Request` (a suite's or
a grid's, see `benchmarks.request`) and calls `plan(request)`; nothing else makes RunKeys. Planning validates
each recipe against the model and the stage configs (benchmarks.recipe), so a typo fails here, before anything
is submitted. It reads only split files (for dataset revisions) and the store's file names: planning the whole
`all` suite takes well under a second (`python -m benchmarks.speed_plan`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .datasets import registry
from .datasets.spec import DatasetSpec
from .foldweights import FoldWeightsError, fold_reference, identity_marker, is_per_fold
from .protocols import get_protocol
from .recipe import Recipe, RecipeError
from .resolve import resolve, symbolic_source
from .runkey import RunKey
from .store import ResultStore

PIPELINE_WEIGHTS = "pipeline"      # the weights identity of runs whose starting weights a pipeline trains


@dataclass(frozen=True)
class Request:
    """What a command asks for: models x recipes x datasets x folds x seeds under one protocol."""
    models: tuple[str, ...]
    datasets: tuple[str, ...]
    protocol: str = "paper"
    recipes: tuple[Recipe, ...] = (Recipe(),)
    folds: tuple[str, ...] | None = None
    seeds: tuple[int, ...] = (0,)
    label: str = ""                 # for messages: "suite demo", "grid masking"


@dataclass(frozen=True)
class PlannedRun:
    key: RunKey
    status: str                      # done | failed | missing (in the store)


@dataclass
class RunPlan:
    runs: list[PlannedRun] = field(default_factory=list)
    absent: list[tuple[DatasetSpec, Path]] = field(default_factory=list)   # data not prepared: expected path

    @property
    def keys(self) -> list[RunKey]:
        return [r.key for r in self.runs]

    @property
    def todo(self) -> list[RunKey]:
        return [r.key for r in self.runs if r.status != "done"]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.runs:
            out[r.status] = out.get(r.status, 0) + 1
        return out


def weights_sha(model: str, weights: str | None) -> str:
    """sha256 of the weights a run starts from ('' for random init), cached by path, size and mtime."""
    from avfmae import zoo
    from avfmae.zoo.weights import sha256_file, zoo_dir

    from avfmae.atomic import atomic_write_text

    name, tag = zoo.split_name(model)
    ref = tag or weights
    if not ref:
        return ""
    path, record = zoo.resolve_weights(name, ref)
    if record is not None:
        return record.sha256
    st = path.stat()
    cache_file = zoo_dir() / "sha_cache.json"
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, json.JSONDecodeError):
        cache = {}
    ident = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    if ident not in cache:
        cache[ident] = sha256_file(path)
        atomic_write_text(cache_file, json.dumps(cache))
    return cache[ident]


def per_fold(model: str, recipe: Recipe) -> bool:
    """Whether a run's weights are given per fold (a '{fold}' pattern or a mapping file; benchmarks.foldweights)."""
    return "." not in model and is_per_fold(recipe.weights)


def init_reference(model: str, recipe: Recipe, fold: str | None = None) -> str | None:
    """The weights a run starts from, as the training configs name them: the model's tag, the recipe's
    weights (the fold's own for per-fold weights), or None (random init)."""
    from avfmae import zoo

    base, tag = zoo.split_name(model)
    if tag:
        return f"{base}.{tag}"
    if fold is not None and per_fold(model, recipe):
        return fold_reference(recipe.weights, fold)
    return recipe.weights or None


def identity_init(model: str, recipe: Recipe, sha: str) -> str | None:
    """How the identity names the starting weights: by their sha (a path differs between machines); per-fold
    weights by a marker (each fold's sha is its RunKey's weights_sha), so all folds share one config hash."""
    if per_fold(model, recipe):
        return identity_marker(recipe.weights)
    return f"weights:{sha[:16]}" if init_reference(model, recipe) else None


def fold_weights_sha(model: str, recipe: Recipe, fold: str) -> str:
    """sha256 of one fold's weights of a per-fold reference; a RecipeError naming the fold and the path expected
    when they are missing."""
    ref = recipe.weights
    try:
        one = fold_reference(ref, fold)
    except FoldWeightsError as e:
        raise RecipeError(f"weights for fold {fold}: {e}") from None
    try:
        return weights_sha(model, one)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        raise RecipeError(f"weights for fold {fold}: expected at {one} (from {ref!r}), not found: {e}") from None


FOLD, SEED = "{fold}", 0        # the template a config hash is taken on: the fold and seed are key fields


def template_hash(model: str, spec: DatasetSpec, revision: str, protocol, recipe: Recipe, init: str | None,
                  where: str = "") -> str:
    """The config hash of a (model, recipe, dataset @ revision, protocol): the stage configs resolved for a
    template fold and seed (the fold and the seed are RunKey fields of their own), so every fold and seed of one
    recipe shares it, and a table row can group them. Raises RecipeError naming the model, recipe and dataset."""
    try:
        return resolve(model, spec, FOLD, SEED, protocol, recipe, symbolic_source(spec, revision, FOLD, recipe.limit),
                       init).config_hash
    except RecipeError as e:
        raise RecipeError(f"{where + ': ' if where else ''}{model} [{recipe.label() or 'default recipe'}] on "
                          f"{spec.name}: {e}") from None


def check_adapter(model: str, spec: DatasetSpec, recipe: Recipe, outputs: int, where: str = "",
                  fold: str | None = None) -> None:
    """A model of your own ("pkg.module:factory", avfmae.zoo.adapters): build it with `outputs` head outputs
    (0 for the probe protocol) and its weights (per-fold weights: `fold`'s file), and run one dummy batch at its
    input contract, so a broken factory fails at planning, not in a job."""
    from avfmae import zoo

    try:
        zoo.create_model(model, num_classes=outputs, weights=init_reference(model, recipe, fold))
    except (zoo.AdapterError, FileNotFoundError) as e:
        raise RecipeError(f"{where + ': ' if where else ''}{model} on {spec.name}: {e}") from None


def plan(request: Request, store: ResultStore | None = None, data_root: Path | None = None) -> RunPlan:
    """Run keys for the request; absent datasets are listed, not run. Raises RecipeError (naming the model,
    the recipe and the key) when a recipe does not resolve."""
    store = store or ResultStore()
    proto = get_protocol(request.protocol)
    out = RunPlan()
    check_folds(request)
    specs = []
    for name in request.datasets:
        spec = registry.get(name)
        if spec.is_prepared(data_root):
            specs.append((spec, spec.revision(data_root)))
        elif (spec, spec.path(data_root)) not in out.absent:
            out.absent.append((spec, spec.path(data_root)))
    shas: dict[tuple, str] = {}
    checked: set[tuple] = set()
    to_check: dict[tuple, tuple] = {}    # eval weights to open, once per file and head size
    for model in dict.fromkeys(request.models):      # a name or seed given twice is planned once
        for recipe in dict.fromkeys(request.recipes):
            fold_wise = per_fold(model, recipe)      # then each fold's sha goes into its own key
            if not fold_wise and (model, recipe.weights) not in shas:
                shas[model, recipe.weights] = single_weights_sha(model, recipe, request.label)
            sha = "" if fold_wise else (shas[model, recipe.weights] or (PIPELINE_WEIGHTS if recipe.pipeline else ""))
            for spec, revision in specs:
                config_hash = template_hash(model, spec, revision, proto, recipe, identity_init(model, recipe, sha),
                                            request.label)
                outputs = 0 if proto.kind == "probe" else (len(spec.labels) if spec.regression else spec.num_classes)
                folds = list(spec.folds) if not request.folds else [f for f in spec.folds if f in request.folds]
                if ":" in model and folds and (model, recipe.weights, outputs) not in checked:
                    if fold_wise:        # the first fold's file exists (else its sha names it as missing)
                        fold_weights_sha(model, recipe, folds[0])
                    check_adapter(model, spec, recipe, outputs, request.label, folds[0] if fold_wise else None)
                    checked.add((model, recipe.weights, outputs))
                for fold in folds:
                    fsha = sha
                    if fold_wise:
                        if (model, recipe.weights, fold) not in shas:
                            shas[model, recipe.weights, fold] = fold_weights_sha(model, recipe, fold)
                        fsha = shas[model, recipe.weights, fold]
                    for seed in dict.fromkeys(int(s) for s in request.seeds):
                        key = RunKey(model=model, weights_sha=fsha[:16], dataset=spec.name,
                                     dataset_revision=revision, protocol=proto.name, protocol_version=proto.version,
                                     fold=fold, seed=int(seed), recipe=recipe, config_hash=config_hash)
                        out.runs.append(PlannedRun(key, store.status(key)))
                        if proto.kind == "eval" and out.runs[-1].status != "done" and ":" not in model:
                            to_check.setdefault((fsha, outputs), (model, recipe, spec, fold, outputs))
    for args in to_check.values():       # after every file was found: a missing one is named first
        check_eval_weights(*args, where=request.label)
    return out


def check_folds(request: Request) -> None:
    """Every fold the request names is a fold of one of its datasets: a RecipeError listing the valid names
    otherwise (a name that matches nothing planned no run, and the command ended '0 runs')."""
    if not request.folds:
        return
    specs = [registry.get(name) for name in request.datasets]
    unknown = [f for f in request.folds if not any(str(f) in spec.folds for spec in specs)]
    if unknown:
        valid = "; ".join(f"{spec.name}: {', '.join(spec.folds[:6])}{' ...' if len(spec.folds) > 6 else ''}"
                          for spec in specs)
        raise RecipeError(f"{request.label + ': ' if request.label else ''}--folds {' '.join(map(str, unknown))}: "
                          f"no such fold (the folds are {valid})")


def single_weights_sha(model: str, recipe: Recipe, where: str = "") -> str:
    """`weights_sha` of a run's one weights reference (a tag, a file, hf:...); a RecipeError naming the reference
    and what to pass when it names nothing."""
    try:
        return weights_sha(model, recipe.weights or None)
    except (FileNotFoundError, ValueError, RuntimeError, OSError) as e:
        raise RecipeError(f"{where + ': ' if where else ''}{e}") from None


def check_eval_weights(model: str, recipe: Recipe, spec: DatasetSpec, fold: str, outputs: int, where: str = "") -> None:
    """The eval protocol scores a checkpoint as it is: its file must be whole and safe to read, its head must
    have the dataset's class count (regression: targets), and its keys must fit the model (names and shapes,
    checked on a meta-device model: nothing is allocated). Checked when the command is planned, once per file,
    so a pre-trained (headless) file, another task's head or a corrupt or unsafe file stops the command before
    any job is submitted (`avfmae.train.evaluate` checks again before reading clips)."""
    from avfmae import zoo
    from avfmae.train.evaluate import check_head
    from avfmae.zoo.checkpoint import CheckpointError, check_file

    from .resolve import derive_model

    ref = init_reference(model, recipe, fold)
    try:
        path, _ = zoo.resolve_weights(zoo.split_name(model)[0], ref)
        check_file(path)
        check_head(path, outputs, f"dataset {spec.name} ({spec.title})", spec.regression)
        zoo.check_weights(derive_model(model, recipe), str(path), num_classes=outputs)   # key names and shapes
    except (CheckpointError, FileNotFoundError) as e:
        per = f" for fold {fold}" if per_fold(model, recipe) else ""
        raise RecipeError(f"{where + ': ' if where else ''}{model} on {spec.name}: weights{per}: {e}") from None
