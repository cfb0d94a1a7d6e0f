"""HiCMAE baseline: equal to the official code (tiny golden), checkpoint-compatible with hicmae-base (manifests)."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from avfmae.conformance.hicmae import is_hicmae_golden, produce_hicmae
from avfmae.conformance.model import tolerance_for
from avfmae.conformance.report import compare
from avfmae.models.hicmae import (HiCMAEClassifier, HiCMAEConfig, HiCMAEPretrain, hicmae_from_official_kwargs,
                                  hicmae_to_official_kwargs)

MODELS = {"finetune": HiCMAEClassifier, "pretrain": HiCMAEPretrain}
FINETUNE_ONLY = {"video_layer_weights", "audio_layer_weights", "fc_norm.weight", "fc_norm.bias", "head.weight",
                 "head.bias"}
PRETRAIN_ONLY_PREFIXES = ("decoder.", "decoder_audio.", "encoder_to_decoder.", "encoder_to_decoder_audio.",
                          "mask_token", "mask_token_audio")


# ---- reference fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def golden_dir(ref_dir):
    return ref_dir / "golden" / "hicmae-tiny"


@pytest.fixture(scope="module")
def golden_config(golden_dir):
    return json.loads((golden_dir / "config.json").read_text())


def _manifest(ref_dir, kind: str) -> dict:
    return json.loads((ref_dir / "manifests" / f"hicmae-base.{kind}.json").read_text())


def _meta_model(kind: str, cfg: HiCMAEConfig):
    with torch.device("meta"):
        return MODELS[kind](cfg)


# ---- golden: numerical equality with the official code -----------------------------------------------------------
@pytest.mark.golden
def test_golden_every_output_matches(golden_dir, golden_config):
    assert is_hicmae_golden(golden_config)
    golden = load_file(str(golden_dir / "outputs.safetensors"))
    ours = produce_hicmae(golden_dir)
    assert set(ours) == set(golden), (sorted(set(golden) - set(ours)), sorted(set(ours) - set(golden)))
    assert len(golden) == 82
    results = []
    for key in sorted(golden):
        g, mine = golden[key], ours[key]
        results.append(compare(key, mine, g, **tolerance_for(key, g)))
    failed = [r.line() for r in results if not r.ok]
    assert not failed, "\n".join(failed)


@pytest.mark.golden
def test_golden_is_not_confused_with_avfmae(ref_dir):
    avf = json.loads((ref_dir / "golden" / "avfmae-tiny" / "config.json").read_text())
    assert not is_hicmae_golden(avf)


@pytest.mark.golden
@pytest.mark.parametrize("kind", ["finetune", "pretrain"])
def test_golden_state_dict_order_and_strict_load(golden_dir, golden_config, kind):
    kwargs = golden_config["constructor_kwargs"]
    cfg = hicmae_from_official_kwargs(kwargs["pretrain"], kwargs["finetune"])
    model = MODELS[kind](cfg)
    assert list(model.state_dict()) == golden_config["state_dict_order"][kind]
    count_key = {"finetune": "fine_tune_params", "pretrain": "pretrain_params"}[kind]
    assert sum(p.numel() for p in model.parameters()) == golden_config["model"][count_key]
    model.load_state_dict(load_file(str(golden_dir / f"{kind}_state_dict.safetensors")), strict=True)


# ---- manifests: checkpoint compatibility of the full-size model ---------------------------------------------------
@pytest.mark.golden
@pytest.mark.parametrize("kind", ["finetune", "pretrain"])
def test_base_matches_manifest(ref_dir, kind):
    man = _manifest(ref_dir, kind)
    cfg = hicmae_from_official_kwargs(**{kind: man["constructor_kwargs"]})
    model = _meta_model(kind, cfg)
    ours = [[name, list(t.shape), str(t.dtype).removeprefix("torch.")] for name, t in model.state_dict().items()]
    assert ours == man["state_dict"]                       # names, shapes, dtypes and the official order
    assert len(ours) == man["num_state_dict_entries"]
    total = sum(p.numel() for p in model.parameters())
    assert total == man["total_params"] == {"finetune": 80_802_847, "pretrain": 99_609_344}[kind]
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == man["trainable_params"]
    params = dict(model.named_parameters())
    buffers = sum(t.numel() for name, t in model.state_dict().items() if name not in params)
    assert buffers == man["buffer_elements"]                # 0: no persistent buffers, tables are not saved
    by_top: dict[str, int] = {}
    for name, p in model.named_parameters():
        by_top[name.split(".")[0]] = by_top.get(name.split(".")[0], 0) + p.numel()
    assert by_top == {k: v for k, v in man["params_by_top_module"].items() if v}


@pytest.mark.golden
@pytest.mark.parametrize("kind", ["finetune", "pretrain"])
def test_base_strict_load_of_manifest_shaped_state_dict(ref_dir, kind):
    man = _manifest(ref_dir, kind)
    cfg = hicmae_from_official_kwargs(**{kind: man["constructor_kwargs"]})
    model = _meta_model(kind, cfg)
    state = {name: torch.empty(shape, dtype=getattr(torch, dtype), device="meta")
             for name, shape, dtype in man["state_dict"]}
    model.load_state_dict(state, strict=True, assign=True)
    missing = dict(state)
    missing.pop(man["state_dict"][-1][0])
    with pytest.raises(RuntimeError, match="Missing key"):
        _meta_model(kind, cfg).load_state_dict(missing, strict=True, assign=True)
    bad = dict(state)
    name, shape, _ = man["state_dict"][-1]
    bad[name] = torch.empty([s + 1 for s in shape], device="meta")
    with pytest.raises(RuntimeError, match="size mismatch"):
        _meta_model(kind, cfg).load_state_dict(bad, strict=True, assign=True)


@pytest.mark.golden
def test_default_config_is_hicmae_base(ref_dir):
    cfg = hicmae_from_official_kwargs(_manifest(ref_dir, "pretrain")["constructor_kwargs"],
                                      _manifest(ref_dir, "finetune")["constructor_kwargs"])
    assert cfg == HiCMAEConfig()


@pytest.mark.golden
def test_official_kwargs_round_trip(ref_dir, golden_config):
    ours = hicmae_to_official_kwargs(HiCMAEConfig())
    for kind in ("pretrain", "finetune"):
        assert ours[kind] == _manifest(ref_dir, kind)["constructor_kwargs"]
    tiny = golden_config["constructor_kwargs"]
    cfg = hicmae_from_official_kwargs(tiny["pretrain"], tiny["finetune"])
    assert hicmae_to_official_kwargs(cfg) == {"pretrain": tiny["pretrain"], "finetune": tiny["finetune"]}
    assert hicmae_from_official_kwargs(**hicmae_to_official_kwargs(SMALL)) == SMALL


# ---- behaviour on a small random model (no reference data needed) -------------------------------------------------
SMALL = HiCMAEConfig(img_size=32, num_frames=4, audio_size=(32, 64), embed_dim=16, num_heads=2, depth=3,
                     depth_audio=2, fusion_depth=2, fusion_heads=2, num_classes=3, decoder_dim=8, decoder_heads=2,
                     decoder_depth=3, taps=(0, 1))


def _inputs(batch: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    video = torch.randn(batch, 3, SMALL.num_frames, SMALL.img_size, SMALL.img_size, generator=g)
    audio = torch.randn(batch, 1, *SMALL.audio_size, generator=g)
    mask_v = torch.zeros(batch, SMALL.num_video_tokens, dtype=torch.bool)
    mask_a = torch.zeros(batch, SMALL.num_audio_tokens, dtype=torch.bool)
    for b in range(batch):
        mask_v[b, torch.randperm(SMALL.num_video_tokens, generator=g)[:5]] = True
        mask_a[b, torch.randperm(SMALL.num_audio_tokens, generator=g)[:6]] = True
    return video, mask_v, audio, mask_a


def test_pretrain_shapes_losses_and_gradients():
    torch.manual_seed(0)
    model = HiCMAEPretrain(SMALL)
    video, mask_v, audio, mask_a = _inputs()
    recon_v, recon_a, v2a, a2v = model(video, mask_v, audio, mask_a)
    assert recon_v.shape == (2, 5, SMALL.video_patch_dim) and recon_a.shape == (2, 6, SMALL.audio_patch_dim)
    assert len(v2a) == len(a2v) == len(SMALL.taps) and torch.equal(a2v[0], v2a[0].t())
    out = model.forward_all(video, mask_v, audio, mask_a)
    losses = model.losses(out, video, mask_v, audio, mask_a)
    expected = losses.video + losses.audio + SMALL.contrastive_weight * losses.contrastive_sum
    assert torch.allclose(losses.total, expected)
    assert torch.allclose(losses.video, ((out.recon_video - losses.target_video) ** 2).mean())
    losses.total.backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not no_grad


def test_pretrain_train_mode_equals_eval_mode():
    torch.manual_seed(0)
    model = HiCMAEPretrain(SMALL)
    args = _inputs()
    with torch.no_grad():
        ev = model.eval()(*args)
        tr = model.train()(*args)
    assert torch.equal(ev[0], tr[0]) and torch.equal(ev[1], tr[1])


def test_pretrain_needs_equal_visible_counts():
    model = HiCMAEPretrain(SMALL)
    video, mask_v, audio, mask_a = _inputs()
    mask_v[0, ~mask_v[0]] = torch.tensor([True] + [False] * (int((~mask_v[0]).sum()) - 1))
    with pytest.raises(ValueError, match="same number of visible tokens"):
        model(video, mask_v, audio, mask_a)


def test_finetune_forward_feature_and_drop_path():
    torch.manual_seed(0)
    model = HiCMAEClassifier(SMALL).eval()
    video, _, audio, _ = _inputs()
    logits, feature = model(video, audio, save_feature=True)
    assert logits.shape == (2, SMALL.num_classes) and feature.shape == (2, SMALL.feature_dim)
    out = model.forward_all(video, audio)
    assert out.layers_video.shape == (2, SMALL.num_video_tokens, SMALL.depth, SMALL.embed_dim)
    assert torch.equal(model(video, audio), logits)
    model.train()
    torch.manual_seed(1)
    a = model(video, audio)
    torch.manual_seed(2)
    b = model(video, audio)
    assert not torch.equal(a, b)                           # stochastic depth 0.1 is active in train mode


def test_finetune_loads_pretrain_weights_non_strictly():
    pt, ft = HiCMAEPretrain(SMALL), HiCMAEClassifier(SMALL)
    result = ft.load_state_dict(pt.state_dict(), strict=False)
    assert set(result.missing_keys) == FINETUNE_ONLY
    assert result.unexpected_keys and all(k.startswith(PRETRAIN_ONLY_PREFIXES) for k in result.unexpected_keys)
    shared = set(ft.state_dict()) - FINETUNE_ONLY
    assert all(torch.equal(ft.state_dict()[k], pt.state_dict()[k]) for k in shared)


def test_official_kwargs_validation():
    base = dict(img_size=160, patch_size=16, num_classes=7, embed_dim=48, depth=2, num_heads=4, mlp_ratio=4,
                tubelet_size=2, img_size_audio=[256, 128], patch_size_audio=16, depth_audio=2, fusion_depth=1,
                fusion_num_heads=4, attn_type="joint")
    cfg = hicmae_from_official_kwargs(finetune=base)
    assert cfg.num_classes == 7 and cfg.depth == 2 and cfg.audio_size == (256, 128)
    with pytest.raises(ValueError, match="attn_type"):
        hicmae_from_official_kwargs(finetune={**base, "attn_type": "local_global"})
    with pytest.raises(ValueError, match="widths"):
        hicmae_from_official_kwargs(finetune={**base, "embed_dim_audio": 32})
    with pytest.raises(ValueError):
        hicmae_from_official_kwargs()
    with pytest.raises(ValueError, match="taps"):
        SMALL.replace(taps=(0,))
    assert HiCMAEConfig.from_dict(SMALL.to_dict()) == SMALL


def test_is_hicmae_golden_on_descriptions():
    assert is_hicmae_golden({"constructor_kwargs": {"finetune": {"attn_type": "joint"}}})
    assert not is_hicmae_golden({"constructor_kwargs": {"finetune": {"attn_type": "local_global",
                                                                     "lg_region_size": [2, 5, 10]}}})
    assert not is_hicmae_golden({"name": "preprocess"})
