"""`python -m avfmae.speed`: model speed on whatever device is present.

Prints, for one model size (base by default):
- matmul peak FLOP/s measured now (the ceiling everything else is compared with),
- fine-tune forward (eval, no grad): clips/s, achieved FLOP/s and its fraction of the matmul peak,
- pre-train train step (forward + losses + backward + AdamW step, scripts' masks): clips/s, FLOP/s, fraction,
- peak memory of each (GPU: max allocated; CPU: process peak RSS),
- the speed-up over an official-style run of the same model in the same process (explicit softmax attention,
  every attention projection on every token, the last LG block in full, patch embedding of the whole clip and
  reconstruction targets of the whole clip in pre-training, torch's default AdamW), timed back to back in
  --pairs pairs.

How the baseline differs from the official code: it is OUR model run the official way, not the official
implementation. It shares our module structure (one matmul per projection, our LG-block reshapes, our losses
code, our masks), so it leaves out whatever else the official code spends (einops rearranges and copies in the
four LG attentions, per-call `.clone().detach()` of the position tables, its own target code); ratios here are
therefore a lower bound of the speed-up over the official code. The reference measurement is
`../shared/tools/official_side_by_side.py`, which runs the official AVF-MAE++ code (commit 7246ea2) in the same
process, alternating; its median of >= 7 pairs is the number to quote (docs/training.md, "Speed and memory").
`--grad-checkpointing` / `--in-backward` / `--release-memory` time the pre-train step with those memory options.
FLOPs are counted by torch's FlopCounterMode on the real modules (2 FLOPs per multiply-add). Timing reports the
median (and the best) of --iters runs after --warmup runs. Numbers only; nothing here asserts a speed.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import sys
import time

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from avfmae import zoo
from avfmae.models import pretrain as pretrain_module
from avfmae.models.layers import CrossAttention
from avfmae.models.lg_encoder import LGBlock
from avfmae.models.losses import video_target
from avfmae.models.masking import torch_dual_masks
from avfmae.train.allocator import release_free_memory
from avfmae.train.optim import build_optimizer, param_groups
from avfmae.train.stage1 import mask_generator


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _times(fn, device, warmup: int, iters: int) -> list[float]:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times


def matmul_peak(device: torch.device, dtype: torch.dtype, sizes: tuple[int, ...], iters: int) -> float:
    """The best FLOP/s of square matmuls over a few sizes (best of `iters` each): the machine's usable ceiling."""
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        t = min(_times(lambda: a @ b, device, 1, iters))
        best = max(best, 2 * n ** 3 / t)
    return best


