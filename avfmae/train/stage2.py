"""Stage 2 of progressive semantic injection: "hybrid intermediate" supervised training on a mix of labelled
emotion sets whose label spaces differ, starting from a stage-1 model. The paper does not publish this recipe;
docs/training.md explains the one implemented here and why.

label_mode "heads" (default): one linear head per source name on the shared fc_norm feature (sources given the
    same `name=` share a head, e.g. the train and test manifests of an external corpus). Every optimiser step draws
    one source (proportional to its size, or uniformly) for the whole global batch, so mixup / CutMix mix samples
    of one label space only, and the loss is that source's soft-target cross-entropy. The exported weights are the
    backbone (encoders, IAVCL, layer weights, fc_norm) without any head; stage 3 adds its own.
label_mode "shared": each source's labels are mapped (`map=` in the source) into one space of `shared_classes`
    classes (-1 drops a label), one head, ordinary mixed batches. The head can be exported too (`export_head`).

Everything else is the stage-3 recipe (layer decay, drop path, smoothing, mixup / CutMix, augmentation, warm-up +
cosine), with fewer epochs by default (30 in the paper preset).
"""
from __future__ import annotations

import re
import time

import numpy as np
import torch
from torch import nn

from avfmae import zoo
from avfmae.data.mixup import soft_target_cross_entropy

from .common import EpochLoss, build_cache, setup, to_device, write_json
from .clips import ClipSet
from .sampling import iterate_steps, mixture_keys, steps_per_epoch, uniform_keys
from .sources import load_entries, parse_source
from .export import export_weights
from .loop import TrainLoop
from .optim import build_optimizer
from .schedule import CosineSchedule, warmup_steps_for
from .stage3 import classification_step, make_mixup, train_aug


def _head_key(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]", "_", name)


class MultiHeadClassifier(nn.Module):
    """A fine-tune model without a head (`backbone`, num_classes 0) + one linear head per source. forward returns
    the concatenated logits of all heads (B, sum K); `slices[name]` says which columns belong to which head."""

    def __init__(self, backbone: nn.Module, heads: dict[str, int]):
        super().__init__()
        self.backbone = backbone
        self.cfg = backbone.cfg
        dim = 2 * backbone.cfg.embed_dim
        self.heads = nn.ModuleDict({_head_key(n): nn.Linear(dim, k) for n, k in heads.items()})
        self.slices, start = {}, 0
        for n, k in heads.items():
            self.slices[n] = (start, start + k)
            start += k

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        feature = self.backbone.forward_features(video, audio)
        return torch.cat([h(feature) for h in self.heads.values()], dim=-1)


