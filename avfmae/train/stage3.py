"""Stage 3: targeted fine-tuning on one dataset and fold, with per-epoch model selection and multi-view testing.

Recipe (spec 2.2; the "paper" preset): AdamW (0.9, 0.999), weight decay 0.05, layer-wise lr decay 0.75, drop path
0.1, label smoothing 0.1, mixup 0.8 / CutMix 1.0 (video only unless mix_audio), RandAugment, random resized crop,
flip, random erasing, 5 warm-up epochs then per-step cosine to min_lr. Regression heads (dimensional sets): MSE,
L1 or CCC loss, CCC as the validation metric.

Selection (`selection`):
    "test"  the official protocol: after every epoch the centre view of every TEST clip is scored and the best
            epoch (strictly better val_metric, acc1 = WAR by default, as the official code) is kept;
    "val"   the same on `val` (a manifest) or, without one, on `val_fraction` of the training subjects carved out
            (subject-independent, seeded): the clean protocol;
    "last"  the last epoch; no per-epoch validation unless `val` is given (it is then only logged).
Testing: the selected and the last model score every test clip on all segments x crops views (the model's input
contract: 2 x 2), softmax per view averaged over the views (regression: outputs averaged).

    result = run_stage3(cfg, work_dir)
    result["predictions"]["selected"] = {"clips": [...], "targets": [...], "probs": [[...], ...]}  # or "outputs"
"""
from __future__ import annotations

import logging
import time

import numpy as np
import torch
import torch.nn.functional as F

from avfmae import metrics, zoo
from avfmae.data.manifest import ManifestError
from avfmae.data.mixup import AVMixup, soft_target_cross_entropy

from . import checkpoint as ckpt
from .common import Context, EpochLoss, build_cache, eval_set, predict, scores, setup, to_device, write_json
from .clips import ClipSet, TrainAug
from .sampling import iterate_steps, steps_per_epoch, uniform_keys
from .sources import infer_num_classes, load_entries, parse_source, split_by_subject
from .export import export_weights
from .loop import TrainLoop
from .optim import build_optimizer, layer_ids
from .schedule import CosineSchedule, warmup_steps_for

log = logging.getLogger("avfmae.train")

