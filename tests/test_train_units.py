"""avfmae.train building blocks: configs and presets, optimiser groups, schedule, checkpoints, data determinism."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

import zoo
from avfmae.train.config import Stage1Config, Stage2Config, Stage3Config, apply_overrides, stage_config
from avfmae.train.checkpoint import atomic_save, config_differences, rng_state, set_rng_state
from avfmae.train.inputs import blank_modalities, preprocess_config, silent_fbank_value
from avfmae.train.sampling import Layout, mixture_keys, step_keys, steps_per_epoch
from avfmae.train.sources import parse_source, split_by_subject
from avfmae.train.optim import build_optimizer, param_groups, scaled_lr
from avfmae.train.schedule import CosineSchedule


# ------------------------------------------------------------------------------------------------------ configs
def test_paper_presets_follow_the_official_scripts():
    base = stage_config("stage1", "paper", "avfmae-base")
    assert (base.blr, base.batch_size, base.epochs, base.warmup_epochs, base.betas, base.weight_decay,
            base.min_lr) == (3e-4, 164, 200, 5, (0.9, 0.95), 0.05, 1e-5)
    huge = stage_config("stage1", "paper", "avfmae-huge")
    assert (huge.blr, huge.batch_size, huge.warmup_epochs) == (2e-4, 100, 10)
    ft = stage_config("stage3", "paper", "avfmae-large")
    assert (ft.blr, ft.batch_size, ft.epochs, ft.warmup_epochs, ft.layer_decay, ft.drop_path, ft.smoothing,
            ft.mixup, ft.cutmix, ft.betas, ft.min_lr) == (1e-3, 40, 100, 5, 0.75, 0.1, 0.1, 0.8, 1.0, (0.9, 0.999), 1e-6)
    psi = stage_config("stage3", "paper-psi", "avfmae-huge")
    assert scaled_lr(psi.blr, 160) == pytest.approx(5.625e-5)        # the huge logs' peak lr (spec 2.2)
    with pytest.raises(ValueError, match="paper presets"):
        stage_config("stage1", "paper", "avfmae-tiny")


def test_overrides_types_aliases_and_errors():
    cfg = stage_config("stage3", "cpu", train="a.tsv", test="b.tsv")
    cfg = apply_overrides(cfg, ["epochs=3", "blr=5e-4", "modalities=v", "rrc_scale=0.3,1", "clip_grad=none",
                                "selection=val", "mix_audio=true"])
    assert (cfg.epochs, cfg.blr, cfg.modalities, cfg.rrc_scale, cfg.clip_grad, cfg.selection, cfg.mix_audio) == \
        (3, 5e-4, ("video",), (0.3, 1), None, "val", True)
    assert apply_overrides(cfg, ["modalities=av"]).modalities == ("video", "audio")
    s2 = apply_overrides(stage_config("stage2", "cpu"), ["data=x.tsv|name=v|map=0,0,1;y.tsv"])
    assert s2.data == ("x.tsv|name=v|map=0,0,1", "y.tsv")
    with pytest.raises(ValueError, match="unknown Stage3Config field"):
        apply_overrides(cfg, ["epoch=3"])
    with pytest.raises(ValueError, match="selection"):
        cfg.replace(selection="best")
    with pytest.raises(ValueError, match="stage 1 reconstructs both"):
        Stage1Config(modalities=("video",))
    with pytest.raises(ValueError, match="shared_classes"):
        Stage2Config(label_mode="shared")
    assert Stage3Config.from_dict(cfg.to_dict()) == cfg


# ------------------------------------------------------------------------------------------------------ optimiser
def _meta_model(name: str):
    spec = zoo.get_spec(name)
    cls, _ = zoo._registry.family_classes(spec.family)
    with torch.device("meta"):
        return cls(spec.arch)


def test_layer_decay_mapping_of_the_base_model():
    model = _meta_model("avfmae-base")
    groups = param_groups(model, 0.05, 0.75)
    scale = {n: g["lr_scale"] for g in groups for n in g["names"]}
    decay = {n: g["weight_decay"] for g in groups for n in g["names"]}
    # num_layers = 10 + 2 = 12; scale = 0.75 ** (13 - id)
    assert scale["encoder.patch_embed.proj.weight"] == pytest.approx(0.75 ** 13)
    assert scale["encoder_audio.patch_embed.proj.weight"] == pytest.approx(0.75 ** 13)
    assert scale["encoder.blocks.0.first_attn.q.weight" if "encoder.blocks.0.first_attn.q.weight" in scale
                 else next(n for n in scale if n.startswith("encoder.blocks.0."))] == pytest.approx(0.75 ** 12)
    assert scale[next(n for n in scale if n.startswith("encoder_audio.blocks.9."))] == pytest.approx(0.75 ** 3)
    assert scale[next(n for n in scale if n.startswith("encoder_fusion.blocks.0."))] == pytest.approx(0.75 ** 2)
    assert scale[next(n for n in scale if n.startswith("encoder_fusion.blocks.1."))] == pytest.approx(0.75)
    for top in ("head.weight", "fc_norm.weight", "layer_weights_video", "encoder.lg_region_tokens",
                "encoder.norm.weight", next(n for n in scale if "Iterative_Refinement" in n)):
        assert scale[top] == 1.0, top
    assert decay["encoder.lg_region_tokens"] == 0.05          # official quirk: region tokens are decayed
    assert decay["layer_weights_video"] == 0.0 and decay["head.bias"] == 0.0 and decay["fc_norm.weight"] == 0.0
    assert decay["head.weight"] == 0.05


def test_huge_smallest_scale_and_pretrain_no_decay():
    groups = param_groups(_meta_model("avfmae-huge"), 0.05, 0.75)
    assert min(g["lr_scale"] for g in groups) == pytest.approx(0.75 ** 18)   # spec 2.2: 0.0056
    pt = zoo.create_model("avfmae-micro", pretrain=True)
    decay = {n: g["weight_decay"] for g in param_groups(pt, 0.05) for n in g["names"]}
    assert decay["mask_token"] == 0.0 and decay["mask_token_audio"] == 0.0
    opt = build_optimizer(pt, lr=1e-3, weight_decay=0.05, betas=(0.9, 0.95))
    assert opt.defaults["betas"] == (0.9, 0.95)
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(pt.parameters()))


def test_lr_scaling_is_by_global_batch_over_256():
    assert scaled_lr(3e-4, 164 * 8) == pytest.approx(1.5375e-3)   # base pre-training: 1.54e-3 (spec 2.1)
    assert scaled_lr(1e-3, 160) == pytest.approx(6.25e-4)


def _official_cosine(base, final, epochs, niter, warmup_epochs=0, warmup_steps=-1):
    warm = np.array([])
    wi = warmup_epochs * niter
    if warmup_steps > 0:
        wi = warmup_steps
    if warmup_epochs > 0:
        warm = np.linspace(0, base, wi)
    iters = np.arange(epochs * niter - wi)
    rest = np.array([final + 0.5 * (base - final) * (1 + math.cos(math.pi * i / len(iters))) for i in iters])
    return np.concatenate((warm, rest))


def test_schedule_equals_the_official_array():
    ref = _official_cosine(1e-3, 1e-6, 10, 7, warmup_epochs=2)
    sched = CosineSchedule(1e-3, 1e-6, 70, 14)
    assert np.allclose([sched(s) for s in range(70)], ref, rtol=1e-12, atol=0)
    opt = torch.optim.AdamW([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr_scale": 0.5}], lr=1.0)
    assert sched.apply(opt, 20) == pytest.approx(ref[20]) and opt.param_groups[0]["lr"] == pytest.approx(ref[20] / 2)


# ------------------------------------------------------------------------------------------------- checkpoints
def test_atomic_save_and_rng_round_trip(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    state = rng_state()
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
    path = atomic_save({"x": torch.ones(2)}, tmp_path / "c.pt")
    assert path.is_file() and not list(tmp_path.glob(".*tmp*"))
    assert config_differences({"a": [1, 2], "b": 1}, {"a": (1, 2), "b": 2}) == ["b: checkpoint 1 vs now 2"]


# --------------------------------------------------------------------------------------------------------- data
def test_sources_and_label_maps(tmp_path):
    man = tmp_path / "set" / "splits" / "f1" / "train.tsv"
    man.parent.mkdir(parents=True)
    man.write_text("clip\tvideo\taudio\ttarget\tsubject\na\ta.mp4\t\t0\ts1\nb\tb.mp4\t\t3\ts2\nc\tc.mp4\t\t5\ts3\n")
    src = parse_source(f"{man}|name=val|map=0,0,1,1,2,-1")
    assert src.root == (tmp_path / "set").resolve() and src.name == "val" and src.num_classes == 3
    from avfmae.train.sources import load_entries
    entries = load_entries([src])
    assert [(e.record.clip, e.target) for e in entries] == [("a", 0), ("b", 1)]      # label 5 mapped to -1: dropped
    tr, va = split_by_subject(load_entries([parse_source(str(man))]), 0.34, seed=0)
    assert len(va) == 1 and not {e.record.subject for e in tr} & {e.record.subject for e in va}
    with pytest.raises(ValueError, match="unknown options"):
        parse_source(f"{man}|head=x")


def test_source_options_carry_what_a_dataset_registry_knew(tmp_path):
    """avfmae takes manifest paths only; class count and regression come as options, a dataset name is refused."""
    man = tmp_path / "d" / "splits" / "f1" / "test.tsv"
    src = parse_source(f"{man}@{tmp_path / 'd'}|classes=11")
    assert (src.manifest, src.root, src.name, src.num_classes, src.regression) == (man, tmp_path / "d", "test", 11,
                                                                                   False)
    reg = parse_source(f"{man}|regression=1")
    assert reg.regression and reg.num_classes == 0
    assert not parse_source(f"{man}|regression=0").regression
    with pytest.raises(ValueError, match="not a flag"):
        parse_source(f"{man}|regression=maybe")
    with pytest.raises(ValueError, match="does not go with"):
        parse_source(f"{man}|regression=1|classes=3")
    with pytest.raises(ValueError, match=r"give a split manifest(.|\n)*resolved by the benchmark suite"):
        parse_source("demo:fold1:train")


def test_batches_are_the_same_for_one_process_with_accumulation_and_two_processes():
    n, seed, spe = 37, 5, steps_per_epoch(37, Layout(2, 2, 1, 0))
    one = [step_keys(n, Layout(2, 2, 1, 0), seed, s, spe) for s in range(20)]
    two = [[step_keys(n, Layout(2, 1, 2, r), seed, s, spe)[0] for r in (0, 1)] for s in range(20)]
    assert one == two
    flat = [k for step in one[:spe] for mb in step for k, _ in mb]
    assert len(set(flat)) == len(flat)                               # an epoch never repeats a clip
    keys = mixture_keys([10, 30], [10, 30], Layout(4, 1, 1, 0), 3, 50)
    for s in range(50):
        (batch,) = keys(s)
        src = {0 if i < 10 else 1 for i, _ in batch}
        assert len(src) == 1 and src == {int(keys.choices[s])}       # one source per step


def test_modality_blanking_and_the_log_domain_gain():
    spec = zoo.get_spec("avfmae-micro")
    pcfg = preprocess_config(spec)
    silent = silent_fbank_value(pcfg)
    assert silent == pytest.approx((math.log(torch.finfo(torch.float32).eps) - pcfg.fbank_mean) / (2 * pcfg.fbank_std),
                                   abs=1e-4)
    v, a = torch.randn(2, 3, 8, 4, 4), torch.randn(2, 1, 8, 4)
    bv, ba = blank_modalities(v, a, ("audio",), silent)
    assert torch.equal(bv, torch.zeros_like(v)) and torch.equal(ba, a)
    bv, ba = blank_modalities(v, a, ("video",), silent)
    assert torch.equal(bv, v) and torch.all(ba == silent)
    # scaling the waveform by g shifts the normalised log-mel by ln(g) / std (what the cached path applies)
    from avfmae.data import audio as A
    rng = np.random.default_rng(0)
    wav = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    f1, rows = A.wav_to_fbank(wav, None, 64, 128)
    f2, _ = A.wav_to_fbank(wav, 1.3, 64, 128)
    shift = (A.normalize_fbank(f2) - A.normalize_fbank(f1))
    assert rows < 128                                                # the padded rows stay untouched
    assert torch.allclose(shift[:rows], torch.full_like(shift[:rows], math.log(1.3) / A.FBANK_STD), atol=1e-4)
    assert torch.all(shift[rows:] == 0)