def run_stage2(cfg, work_dir) -> dict:
    """Train on the mixture; returns {history, sources, export, steps, wall_s} (also <work_dir>/result.json)."""
    t0 = time.perf_counter()
    ctx = setup(cfg, work_dir)
    if not cfg.data:
        raise ValueError("stage 2 needs data=... (labelled sources; ';'-separated on the command line)")
    sources = [parse_source(s) for s in cfg.data]
    names = [s.name for s in sources]   # sources with the same name share one head (and must agree on its size)
    if any(s.regression for s in sources):
        raise ValueError("stage 2 mixes classification sets; regression sources are not supported")
    per_source = [load_entries([s]) for s in sources]
    for s, es in zip(sources, per_source):
        if isinstance(es[0].target, tuple):
            raise ValueError(f"{s.manifest}: regression targets; stage 2 mixes classification sets only")
    entries = [e.__class__(e.root, e.record, e.target, i) for i, es in enumerate(per_source) for e in es]
    classes = [s.num_classes or (1 + max(int(e.target) for e in es)) for s, es in zip(sources, per_source)]
    heads: dict[str, int] = {}
    for name, k in zip(names, classes):
        if heads.setdefault(name, k) != k:
            raise ValueError(f"sources named {name!r} share a head but have {heads[name]} and {k} classes; give "
                             "them distinct |name=... or the same label space (|map=... / |classes=...)")
    cache = build_cache(ctx, entries, "train", "s2-train")
    ds = ClipSet(entries, ctx.pcfg, "train", train_aug(cfg), cache, cfg.on_error)
    if cache is not None and len(ds) != len(entries):
        raise RuntimeError("stage 2 with cache and skipped clips: fix or remove the bad clips (the source offsets "
                           "would shift)")
    spe = steps_per_epoch(len(ds), ctx.layout)
    total = spe * cfg.epochs

    if cfg.label_mode == "heads":
        torch.manual_seed(cfg.seed)  # the init must not depend on what consumed the RNG before
        backbone = zoo.create_model(cfg.model, num_classes=0, weights=cfg.init, reset_head=True,
                                    drop_path_rate=cfg.drop_path)
        model = MultiHeadClassifier(backbone, heads).to(ctx.device)
        mixups = [make_mixup(cfg, k) for k in classes]
        weights = [len(es) * s.weight if cfg.sampling == "proportional" else s.weight
                   for s, es in zip(sources, per_source)]
        keys_fn = mixture_keys([len(es) for es in per_source], weights, ctx.layout, cfg.seed, total)

        def step_fn(m, batch, seed):
            video, audio = to_device(ctx, batch)
            target = batch["target"].to(ctx.device)
            src = int(batch["source"][0])
            lo, hi = model.slices[names[src]]
            mix = mixups[src]
            if mix is not None:
                video, audio, soft = mix(video, audio, target, rng=np.random.default_rng(seed))
                logits = m(video, audio)[:, lo:hi].float()
                loss = soft_target_cross_entropy(logits, soft)
            else:
                logits = m(video, audio)[:, lo:hi].float()
                loss = nn.functional.cross_entropy(logits, target, label_smoothing=cfg.smoothing)
            return loss, {"train_acc": float((logits.detach().argmax(-1) == target).float().mean())}
    else:
        torch.manual_seed(cfg.seed)  # the init must not depend on what consumed the RNG before
        model = zoo.create_model(cfg.model, num_classes=cfg.shared_classes, weights=cfg.init, reset_head=True,
                                 drop_path_rate=cfg.drop_path).to(ctx.device)
        bad = [s.name for s, k in zip(sources, classes) if k > cfg.shared_classes]
        if bad:
            raise ValueError(f"sources {bad} have labels outside the shared space of {cfg.shared_classes} classes; "
                             "map them with |map=...")
        keys_fn = uniform_keys(len(ds), ctx.layout, cfg.seed, spe)
        step_fn = classification_step(ctx, make_mixup(cfg, cfg.shared_classes), cfg.shared_classes, cfg.smoothing)

    optimizer = build_optimizer(model, ctx.lr(cfg.blr), cfg.weight_decay, cfg.betas, cfg.eps, cfg.layer_decay)
    schedule = CosineSchedule(ctx.lr(cfg.blr), ctx.lr(cfg.min_lr), total,
                              warmup_steps_for(cfg.warmup_epochs, cfg.warmup_steps, spe))
    tracked = EpochLoss(step_fn)

    def epoch_end(epoch, loop):
        row = {"epoch": epoch + 1, "step": loop.step, "train_loss": EpochLoss.mean(loop)}
        loop.extra.setdefault("history", []).append(row)
        return row

    loop = TrainLoop(cfg, model, ctx.info, ctx.work_dir, optimizer, schedule, total, spe,
                     lambda a, b: iterate_steps(ds, keys_fn, a, b, cfg.accum_steps, cfg.num_workers), tracked,
                     epoch_end, {"history": []})
    tracked.loop = loop
    extra = loop.run()
    result = {"stage": "stage2", "model": cfg.model, "init": cfg.init, "label_mode": cfg.label_mode,
              "sources": [{"name": s.name, "source": s.text, "clips": len(es), "classes": k}
                          for s, es, k in zip(sources, per_source, classes)],
              "history": extra.get("history", []), "steps": loop.step, "total_steps": total, "steps_per_epoch": spe,
              "global_batch": ctx.layout.global_batch, "lr": ctx.lr(cfg.blr), "work_dir": str(ctx.work_dir),
              "export": None}
    if ctx.info.is_main and cfg.label_mode == "heads":
        from safetensors.torch import save_file
        save_file({f"{k}.{p}": t.detach().cpu().contiguous() for k, h in model.heads.items()
                   for p, t in h.state_dict().items()}, str(ctx.work_dir / "heads.safetensors"),
                  metadata={"slices": str(model.slices)})
    if cfg.export_tag and ctx.info.is_main and loop.step >= total:
        if cfg.label_mode == "heads":
            rec = export_weights(model.backbone, cfg.model, cfg.export_tag, "finetune", "stage2", cfg.to_dict(),
                                 num_classes=0, parent=cfg.init, keep_head=False,
                                 extra={"sources": result["sources"]})
        else:
            keep = cfg.export_head
            rec = export_weights(model, cfg.model, cfg.export_tag, "finetune", "stage2", cfg.to_dict(),
                                 num_classes=cfg.shared_classes if keep else 0, parent=cfg.init, keep_head=keep,
                                 extra={"sources": result["sources"]})
        result["export"] = {"name": f"{cfg.model}.{rec.tag}", "path": str(rec.path()), "sha256": rec.sha256}
    result["wall_s"] = round(time.perf_counter() - t0, 2)
    write_json(ctx, "result.json", result)
    return result


__all__ = ["run_stage2", "MultiHeadClassifier"]
