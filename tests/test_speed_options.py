"""The memory/compute switches change no numbers: activation checkpointing and the optimizer stepped inside
backward give what the plain path (and torch's reference AdamW) gives."""
import copy

import torch

import zoo
from avfmae.train.optim import InBackwardAdamW, build_optimizer
from tests.test_models import _batch, _masks


def _step_inputs(model):
    v, a = _batch()
    ev, dv, ea, da = _masks(2, model.cfg)
    return v, ev, dv, a, ea, da


def _loss(model, args):
    return model.losses(model.forward_all(*args), *args).total


def test_activation_checkpointing_gives_the_same_loss_and_gradients():
    plain = zoo.create_model("avfmae-tiny", pretrain=True).train()
    ck = copy.deepcopy(plain).set_grad_checkpointing(True)
    assert ck.encoder.grad_checkpointing and ck.decoder_audio.grad_checkpointing and ck.encoder_fusion.grad_checkpointing
    args = _step_inputs(plain)
    lp, lc = _loss(plain, args), _loss(ck, args)
    lp.backward()
    lc.backward()
    torch.testing.assert_close(lc, lp, atol=1e-6, rtol=1e-6)
    grads = dict(ck.named_parameters())
    for name, p in plain.named_parameters():
        torch.testing.assert_close(grads[name].grad, p.grad, atol=1e-6, rtol=1e-5, msg=name)


