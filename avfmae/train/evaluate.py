"""Score given weights on a test split without training: the official multi-view test of stage 3.

    result = evaluate_weights(cfg, work_dir)          # cfg: a Stage3Config with init= (the weights) and test=
    result["predictions"]["selected"] = {"clips": [...], "targets": [...], "probs": [[...], ...]}  # or "outputs"

The test path is stage 3's own (`common.eval_set(kind="test")` + `common.predict`): every test clip on all
segments x crops views of the model's input contract (2 temporal x 2 spatial), softmax per view averaged over the
views (regression: outputs averaged). The weights are a fine-tuned model's: its head is kept (never reset), and
its size is checked against the test split's class count (or regression targets) before any clip is read.
"""
from __future__ import annotations

import time

import torch

from avfmae import zoo
from avfmae.zoo.checkpoint import CheckpointError, head_outputs

from .common import eval_set, predict, scores, setup, write_json
from .sources import infer_num_classes, load_entries, parse_source


def check_head(path, expected: int, what: str, regression: bool) -> int:
    """The checkpoint's head size, checked against `expected`; raises CheckpointError naming the file."""
    have = head_outputs(path)
    unit = "regression outputs" if regression else "classes"
    if have is None:
        raise CheckpointError(f"{path}: no task head (head.weight): a pre-trained or backbone checkpoint, not a "
                              f"fine-tuned one. Scoring without training needs fine-tuned weights for {what} "
                              f"({expected} {unit}); fine-tune them first (the paper or clean protocol)")
    if have != expected:
        raise CheckpointError(f"{path}: the checkpoint's head has {have} {unit}, but {what} has {expected}. "
                              "Pass the weights fine-tuned on this dataset (per fold: --weights "
                              "'ckpts/name-{fold}.pth' or a fold -> path mapping file)")
    return have


def evaluate_weights(cfg, work_dir) -> dict:
    """Multi-view test of `cfg.init` on `cfg.test`. Returns (and writes <work_dir>/result.json):

    predictions   {"selected": P}, P as in run_stage3 (the one model scored)
    test          {"selected": {uar, war} or {ccc, ccc_k, mse}}
    num_classes, regression, views, test_clips, weights_sha256, config, wall_s
    """
    from .stage3 import _ACT, check_targets

    t0 = time.perf_counter()
    if not cfg.test:
        raise ValueError("evaluation needs test=... (a split manifest path: path/to/split.tsv[@ROOT])")
    if not cfg.init:
        raise ValueError("evaluation needs the weights to score: init=<zoo tag, file or hf:<repo>:<file>>")
    regression = cfg.task == "regression"
    test_src = parse_source(cfg.test)
    if test_src.regression and not regression:
        raise ValueError(f"source {test_src.text!r} has regression=1 but task={cfg.task}: set task=regression")
    path, record = zoo.resolve_weights(cfg.model, cfg.init)
    zoo.checkpoint.check_file(path)
    what = f"the test split {test_src.manifest} ({test_src.name})"
    expected = 0 if regression else (cfg.num_classes or test_src.num_classes)
    # a model of your own loads its weights itself (key names are its own); building it checks that forward
    # gives (B, classes) with them (avfmae.zoo.adapters), so the zoo's head.weight check is for zoo models only
    own = zoo.is_adapter_ref(cfg.model)
    if expected and not own:         # the class count is known from the config: check before reading anything
        check_head(path, expected, what, regression)
    entries = load_entries([test_src])
    if not expected:
        expected = len(entries[0].target) if regression else infer_num_classes(entries)
        if not own:
            check_head(path, expected, what, regression)
    check_targets(entries, expected, regression)

    ctx = setup(cfg, work_dir)
    torch.manual_seed(cfg.seed)
    model = zoo.create_model(cfg.model, num_classes=expected, weights=cfg.init, reset_head=False,
                             drop_path_rate=cfg.drop_path).to(ctx.device)
    head_act = cfg.head_activation or (record.provenance.get("head_activation") if record is not None else None)
    test_ds = eval_set(ctx, entries, "test", "s3-test")
    pred = predict(ctx, model, test_ds, regression, _ACT[head_act])
    result = {
        "stage": "eval", "model": cfg.model, "init": cfg.init, "weights_sha256": model.weights_sha256,
        "predictions": {"selected": pred}, "test": {"selected": scores(pred, regression)},
        "num_classes": expected, "regression": regression, "head_activation": head_act,
        "views": test_ds.cache.num_views if test_ds.cache else ctx.pcfg.num_views, "modalities": list(cfg.modalities),
        "test_clips": len(test_ds), "work_dir": str(ctx.work_dir), "config": cfg.to_dict(),
    }
    result["wall_s"] = round(time.perf_counter() - t0, 2)
    write_json(ctx, "result.json", result)
    return result


__all__ = ["evaluate_weights", "check_head"]