_ACT = {None: None, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


def ccc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - mean over target dimensions of Lin's concordance correlation on the batch."""
    pm, tm = pred.mean(0), target.mean(0)
    pv, tv = pred.var(0, unbiased=False), target.var(0, unbiased=False)
    cov = ((pred - pm) * (target - tm)).mean(0)
    return 1.0 - (2 * cov / (pv + tv + (pm - tm) ** 2 + 1e-8)).mean()


def is_new_best(metric: str, value: float, best: dict | None) -> bool:
    """Whether an epoch's validation `value` replaces the kept `best` ({"epoch", "value"} or None): strictly
    better in the metric's direction (higher for uar/war/ccc, lower for mse/mae), so of equal epochs the earlier
    one is kept, as the official `if max_accuracy < acc1` rule."""
    return metrics.improves(metric, value, None if best is None else best["value"])


def regression_loss(name: str, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if name == "mse":
        return F.mse_loss(pred, target)
    if name == "l1":
        return F.l1_loss(pred, target)
    return ccc_loss(pred, target)


def train_aug(cfg) -> TrainAug:
    return TrainAug(kind="finetune", rand_augment=cfg.rand_augment, scale=tuple(cfg.rrc_scale), hflip=cfg.hflip,
                    reprob=cfg.reprob, gain=cfg.gain, freqm=cfg.freqm, timem=cfg.timem)


def make_mixup(cfg, num_classes: int) -> AVMixup | None:
    if cfg.mixup <= 0 and cfg.cutmix <= 0 or cfg.mixup_prob <= 0:
        return None
    return AVMixup(num_classes, cfg.mixup, cfg.cutmix, None, cfg.mixup_prob, cfg.mixup_switch_prob, cfg.smoothing,
                   cfg.mix_audio)


def classification_step(ctx: Context, mixup: AVMixup | None, num_classes: int, smoothing: float):
    """step_fn for single-head classification (stage 3, and stage 2 in the shared label space)."""
    def step_fn(m, batch, seed):
        video, audio = to_device(ctx, batch)
        target = batch["target"].to(ctx.device)
        if mixup is not None:
            video, audio, soft = mixup(video, audio, target, rng=np.random.default_rng(seed))
            logits = m(video, audio)
            loss = soft_target_cross_entropy(logits.float(), soft)
        else:
            logits = m(video, audio)
            loss = F.cross_entropy(logits.float(), target, label_smoothing=smoothing)
        acc = float((logits.detach().argmax(-1) == target).float().mean())
        return loss, {"train_acc": acc}
    return step_fn


def check_init_weights(model: str, weights) -> None:
    """Resolve the starting weights and check their file's container (seconds) before any long work."""
    if weights:
        path, _ = zoo.resolve_weights(model, weights)
        zoo.checkpoint.check_file(path)


def check_targets(entries, num_outputs: int, regression: bool) -> None:
    """Every (mapped) target fits the head: a class in 0..num_outputs-1, or num_outputs regression values.
    Raises ManifestError naming the clip's manifest and line."""
    for e in entries:
        r = e.record
        if regression:
            ok = isinstance(e.target, tuple) and len(e.target) == num_outputs
            want = f"{num_outputs} regression targets"
        else:
            ok = isinstance(e.target, int) and 0 <= e.target < num_outputs
            want = f"a class label in 0..{num_outputs - 1} (the head has {num_outputs} classes)"
        if not ok:
            raise ManifestError(r.manifest or "<records>", r.line, f"target {e.target!r} of clip {r.clip!r} is not "
                                f"{want}", "Fix the label, or set the class count (num_classes / classes=N) to "
                                "match the dataset")


def run_stage3(cfg, work_dir) -> dict:
    """Fine-tune, select, test. Returns a dict (also written to <work_dir>/result.json):

    epochs            [{"epoch", "step", "train_loss", "val": {metric: value}}] (val only on validated epochs)
    selection         "test" | "val" | "last";  metric: the validation metric name
    selected_epoch    1-based epoch of the selected model (the last epoch for "last")
    predictions       {"selected": P, "last": P}, P = {"clips", "targets", "probs" (classification; class
                      probabilities averaged over the test views) or "outputs" (regression)}
    test              {"selected": {uar, war} or {ccc, ccc_k, mse}, "last": {...}}
    num_classes, regression, views (per test clip), export ({"name", "path", "sha256"} or None), work_dir,
    config, steps, wall_s
    """
    t0 = time.perf_counter()
    if not cfg.train or not cfg.test:
        raise ValueError("stage 3 needs train=... and test=... (split manifest paths: path/to/split.tsv[@ROOT])")
    check_init_weights(cfg.model, cfg.init)  # a bad file fails now, not after the view caching
    ctx = setup(cfg, work_dir)
    regression = cfg.task == "regression"
    train_src, test_src = parse_source(cfg.train), parse_source(cfg.test)
    for src in (train_src, test_src):
        if src.regression and not regression:
            raise ValueError(f"source {src.text!r} has regression=1 but task={cfg.task}: set task=regression")
    train_entries, test_entries = load_entries([train_src]), load_entries([test_src])
    val_entries = load_entries([parse_source(cfg.val)]) if cfg.val else None
    if val_entries is None and cfg.selection == "val":
        train_entries, val_entries = split_by_subject(train_entries, cfg.val_fraction, cfg.seed)
    select_entries = test_entries if cfg.selection == "test" else val_entries
    if regression:
        num_outputs = len(train_entries[0].target)
    else:
        num_outputs = cfg.num_classes or train_src.num_classes or infer_num_classes(train_entries + test_entries)
    check_targets([*train_entries, *test_entries, *(val_entries or [])], num_outputs, regression)
    activation = _ACT[cfg.head_activation]

    cache = build_cache(ctx, train_entries, "train", "s3-train")
    ds = ClipSet(train_entries, ctx.pcfg, "train", train_aug(cfg), cache, cfg.on_error)
    select_ds = eval_set(ctx, select_entries, "centre", f"s3-{'test' if cfg.selection == 'test' else 'val'}-centre") \
        if select_entries else None
    spe = steps_per_epoch(len(ds), ctx.layout)
    total = spe * cfg.epochs

    torch.manual_seed(cfg.seed)  # the init must not depend on what consumed the RNG before
    model = zoo.create_model(cfg.model, num_classes=num_outputs, weights=cfg.init, reset_head=True,
                             drop_path_rate=cfg.drop_path).to(ctx.device)
    optimizer = build_optimizer(model, ctx.lr(cfg.blr), cfg.weight_decay, cfg.betas, cfg.eps, cfg.layer_decay)
    layer_decay_applied = cfg.layer_decay != 1.0 and layer_ids(model) is not None
    if cfg.layer_decay != 1.0 and not layer_decay_applied:
        log.warning("layer_decay=%s not applied: %s exposes no layer ids (num_layers and layer_id(name); see "
                    "avfmae.zoo.adapters); every parameter trains at the base lr", cfg.layer_decay, cfg.model)
    schedule = CosineSchedule(ctx.lr(cfg.blr), ctx.lr(cfg.min_lr), total,
                              warmup_steps_for(cfg.warmup_epochs, cfg.warmup_steps, spe))
    metric = cfg.metric_name

    if regression:
        def step_fn(m, batch, seed):
            video, audio = to_device(ctx, batch)
            out = m(video, audio).float()
            if activation is not None:
                out = activation(out)
            loss = regression_loss(cfg.loss_name, out, batch["target"].to(ctx.device))
            return loss, {}
    else:
        step_fn = classification_step(ctx, make_mixup(cfg, num_outputs), num_outputs, cfg.smoothing)

    tracked_step = EpochLoss(step_fn)

    best_path = ctx.work_dir / "best.pt"

    def epoch_end(epoch, loop):
        row = {"epoch": epoch + 1, "step": loop.step, "train_loss": EpochLoss.mean(loop)}
        last = loop.step >= loop.total_steps
        if select_ds is not None and (last or (cfg.eval_every and (epoch + 1) % cfg.eval_every == 0)):
            row["val"] = scores(predict(ctx, model, select_ds, regression, activation), regression, (metric,))
            value = row["val"].get(metric)
            if value is None:
                raise ValueError(f"validation metric {metric!r} not among {sorted(row['val'])}")
            best = loop.extra.get("best")
            if cfg.selection != "last" and is_new_best(metric, value, best):
                loop.extra["best"] = {"epoch": epoch + 1, "value": value}
                if ctx.info.is_main:
                    ckpt.atomic_save({"model": model.state_dict(), "epoch": epoch + 1}, best_path)
        loop.extra.setdefault("epochs", []).append(row)
        return {f"val_{k}": v for k, v in row.get("val", {}).items()} | {"train_loss": row["train_loss"]}

    loop = TrainLoop(cfg, model, ctx.info, ctx.work_dir, optimizer, schedule, total, spe,
                     lambda a, b: iterate_steps(ds, uniform_keys(len(ds), ctx.layout, cfg.seed, spe), a, b,
                                                 cfg.accum_steps, cfg.num_workers), tracked_step,
                     epoch_end, {"epochs": []})
    tracked_step.loop = loop
    extra = loop.run()

    test_ds = eval_set(ctx, test_entries, "test", "s3-test")
    preds = {"last": predict(ctx, model, test_ds, regression, activation)}
    selected_epoch = loop.step // spe
    best = extra.get("best")
    if cfg.selection != "last" and best is not None and best_path.is_file():
        selected_epoch = best["epoch"]
        if selected_epoch != loop.step // spe:
            last_state = {k: v.clone() for k, v in model.state_dict().items()}
            model.load_state_dict(torch.load(best_path, map_location="cpu", weights_only=True)["model"])
            preds["selected"] = predict(ctx, model, test_ds, regression, activation)
            selected_state = model.state_dict()
            model.load_state_dict(last_state)
        else:
            preds["selected"] = preds["last"]
            selected_state = None
    else:
        preds["selected"] = preds["last"]
        selected_state = None
    result = {
        "stage": "stage3", "model": cfg.model, "init": cfg.init, "selection": cfg.selection, "metric": metric,
        "selected_epoch": selected_epoch, "epochs": extra.get("epochs", []),
        "predictions": preds, "test": {k: scores(v, regression) for k, v in preds.items()},
        "num_classes": num_outputs, "regression": regression, "views": test_ds.cache.num_views if test_ds.cache
        else ctx.pcfg.num_views, "modalities": list(cfg.modalities), "steps": loop.step, "total_steps": total,
        "steps_per_epoch": spe, "global_batch": ctx.layout.global_batch, "lr": ctx.lr(cfg.blr),
        "train_clips": len(ds), "val_clips": len(val_entries) if val_entries else 0, "test_clips": len(test_ds),
        "work_dir": str(ctx.work_dir), "config": cfg.to_dict(), "export": None,
        "layer_decay_applied": layer_decay_applied,
        "skipped": {"train": list(ds.skipped), "test": preds["selected"].get("skipped", [])},
    }
    if cfg.export_tag and ctx.info.is_main and loop.step >= total:
        if selected_state is not None:
            model.load_state_dict(selected_state)
        rec = export_weights(model, cfg.model, cfg.export_tag, "finetune", "stage3", cfg.to_dict(),
                             num_classes=num_outputs, parent=cfg.init,
                             extra={"selected_epoch": selected_epoch, "test": result["test"]["selected"],
                                    "head_activation": cfg.head_activation, "modalities": list(cfg.modalities),
                                    "task": cfg.task, "labels": list(getattr(train_src, "labels", None) or ()) or None})
        result["export"] = {"name": f"{cfg.model}.{rec.tag}", "path": str(rec.path()), "sha256": rec.sha256}
    result["wall_s"] = round(time.perf_counter() - t0, 2)
    write_json(ctx, "result.json", result)
    return result


__all__ = ["run_stage3", "ccc_loss", "is_new_best", "regression_loss", "classification_step", "make_mixup", "train_aug"]
