"""Model conformance: rebuild a golden's model from its config.json, load its state dicts, replay the recorded
calls and collect every tensor the golden recorded, under the golden's key names."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from ..models import AVFMAEClassifier, AVFMAEPretrain, from_official_kwargs
from .report import Comparison, compare

SUPPORTED_CLASSES = {"pretrain": "PretrainAudioVisionTransformer", "finetune": "AudioVisionTransformer"}

# tolerances of ../shared/reference/README.md section 5 ("suggested acceptance")
ATOL_EVAL, RTOL_EVAL = 1e-4, 1e-4
ATOL_LOSS = 1e-5
ATOL_TRAIN = 5e-4


def is_model_golden(config: dict) -> bool:
    return "constructor_kwargs" in config and "calls" in config


def _record_blocks(blocks, sink: list):
    return [blk.register_forward_hook(lambda m, args, out: sink.append(out.detach().clone())) for blk in blocks]


def _pretrain_outputs(model: AVFMAEPretrain, args: list, prefix: str) -> dict[str, torch.Tensor]:
    raw_v, raw_a = [], []
    hooks = _record_blocks(model.encoder.blocks, raw_v) + _record_blocks(model.encoder_audio.blocks, raw_a)
    try:
        out = model.forward_all(*args)
        losses = model.losses(out, *args)
    finally:
        for h in hooks:
            h.remove()
    r: dict[str, torch.Tensor] = {}
    r[f"{prefix}.video.blocks_raw"] = torch.stack(raw_v)
    r[f"{prefix}.audio.blocks_raw"] = torch.stack(raw_a)
    r[f"{prefix}.video.layer_feats"] = torch.stack(out.video_feats)
    r[f"{prefix}.audio.layer_feats"] = torch.stack(out.audio_feats)
    r[f"{prefix}.video.encoder_out"] = out.video_feats[-1]
    r[f"{prefix}.audio.encoder_out"] = out.audio_feats[-1]
    taps = model.cfg.taps
    for i in range(len(taps)):
        r[f"{prefix}.logits_v2a.tap{i}"] = out.logits_v2a[i]
        r[f"{prefix}.logits_a2v.tap{i}"] = out.logits_a2v[i]
        r[f"{prefix}.loss_ce_v2a.tap{i}"] = losses.ce_v2a[i]
        r[f"{prefix}.loss_ce_a2v.tap{i}"] = losses.ce_a2v[i]
        r[f"{prefix}.loss_contrastive.tap{i}"] = losses.contrastive[i]
    v, a = out.video_feats[-1], out.audio_feats[-1]
    r[f"{prefix}.iavcl.in_overall"] = torch.cat((v.mean(1, keepdim=True), a.mean(1, keepdim=True)), dim=-1)
    _fusion_outputs(r, f"{prefix}.iavcl", out.fusion)
    r[f"{prefix}.decoder_video.in"] = out.decoder_in_video
    r[f"{prefix}.decoder_audio.in"] = out.decoder_in_audio
    r[f"{prefix}.decoder_video.skips"] = torch.stack(out.skips_video)
    r[f"{prefix}.decoder_audio.skips"] = torch.stack(out.skips_audio)
    r[f"{prefix}.recon_video"] = out.recon_video
    r[f"{prefix}.recon_video_first8"] = out.recon_video[:, :8]
    r[f"{prefix}.recon_audio"] = out.recon_audio
    r[f"{prefix}.target_video"] = losses.target_video
    r[f"{prefix}.target_audio"] = losses.target_audio
    r[f"{prefix}.loss_mask_video"] = losses.weight_video
    r[f"{prefix}.loss_mask_audio"] = losses.weight_audio
    r[f"{prefix}.loss_video"] = losses.video
    r[f"{prefix}.loss_audio"] = losses.audio
    r[f"{prefix}.loss_contrastive_sum"] = losses.contrastive_sum
    r[f"{prefix}.loss_total"] = losses.total
    return r


def _fusion_outputs(r: dict, prefix: str, fusion) -> None:
    for k, (uv, ua, uf) in enumerate(fusion.units):
        r[f"{prefix}.dier{k}.video"] = uv
        r[f"{prefix}.dier{k}.audio"] = ua
        r[f"{prefix}.dier{k}.overall"] = uf
    r[f"{prefix}.out_video"] = fusion.video
    r[f"{prefix}.out_audio"] = fusion.audio
    r[f"{prefix}.out_overall"] = fusion.overall


def _finetune_outputs(model: AVFMAEClassifier, video, audio) -> dict[str, torch.Tensor]:
    raw_v, raw_a = [], []
    hooks = _record_blocks(model.encoder.blocks[:1], raw_v) + _record_blocks(model.encoder_audio.blocks[:1], raw_a)
    try:
        out = model.forward_all(video, audio)
    finally:
        for h in hooks:
            h.remove()
    r = {
        "ft.logits": out.logits, "ft.final_feature": out.feature,
        "ft.video.patch_embed": model.encoder.patch_embed(video),
        "ft.audio.patch_embed": model.encoder_audio.patch_embed(audio),
        "ft.video.block0_out": raw_v[0], "ft.audio.block0_out": raw_a[0],
        "ft.video.region_tokens": out.region_video, "ft.audio.region_tokens": out.region_audio,
        "ft.iavcl.in_video": out.region_video[:, :, -1], "ft.iavcl.in_audio": out.region_audio[:, :, -1],
        "ft.iavcl.in_overall": out.overall_in,
    }
    _fusion_outputs(r, "ft.iavcl", out.fusion)
    return r


def produce(folder: Path) -> dict[str, torch.Tensor]:
    """Every tensor this implementation computes for the golden in `folder`, keyed like outputs.safetensors."""
    config = json.loads((folder / "config.json").read_text())
    classes = config["constructor_kwargs"].get("classes", {})
    for kind, expected in SUPPORTED_CLASSES.items():
        if classes.get(kind, expected) != expected:
            raise ValueError(f"{folder}: golden built from {classes[kind]}, this tool builds {expected} (AVF-MAE++)")
    kwargs = config["constructor_kwargs"]
    cfg = from_official_kwargs(kwargs.get("pretrain"), kwargs.get("finetune"))
    inputs = load_file(str(folder / "inputs.safetensors"))
    video, audio = inputs["video"].float(), inputs["audio"].float()
    results: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        if "finetune" in kwargs:
            ft = AVFMAEClassifier(cfg)
            ft.load_state_dict(load_file(str(folder / "finetune_state_dict.safetensors")), strict=True)
            results.update(_finetune_outputs(ft.eval(), video, audio))
            results["tables.pos_embed_video_encoder"] = ft.encoder.pos_embed
            results["tables.pos_embed_audio_encoder"] = ft.encoder_audio.pos_embed
        if "pretrain" in kwargs:
            pt = AVFMAEPretrain(cfg)
            state = load_file(str(folder / "pretrain_state_dict.safetensors"))
            args = [video, inputs["pt.mask_video_encoder"], inputs["pt.mask_video_decoder"], audio,
                    inputs["pt.mask_audio_encoder"], inputs["pt.mask_audio_decoder"]]
            pt.load_state_dict(state, strict=True)
            results.update(_pretrain_outputs(pt.eval(), args, "pt"))
            pt.load_state_dict(state, strict=True)
            results.update(_pretrain_outputs(pt.train(), args, "pt_train"))
            for name, buf in pt.state_dict().items():
                if "running_" in name or "num_batches_tracked" in name:
                    results[f"pt_train.buffers_after.{name}"] = buf
            results["tables.pos_embed_video_decoder"] = pt.pos_embed
            results["tables.pos_embed_audio_decoder"] = pt.pos_embed_audio
            results["tables.pos_embed_video_encoder"] = pt.encoder.pos_embed
            results["tables.pos_embed_audio_encoder"] = pt.encoder_audio.pos_embed
    return results


def tolerance_for(key: str, golden: torch.Tensor) -> dict:
    if golden.dtype == torch.bool or not golden.is_floating_point():
        return {"exact": True, "atol": 0.0}
    if golden.ndim == 0 and "loss" in key:
        return {"atol": ATOL_LOSS}
    if key.startswith("pt_train."):
        return {"atol": ATOL_TRAIN}
    return {"atol": ATOL_EVAL, "rtol": RTOL_EVAL}


def _producer(folder: Path):
    """AVF-MAE++ goldens are built here; HiCMAE goldens (the baseline) by avfmae.conformance.hicmae."""
    config = json.loads((folder / "config.json").read_text())
    try:
        from .hicmae import is_hicmae_golden, produce_hicmae
    except ImportError:
        return produce
    return produce_hicmae if is_hicmae_golden(config) else produce


def check_model_golden(folder: Path) -> list[Comparison]:
    folder = Path(folder)
    ours = _producer(folder)(folder)
    golden = load_file(str(folder / "outputs.safetensors"))
    results = []
    for key in sorted(golden):
        g = golden[key]
        tol = tolerance_for(key, g)
        if key not in ours:
            results.append(Comparison(key, float("inf"), tol["atol"], ok=False, note="not produced by this build"))
            continue
        mine = ours[key]
        if g.dtype != torch.bool and not g.is_floating_point() and mine.is_floating_point():
            mine = mine.round().to(g.dtype)
        results.append(compare(key, mine, g, **tol))
    return results
