"""The speed benchmark's pieces: the visible-only patch embedding it measures, the official-style baseline it
compares against, and one tiny end-to-end run (numbers are printed, never asserted as speeds)."""
import pytest
import torch

import zoo
from avfmae import speed
from avfmae.models.tokenizers import AudioPatchEmbed, VideoPatchEmbed


@pytest.mark.parametrize("embed, shape", [(VideoPatchEmbed(16, 2, 24), (2, 3, 4, 32, 48)),
                                          (AudioPatchEmbed(16, 24), (2, 1, 64, 32))])
def test_embed_selected_equals_full_embedding_then_selection(embed, shape):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=g)
    full = embed(x)
    keep = torch.zeros(full.shape[:2], dtype=torch.bool)
    for row in keep:
        row[torch.randperm(full.shape[1], generator=g)[:3]] = True
    got = embed.embed_selected(x, keep)
    assert got.shape == (2, 3, 24)
    torch.testing.assert_close(got, full[keep].reshape(2, 3, 24), atol=1e-5, rtol=1e-5)


def test_official_style_baseline_computes_the_same_and_restores_the_model():
    model = zoo.create_model("avfmae-tiny", pretrain=True).eval()
    cfg = model.cfg
    g = torch.Generator().manual_seed(1)
    video = torch.randn(2, 3, cfg.num_frames, cfg.img_size, cfg.img_size, generator=g)
    audio = torch.randn(2, 1, *cfg.audio_size, generator=g)
    masks = speed.torch_dual_masks(2, g, cfg=speed.mask_generator(cfg))
    args = (video, masks["mask_video_encoder"], masks["mask_video_decoder"], audio,
            masks["mask_audio_encoder"], masks["mask_audio_decoder"])
    with torch.no_grad():
        ours = model(*args)[0]
        with speed.official_style(model):
            assert "embed_selected" in vars(model.encoder.patch_embed)      # the full-clip path is in place
            lg_attention = model.encoder.blocks[0].third_attn
            assert lg_attention.plan(800, 8) == "plain"                     # every projection on every token
            baseline = model(*args)[0]
        assert "embed_selected" not in vars(model.encoder.patch_embed)      # and gone afterwards
        assert "plan" not in vars(lg_attention) and lg_attention.plan(800, 8) != "plain"
        assert "forward" not in vars(model.encoder.blocks[-1])
    torch.testing.assert_close(ours, baseline, atol=1e-4, rtol=1e-4)


def test_tiny_run_reports_consistent_numbers():
    res = speed.run("avfmae-tiny", torch.device("cpu"), ft_batch=2, pt_batch=4, warmup=0, iters=1,
                    dtype=torch.float32, matmul_sizes=(128,), pairs=1)
    peak = res["matmul_peak_tflops"]
    assert peak > 0
    for key in ("finetune_forward", "pretrain_step"):
        r = res[key]
        assert r["clips_per_s"] > 0 and r["gflop_per_clip"] > 0 and r["speedup_vs_official_style"] > 0
        assert r["fraction_of_matmul_peak"] == pytest.approx(r["tflops"] / peak)
        assert r["tflops"] == pytest.approx(r["gflop_per_clip"] * r["clips_per_s"] / 1e3)
