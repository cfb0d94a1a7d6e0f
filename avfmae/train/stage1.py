"""Stage 1: self-supervised audio-visual pre-training (spec 1.5-1.7, 2.1).

Per step and micro-batch: one random temporal window per clip (GroupMultiScaleCrop, random audio gain), the four
dual masks (video tube + running cell, audio random + random, ratios from the model's AVFConfig) drawn from the
micro-batch's own generator, the pre-train model's forward, and L = L_video + L_audio + w * sum_taps HCMCL with
in-batch (per-process) negatives, as the official code. AdamW (0.9, 0.95), lr = blr x global batch / 256, warm-up
then per-step cosine to min_lr, weight decay 0.05 (no decay for 1-D tensors, biases, positional and mask tokens).

Held-out check (`eval_data`): the masked reconstruction losses of the centre view of every held-out clip, with
masks fixed by a seed, before training and after every `eval_every` epochs, so "pre-training lowers the
reconstruction loss" is measured on clips the model never trained on. Each clip's masks are drawn from a generator
seeded by (seed, clip id), so the reconstruction losses do not depend on the process count or the batch size (the
contrastive term uses in-batch negatives, so it does depend on how the clips are batched).
"""
from __future__ import annotations

import time
import types
import zlib

import torch

from avfmae import zoo
from avfmae.models.masking import DualMaskGenerator, torch_dual_masks

from .common import Context, build_cache, eval_set, setup, write_json
from .clips import ClipSet, TrainAug
from .sampling import iterate_steps, steps_per_epoch, uniform_keys
from .shardsource import ShardStage1, is_shards
from .sources import SourceError, load_entries, parse_source
from .export import export_weights
from .loop import TrainLoop
from .optim import build_optimizer
from .schedule import CosineSchedule, warmup_steps_for


def mask_generator(arch) -> DualMaskGenerator:
    return DualMaskGenerator(video_grid=arch.video_grid, audio_grid=arch.audio_grid,
                             video_ratio=arch.mask_ratio_video, video_decoder_ratio=arch.decoder_mask_ratio_video,
                             audio_ratio=arch.mask_ratio_audio, audio_decoder_ratio=arch.decoder_mask_ratio_audio)


def pretrain_losses(model, video, audio, masks: dict):
    """Forward through `model` (possibly DDP-wrapped: its official forward) and the pre-training losses."""
    args = (video, masks["mask_video_encoder"], masks["mask_video_decoder"], audio, masks["mask_audio_encoder"],
            masks["mask_audio_decoder"])
    recon_video, recon_audio, logits_v2a, _ = model(*args)
    module = getattr(model, "module", model)
    out = types.SimpleNamespace(recon_video=recon_video, recon_audio=recon_audio, logits_v2a=logits_v2a)
    return module.losses(out, *args)


def clip_masks(clips, seed: int, gen: DualMaskGenerator) -> dict:
    """The four masks of each clip from a generator seeded by (seed, clip id): independent of batching."""
    per = [torch_dual_masks(1, torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(str(c).encode())),
                            cfg=gen) for c in clips]
    return {key: torch.cat([p[key] for p in per]) for key in per[0]}


@torch.no_grad()
def evaluate_reconstruction(ctx: Context, model, ds: ClipSet, seed: int = 1234) -> dict:
    """Mean held-out losses (video, audio reconstruction; contrastive per tap summed) with fixed masks."""
    from .sampling import eval_batches
    module = getattr(model, "module", model)
    was = module.training
    module.eval()
    gen = mask_generator(module.cfg)
    # token-weighted sums (loss x weight, weight) so that the means are over every held-out token, whatever the
    # batching: the number of loss tokens per clip varies with its masks
    sums = torch.zeros(6, dtype=torch.float64)     # video num, video den, audio num, audio den, contrastive, clips
    for batch in eval_batches(ds, ctx.cfg.batch_size, ctx.info.rank, ctx.info.world_size):
        b = batch["video"].shape[0]
        masks = {key: m.to(ctx.device) for key, m in clip_masks(batch["clip"], seed, gen).items()}
        losses = pretrain_losses(module, batch["video"].to(ctx.device), batch["audio"].to(ctx.device), masks)
        wv, wa = float(losses.weight_video.sum()), float(losses.weight_audio.sum())
        sums += torch.tensor([float(losses.video) * wv, wv, float(losses.audio) * wa, wa,
                              float(losses.contrastive_sum) * b, b], dtype=torch.float64)
    from .distributed import all_reduce_sum
    t = all_reduce_sum(ctx.info, sums).tolist()
    if was:
        module.train()
    video, audio = t[0] / max(t[1], 1e-12), t[2] / max(t[3], 1e-12)
    return {"recon_video": video, "recon_audio": audio, "recon": video + audio, "contrastive": t[4] / max(t[5], 1)}