def _count_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def _peak_memory(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB (max allocated)"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB (process peak RSS)"


def _measure(step, batch: int, peak: float, device, warmup: int, iters: int) -> dict:
    """FLOPs of one call (counted once), median and best time over `iters`, and what follows from them."""
    flops = _count_flops(step)
    times = _times(step, device, warmup, iters)
    t = statistics.median(times)
    return {"batch": batch, "clips_per_s": batch / t, "clips_per_s_best": batch / min(times),
            "gflop_per_clip": flops / batch / 1e9, "tflops": flops / t / 1e12,
            "fraction_of_matmul_peak": flops / t / peak, "fraction_of_matmul_peak_best": flops / min(times) / peak,
            "peak_memory": _peak_memory(device)}


def _speedup(ours, baseline, device, pairs: int) -> float:
    """Median over `pairs` of baseline time / our time, the two run back to back so machine drift cancels."""
    ratios = []
    for _ in range(pairs + 1):
        t_ours, t_base = _times(ours, device, 0, 1)[0], _times(baseline, device, 0, 1)[0]
        ratios.append(t_base / t_ours)
    return statistics.median(ratios[1:])     # the first pair warms the baseline up


@contextlib.contextmanager
def official_style(model: torch.nn.Module):
    """Run `model` the way the official code computes the same function: attention as explicit
    softmax(q k^T / sqrt(d)) v (SDPA's math backend is exactly that) with every projection on every token (no
    reassociated few-keys/few-queries order), the last LG block's MLP on the local tokens too, and, in
    pre-training, patch embedding of the whole clip before the visible tokens are picked. Used as the same-run
    baseline."""
    embeds = [m for m in model.modules() if hasattr(m, "embed_selected")]
    for m in embeds:
        m.embed_selected = (lambda x, keep, m=m: m(x)[keep].reshape(x.shape[0], -1, m.proj.out_channels))
    attentions = [m for m in model.modules() if isinstance(m, CrossAttention)]
    for m in attentions:
        m.plan = lambda n_queries, n_keys: "plain"
    blocks = [m for m in model.modules() if isinstance(m, LGBlock)]
    for m in blocks:
        m.forward = (lambda x, batch, regions_only=False, m=m: LGBlock.forward(m, x, batch))

    def full_clip_target(video, *args, keep=None, **kw):      # targets of every token, then the kept ones
        full = video_target(video, *args, **kw)
        return full if keep is None else full[keep].reshape(full.shape[0], -1, full.shape[-1])

    pretrain_module.video_target = full_clip_target
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        pretrain_module.video_target = video_target
        for m in embeds:
            del m.embed_selected
        for m in attentions:
            del m.plan
        for m in blocks:
            del m.forward


def _finetune(model_name: str, cfg, batch: int, g, device, autocast, peak: float, warmup: int, iters: int,
              pairs: int) -> dict:
    ft = zoo.create_model(model_name).to(device).eval()
    video = torch.randn(batch, 3, cfg.num_frames, cfg.img_size, cfg.img_size, generator=g).to(device)
    audio = torch.randn(batch, 1, *cfg.audio_size, generator=g).to(device)

    def step():
        with torch.no_grad(), autocast:
            ft(video, audio)

    def baseline():
        with official_style(ft):
            step()

    out = _measure(step, batch, peak, device, warmup, iters)
    if pairs:
        out["speedup_vs_official_style"] = _speedup(step, baseline, device, pairs)
    return out


def _pretrain(model_name: str, cfg, batch: int, g, device, autocast, peak: float, warmup: int, iters: int,
              pairs: int, grad_checkpointing: bool = False, in_backward: bool = False,
              release_memory: bool = False) -> dict:
    pt = zoo.create_model(model_name, pretrain=True).to(device).train().set_grad_checkpointing(grad_checkpointing)
    opt = build_optimizer(pt, lr=1e-4, weight_decay=0.05, betas=(0.9, 0.95),   # what stage 1 uses
                          in_backward=in_backward)
    video = torch.randn(batch, 3, cfg.num_frames, cfg.img_size, cfg.img_size, generator=g).to(device)
    audio = torch.randn(batch, 1, *cfg.audio_size, generator=g).to(device)
    m = torch_dual_masks(batch, g, cfg=mask_generator(cfg))   # the scripts' ratios, torch RNG
    args = (video, m["mask_video_encoder"].to(device), m["mask_video_decoder"].to(device), audio,
            m["mask_audio_encoder"].to(device), m["mask_audio_decoder"].to(device))

    def step(optimizer=opt):
        with autocast:
            out = pt.forward_all(*args)
            loss = pt.losses(out, *args).total
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if release_memory:
            release_free_memory()

    out = _measure(step, batch, peak, device, warmup, iters)
    if pairs:
        # the official scripts build a plain torch AdamW: torch's default implementation for the device
        groups = [{k: v for k, v in gr.items() if k != "names"} for gr in param_groups(pt, 0.05)]
        baseline_model = pt
        if in_backward:      # the hooks live on pt's parameters: the baseline gets its own copy
            baseline_model = zoo.create_model(model_name, pretrain=True).to(device).train()
            groups = [{k: v for k, v in gr.items() if k != "names"} for gr in param_groups(baseline_model, 0.05)]
        default_opt = torch.optim.AdamW(groups, lr=1e-4, betas=(0.9, 0.95))

        def baseline():
            baseline_model.set_grad_checkpointing(False)          # the official code keeps every activation
            with official_style(baseline_model), autocast:
                out = baseline_model.forward_all(*args)
                loss = baseline_model.losses(out, *args).total
            default_opt.zero_grad(set_to_none=True)
            loss.backward()
            default_opt.step()
            pt.set_grad_checkpointing(grad_checkpointing)

        out["speedup_vs_official_style"] = _speedup(step, baseline, device, pairs)
    return out


def run(model_name: str, device: torch.device, ft_batch: int, pt_batch: int, warmup: int, iters: int,
        dtype: torch.dtype, matmul_sizes: tuple[int, ...], pairs: int, grad_checkpointing: bool = False,
        in_backward: bool = False, release_memory: bool = False) -> dict:
    g = torch.Generator().manual_seed(0)
    cfg = zoo.get_spec(model_name).arch
    autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)
    results = {"model": model_name, "device": str(device), "dtype": str(dtype).removeprefix("torch."),
               "threads": torch.get_num_threads()}
    peak = matmul_peak(device, dtype, matmul_sizes, max(iters, 3))
    results["matmul_peak_tflops"] = peak / 1e12
    common = dict(g=g, device=device, autocast=autocast, peak=peak, warmup=warmup, iters=iters, pairs=pairs)
    results["finetune_forward"] = _finetune(model_name, cfg, ft_batch, **common)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    results["pretrain_step"] = _pretrain(model_name, cfg, pt_batch, **common, grad_checkpointing=grad_checkpointing,
                                         in_backward=in_backward, release_memory=release_memory)
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m avfmae.speed", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="avfmae-base", help="zoo model name (default avfmae-base)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                    help="cpu, cuda or cuda:N (default: cuda where available, else cpu)")
    ap.add_argument("--ft-batch", type=int, default=None, help="fine-tune batch (default: 2 on CPU, 32 on GPU)")
    ap.add_argument("--pt-batch", type=int, default=None, help="pre-train batch (default: 4 on CPU, 64 on GPU)")
    ap.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default=None,
                    help="compute dtype (default: float32 on CPU, bfloat16 autocast on GPU)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs per workload first (default 1)")
    ap.add_argument("--iters", type=int, default=5, help="timed runs per workload; the median is reported (default 5)")
    ap.add_argument("--pairs", type=int, default=3,
                    help="back-to-back runs of ours and the official-style baseline for the speed-up "
                         "(default 3; 0: skip)")
    ap.add_argument("--grad-checkpointing", action="store_true", help="pre-train step with activation checkpointing")
    ap.add_argument("--in-backward", action="store_true", help="pre-train step with AdamW stepped inside backward")
    ap.add_argument("--release-memory", action="store_true",
                    help="pre-train step returning the allocator's free pages after each step (stage option "
                         "release_memory)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    dtype = getattr(torch, args.dtype or ("bfloat16" if gpu else "float32"))
    res = run(args.model, device, args.ft_batch or (32 if gpu else 2), args.pt_batch or (64 if gpu else 4),
              args.warmup, args.iters, dtype, (4096, 8192) if gpu else (1024, 2048, 3072), args.pairs,
              args.grad_checkpointing, args.in_backward, args.release_memory)
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    print(f"{res['model']} on {res['device']} ({res['dtype']}, {res['threads']} threads); "
          f"matmul peak {res['matmul_peak_tflops'] * 1e3:.1f} GFLOP/s")
    for key, title in (("finetune_forward", "fine-tune forward"), ("pretrain_step", "pre-train train step")):
        r = res[key]
        print(f"  {title} batch {r['batch']}: {r['clips_per_s']:.2f} clips/s (best {r['clips_per_s_best']:.2f}), "
              f"{r['gflop_per_clip']:.1f} GFLOP/clip, {r['tflops'] * 1e3:.1f} GFLOP/s = "
              f"{r['fraction_of_matmul_peak']:.2f} of matmul peak (best {r['fraction_of_matmul_peak_best']:.2f}), "
              f"peak mem {r['peak_memory']}")
        if "speedup_vs_official_style" in r:
            print(f"    {r['speedup_vs_official_style']:.2f}x the official-style baseline run back to back "
                  f"(math attention, full-clip patch embedding and targets, default AdamW)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