def _saved_bytes(model, args) -> int:
    """Bytes of the activations autograd keeps for backward (parameters excluded)."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    kept = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params:
            kept[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        _loss(model, args)
    return sum(kept.values())


def test_fusion_checkpointing_keeps_fewer_activations():
    plain = zoo.create_model("avfmae-tiny", pretrain=True).train()
    fusion_only = copy.deepcopy(plain)
    fusion_only.encoder_fusion.grad_checkpointing = True
    args = _step_inputs(plain)
    before, after = _saved_bytes(plain, args), _saved_bytes(fusion_only, args)
    # the DiER units' activations (4 attentions + 4 MLPs per unit on every visible token) are no longer kept:
    # about 12 % of what the tiny model keeps (without checkpointing the two numbers are equal)
    assert after < 0.95 * before, (before, after)


def test_finetune_checkpointing_with_drop_path_replays_the_same_draws():
    plain = zoo.create_model("avfmae-tiny", num_classes=3, drop_path_rate=0.3).train()
    ck = copy.deepcopy(plain).set_grad_checkpointing(True)
    v, a = _batch()
    torch.manual_seed(5)
    lp = plain(v, a).logsumexp(-1).sum()
    torch.manual_seed(5)
    lc = ck(v, a).logsumexp(-1).sum()
    lp.backward()
    lc.backward()
    torch.testing.assert_close(lc, lp)
    grads = dict(ck.named_parameters())
    for name, p in plain.named_parameters():
        torch.testing.assert_close(grads[name].grad, p.grad, atol=1e-6, rtol=1e-5, msg=name)


def test_in_backward_adamw_equals_torch_reference_adamw():
    model = zoo.create_model("avfmae-tiny", pretrain=True).train()
    ref = copy.deepcopy(model)
    args = _step_inputs(model)
    opt = build_optimizer(model, lr=1e-3, weight_decay=0.05, betas=(0.9, 0.95), in_backward=True)
    assert isinstance(opt, InBackwardAdamW)
    # the reference: torch's plain for-loop AdamW over the same groups (no-decay for 1-D/bias/skip names)
    groups = build_optimizer(ref, lr=1e-3, weight_decay=0.05, betas=(0.9, 0.95)).param_groups
    ref_opt = torch.optim.AdamW([{"params": g["params"], "weight_decay": g["weight_decay"]} for g in groups],
                                lr=1e-3, betas=(0.9, 0.95), foreach=False)
    # one step (Adam amplifies float-rounding differences of later steps' near-zero gradients to lr size)
    for g in opt.param_groups:                               # a schedule walking the groups reaches every one
        g["lr"] = 5e-4 * g["lr_scale"]
    for g in ref_opt.param_groups:
        g["lr"] = 5e-4
    opt.zero_grad(set_to_none=True)
    _loss(model, args).backward()
    assert all(p.grad is None for p in model.parameters())   # stepped and freed inside backward
    opt.step()
    ref_opt.zero_grad(set_to_none=True)
    _loss(ref, args).backward()
    ref_opt.step()
    mine = dict(model.named_parameters())
    for name, p in ref.named_parameters():
        torch.testing.assert_close(mine[name], p, atol=1e-6, rtol=1e-5, msg=name)
    state = opt.state_dict()
    fresh = build_optimizer(copy.deepcopy(ref), lr=1e-3, weight_decay=0.05, betas=(0.9, 0.95), in_backward=True)
    fresh.load_state_dict(state)
    assert len(fresh.param_groups) == len(list(model.parameters()))


def test_video_target_at_kept_tokens_matches_a_numpy_reference():
    import numpy as np
    from avfmae.models.losses import IMAGENET_MEAN, IMAGENET_STD, video_target
    g = torch.Generator().manual_seed(3)
    b, t, h, w, p, tub = 2, 4, 32, 48, 16, 2
    video = torch.randn(b, 3, t, h, w, generator=g)
    n = (t // tub) * (h // p) * (w // p)
    keep = torch.zeros(b, n, dtype=torch.bool)
    for row in keep:
        row[torch.randperm(n, generator=g)[:5]] = True
    got = video_target(video, p, tub, True, keep=keep)
    x = video.numpy().astype(np.float64) * np.array(IMAGENET_STD)[:, None, None, None] \
        + np.array(IMAGENET_MEAN)[:, None, None, None]
    want = np.zeros((b, 5, tub * p * p * 3))
    for i in range(b):
        for j, tok in enumerate(np.flatnonzero(keep[i].numpy())):
            ti, rest = divmod(tok, (h // p) * (w // p))
            yi, xi = divmod(rest, w // p)
            cube = x[i, :, ti * tub:(ti + 1) * tub, yi * p:(yi + 1) * p, xi * p:(xi + 1) * p]   # c, f, y, x
            cube = cube.transpose(1, 2, 3, 0).reshape(tub, p * p, 3)
            flat = cube.reshape(-1, 3)
            cube = (cube - flat.mean(0)) / (flat.std(0, ddof=1) + 1e-6)
            cube[1:] = cube[1:] - cube[:1]
            want[i, j] = cube.reshape(-1)
    np.testing.assert_allclose(got.numpy(), want, atol=2e-5, rtol=1e-4)
    full = video_target(video, p, tub, True)
    torch.testing.assert_close(got, full[keep].reshape(b, 5, -1), atol=1e-6, rtol=1e-5)   # reduction order only


def test_stage1_memory_options_train_the_same_weights(tmp_path, monkeypatch):
    """The stage-1 config switches (activation checkpointing, AdamW inside backward) change memory, not numbers:
    a tiny run with both on ends at the plain run's weights (float rounding only)."""
    import torch

    from avfmae.train import run_stage1
    from train_fixtures import tiny_demo, tiny_stage1

    import avfmae.train.loop as loop

    data = tiny_demo()
    out = {}
    trims = []
    monkeypatch.setattr(loop, "release_free_memory", lambda: trims.append(1) or True)
    for name, opts in (("plain", {}), ("both", {"grad_checkpointing": True, "optimizer_in_backward": True,
                                                "release_memory": True})):
        cfg = tiny_stage1(data, max_steps=3, cache_dir=str(tmp_path / "cache"), export_tag=None, **opts)
        run_stage1(cfg, tmp_path / name)
        assert len(trims) == (3 if name == "both" else 0)   # once per optimiser step, only when asked
        ckpt = torch.load(tmp_path / name / "checkpoint.pt", map_location="cpu", weights_only=True)
        out[name] = ckpt["model"]
    assert out["plain"].keys() == out["both"].keys()
    # (an in-backward optimizer that never stepped would leave "both" at the shared seeded init, far from "plain")
    worst = max(float((out["plain"][k].float() - out["both"][k].float()).abs().max()) for k in out["plain"])
    assert worst < 1e-5, worst


def test_release_free_memory_returns_pages_to_the_os():
    """After freeing many small tensors (heap, not mmap: under glibc's 128 KiB threshold), trimming lowers the
    resident size; the expected drop is the freed bytes' order of magnitude, read from /proc."""
    import os
    import sys

    import pytest

    from avfmae.train.allocator import _malloc_trim, release_free_memory
    if _malloc_trim() is None or not sys.platform.startswith("linux"):
        pytest.skip("glibc malloc_trim not available")

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    keep = [bytearray(64 * 1024) for _ in range(4000)]    # ~250 MiB of 64 KiB blocks on the heap
    for b in keep:
        b[::4096] = b"x" * len(b[::4096])                 # touch every page
    del keep[:-1]                                         # free all but the last (it pins the heap top)
    before = rss()
    release_free_memory()
    assert before - rss() > 100 * 2**20, (before, rss())