def run_stage1(cfg, work_dir) -> dict:
    """Pre-train `cfg.model` on `cfg.data`; returns {history, eval_before, eval_after, export, steps, wall_s}."""
    t0 = time.perf_counter()
    ctx = setup(cfg, work_dir)
    if not cfg.data:
        raise ValueError("stage 1 needs data=... (unlabelled sources: split manifest paths, or one shards:DIR)")
    aug = TrainAug(kind="pretrain" if cfg.multiscale_crop else "none", gain=cfg.gain)
    shards = None
    if any(is_shards(s) for s in tuple(cfg.data) + tuple(cfg.eval_data)):
        if len(cfg.data) != 1 or not is_shards(cfg.data[0]) or any(is_shards(s) for s in cfg.eval_data):
            raise SourceError(f"data={tuple(cfg.data)!r}, eval_data={tuple(cfg.eval_data)!r}: a shards source "
                              "(shards:DIR) stands alone in data (not mixed with manifest sources), and eval_data "
                              "takes split manifests only")
        shards = ShardStage1(cfg, ctx, cfg.data[0], aug)
    else:
        entries = load_entries([parse_source(s) for s in cfg.data], drop_labels=True)
        cache = build_cache(ctx, entries, "train", "s1-train")
        ds = ClipSet(entries, ctx.pcfg, "train", aug, cache, cfg.on_error)
    eval_ds = None
    if cfg.eval_data:
        eval_ds = eval_set(ctx, load_entries([parse_source(s) for s in cfg.eval_data], drop_labels=True), "centre",
                           "s1-eval")
    spe = shards.spe if shards is not None else steps_per_epoch(len(ds), ctx.layout)
    total = spe * cfg.epochs
    torch.manual_seed(cfg.seed)  # the init must not depend on what consumed the RNG before
    model = zoo.create_model(cfg.model, pretrain=True, weights=cfg.init).to(ctx.device)
    model.set_grad_checkpointing(cfg.grad_checkpointing)
    if cfg.optimizer_in_backward and ctx.info.world_size > 1:
        raise ValueError("optimizer_in_backward would step before DDP averages the gradients: turn it off for "
                         f"{ctx.info.world_size} processes")
    optimizer = build_optimizer(model, ctx.lr(cfg.blr), cfg.weight_decay, cfg.betas, cfg.eps,
                                in_backward=cfg.optimizer_in_backward)
    schedule = CosineSchedule(ctx.lr(cfg.blr), ctx.lr(cfg.min_lr), total,
                              warmup_steps_for(cfg.warmup_epochs, cfg.warmup_steps, spe))
    gen = mask_generator(model.cfg)

    def step_fn(m, batch, seed):
        g = torch.Generator().manual_seed(seed)
        masks = {k: v.to(ctx.device) for k, v in torch_dual_masks(batch["video"].shape[0], g, cfg=gen).items()}
        losses = pretrain_losses(m, batch["video"].to(ctx.device), batch["audio"].to(ctx.device), masks)
        return losses.total, {"recon_video": float(losses.video.detach()), "recon_audio": float(losses.audio.detach()),
                              "contrastive": float(losses.contrastive_sum.detach())}

    extra = {"history": []}

    def epoch_end(epoch, loop):
        row = {"epoch": epoch + 1, "step": loop.step}
        if eval_ds is not None and cfg.eval_every and (epoch + 1) % cfg.eval_every == 0:
            row.update({f"eval_{k}": v for k, v in evaluate_reconstruction(ctx, model, eval_ds).items()})
        loop.extra["history"].append(row)
        return row

    if shards is not None:
        def batches(a, b):
            return shards.batches(a, b, loop.extra)
    else:
        def batches(a, b):
            return iterate_steps(ds, uniform_keys(len(ds), ctx.layout, cfg.seed, spe), a, b, cfg.accum_steps,
                                 cfg.num_workers)
    loop = TrainLoop(cfg, model, ctx.info, ctx.work_dir, optimizer, schedule, total, spe, batches, step_fn,
                     epoch_end, extra)
    resumed = loop.maybe_resume()
    if shards is not None and resumed:
        shards.check_resume(loop.extra, loop.checkpoint_path)
    if eval_ds is not None and "eval_before" not in loop.extra and not resumed:
        loop.extra["eval_before"] = evaluate_reconstruction(ctx, model, eval_ds)
    extra = loop.run()
    result = {"stage": "stage1", "model": cfg.model, "steps": loop.step, "total_steps": total,
              "shards": str(shards.folder) if shards is not None else None,
              "steps_per_epoch": spe, "global_batch": ctx.layout.global_batch, "lr": ctx.lr(cfg.blr),
              "history": extra.get("history", []), "eval_before": extra.get("eval_before"),
              "eval_after": evaluate_reconstruction(ctx, model, eval_ds) if eval_ds is not None else None,
              "work_dir": str(ctx.work_dir), "export": None}
    if cfg.export_tag and ctx.info.is_main and loop.step >= total:
        rec = export_weights(model, cfg.model, cfg.export_tag, "pretrain", "stage1", cfg.to_dict(), parent=cfg.init,
                             extra={"eval_before": result["eval_before"], "eval_after": result["eval_after"]})
        result["export"] = {"name": f"{cfg.model}.{rec.tag}", "path": str(rec.path()), "sha256": rec.sha256}
    result["wall_s"] = round(time.perf_counter() - t0, 2)
    write_json(ctx, "result.json", result)
    return result


__all__ = ["run_stage1", "evaluate_reconstruction", "pretrain_losses", "mask_generator"]
