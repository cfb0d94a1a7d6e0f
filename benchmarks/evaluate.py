"""One run: (model, weights, dataset, fold, seed, protocol, recipe) -> scores in the result store.

This is the function the executors call with a RunKey, in process, in a local worker or in a SLURM job. It
re-derives everything from the key (the stage configs, checked against the key's config hash), resumes from the run's own checkpoint (its work dir is keyed by the run's
signature) and returns the result dict the store keeps.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from avfmae import metrics as M
from .clip_predictions import stored_predictions
from .datasets import registry
from .plan import fold_weights_sha, identity_init, init_reference, per_fold, template_hash
from .preflight import check_writable
from .protocols import get_protocol
from .recipe import RecipeError
from .resolve import Resolved, parse_symbolic, resolve, symbolic_heads, symbolic_source
from .runkey import RunKey
from .store import ResultStore


def _limited_source(spec, fold: str, split: str, limit: int, work: Path) -> str:
    """A manifest of the first `limit` clips of a split (for quick looks), as a training source string."""
    from avfmae.data.manifest import read_manifest, write_manifest

    records = read_manifest(spec.split_file(fold, split))
    out = write_manifest(work / "limited" / f"{split}.tsv", records[:limit])
    return spec.split_source(fold, split).replace(f"{spec.split_file(fold, split)}@", f"{out}@", 1)


def resolve_key(key: RunKey, work: Path) -> Resolved:
    """The stage configs of a planned run, re-derived from its key alone (in whatever process runs it), checked
    against the key's config hash, with the data and weights to read swapped in."""
    spec = registry.get(key.dataset)
    proto = get_protocol(key.protocol)
    recipe = key.recipe
    revision = spec.revision()
    if revision != key.dataset_revision:
        raise RecipeError(f"{key.name}: the split files of {spec.name} changed since the run was planned "
                          f"(revision {revision}, planned on {key.dataset_revision}); plan again (re-run the command)")
    ident_init = identity_init(key.model, recipe, key.weights_sha)
    now = template_hash(key.model, spec, key.dataset_revision, proto, recipe, ident_init)
    if now != key.config_hash:
        raise RecipeError(f"{key.name}: its stage configs resolve to {now} now but were planned as "
                          f"{key.config_hash} (a preset or a config default changed since); plan again (re-run the "
                          "command): the new configs get a new run key")
    if per_fold(key.model, recipe) and fold_weights_sha(key.model, recipe, key.fold)[:16] != key.weights_sha:
        raise RecipeError(f"{key.name}: the weights of {key.fold} ({init_reference(key.model, recipe, key.fold)}) "
                          f"changed since the run was planned (sha {key.weights_sha}); plan again (re-run the "
                          "command): the new file gets a new run key")
    symbolic = symbolic_source(spec, key.dataset_revision, key.fold, recipe.limit)
    resolved = resolve(key.model, spec, key.fold, key.seed, proto, recipe, symbolic, ident_init)

    real = {}
    for head in symbolic_heads(resolved):        # the run's own splits, and other corpora the recipe names
        part = parse_symbolic(head)
        named = registry.get(part["name"])
        real[head] = (_limited_source(named, part["fold"], part["split"], part["limit"], work) if part["limit"]
                      else named.split_source(part["fold"], part["split"]))
    return resolved.with_sources(real, (ident_init, init_reference(key.model, recipe, key.fold)))


def score(spec, clip_ids, targets, scores) -> tuple[dict, list | None]:
    """The dataset's metrics on one fold's test predictions (percent), plus the confusion matrix. Outputs that
    are not finite (a NaN in the weights, an fp16 overflow) are an error naming the clips: argmax over NaN picks
    class 0, which would be stored as a plausible-looking score."""
    bad = [c for c, row in zip(clip_ids, np.asarray(scores, dtype=float).reshape(len(clip_ids), -1))
           if not np.isfinite(row).all()]
    if bad:
        raise ValueError(f"{spec.name}: the model's outputs are not finite (NaN or inf) for {len(bad)} of "
                         f"{len(clip_ids)} test clips (first: {', '.join(map(str, bad[:5]))}); no score is stored. "
                         "Check the weights for NaNs, or run the test without amp")
    groups = M.group_ids(clip_ids, spec.group_pattern) if spec.group_pattern else None
    if spec.regression:
        out = M.compute(spec.metrics, np.asarray(targets), np.asarray(scores), groups=groups, targets=spec.labels)
        return out, None
    out = M.compute(spec.metrics, np.asarray(targets), np.asarray(scores), groups=groups,
                    num_classes=spec.num_classes, with_confusion=True)
    confusion = out.pop("confusion", None)
    return out, confusion


def _columns(p: dict) -> tuple:
    """A prediction set (clips, targets, probs | outputs) -> (clip ids, targets, scores)."""
    return p["clips"], p["targets"], p["probs"] if "probs" in p else p["outputs"]


def evaluate_run(key: RunKey) -> dict:
    """Run one key to completion and return its result (the executor's job wrapper stores it)."""
    store = ResultStore()
    check_writable(store)     # a read-only store, work or zoo folder fails here, before any training
    work = store.work_dir(key)
    spec = registry.get(key.dataset)
    proto = get_protocol(key.protocol)
    t0 = time.time()
    resolved = resolve_key(key, work)
    if proto.kind == "probe":
        from .probe import run_probe
        pred = run_probe(key, resolved, work)
    elif proto.kind == "eval":
        from avfmae.train import evaluate_weights
        pred = evaluate_weights(resolved.configs["eval"], work)
    else:
        from avfmae.train import run_stage3

        from .pipeline import train_starting_weights
        train_starting_weights(resolved, store)
        cfg = resolved.configs["stage3"]
        if cfg.cache and not cfg.cache_dir:   # every arm and fold on the same split decodes its views once
            cfg = cfg.replace(cache_dir=str(store.view_cache_dir()))
        pred = run_stage3(cfg, work)
    preds = pred["predictions"]
    scores, confusion = score(spec, *_columns(preds["selected"]))
    result = {"scores": scores, "confusion": confusion, "timings": {"total_s": round(time.time() - t0, 2)},
              "selected_epoch": pred.get("selected_epoch"), "n_test": len(preds["selected"]["clips"]),
              "protocol": {"name": proto.name, "version": proto.version, "selection": proto.selection,
                           "description": proto.description},
              "config_hash": key.config_hash, "configs": resolved.to_dict()}
    result["predictions"] = stored_predictions(spec, key.fold, *_columns(preds["selected"]))
    skipped = [{"split": split, **clip} for split, clips in (pred.get("skipped") or {}).items() for clip in clips]
    result["skipped"] = skipped      # clips left out under on_error=skip: clip, file, reason (manifest line)
    if "last" in preds and preds["last"] is not preds["selected"]:
        result["scores_last"], _ = score(spec, *_columns(preds["last"]))
    if pred.get("epochs"):
        result["history"] = pred["epochs"]
    return result
