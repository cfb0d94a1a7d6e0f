"""HiCMAE conformance: rebuild a HiCMAE golden's models (like ../shared/reference/golden/hicmae-tiny) from its
config.json, load the official state dicts strictly, replay the recorded calls and return every tensor the
golden recorded, under the golden's key names. `avfmae.conformance.model.check_model_golden` compares them."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from ..models.hicmae import (HiCMAEClassifier, HiCMAEPretrain, classification_losses,
                             hicmae_from_official_kwargs)

SUPPORTED_CLASSES = {"pretrain": "PretrainAudioVisionTransformer", "finetune": "AudioVisionTransformer"}
LABEL_SMOOTHING = 0.1          # timm LabelSmoothingCrossEntropy of the official fine-tune script
VIDEO_TARGET_ROWS = 180        # pt.target_video_first180: the first 180 masked positions of each sample


def is_hicmae_golden(config: dict) -> bool:
    """A HiCMAE model golden: made with the HiCMAE code, or built with the joint-attention ViT encoders (no
    local-global region settings, which every AVF-MAE++ golden has)."""
    if "constructor_kwargs" not in config:
        return False
    if "hicmae" in str(config.get("produced_with", "")).lower() or "hicmae" in str(config.get("name", "")).lower():
        return True
    kwargs = config["constructor_kwargs"]
    models = [kwargs.get(k) or {} for k in ("pretrain", "finetune")]
    if any(any(key.startswith("lg_") for key in m) for m in models):
        return False
    return kwargs.get("finetune", {}).get("attn_type") == "joint" or "encoder_fusion_depth" in kwargs.get(
        "pretrain", {})


def _record(modules, sink: list):
    return [m.register_forward_hook(lambda mod, args, out: sink.append(out.detach().clone())) for m in modules]


def _run_hooked(hooks, fn):
    try:
        return fn()
    finally:
        for h in hooks:
            h.remove()


def _finetune_outputs(model: HiCMAEClassifier, video, audio, labels) -> dict[str, torch.Tensor]:
    raw_v, raw_a, fus_v, fus_a = [], [], [], []
    hooks = (_record(model.encoder.blocks[:1], raw_v) + _record(model.encoder_audio.blocks[:1], raw_a)
             + _record(model.encoder_fusion.blocks[:1], fus_v) + _record(model.encoder_fusion.blocks_audio[:1], fus_a))
    out = _run_hooked(hooks, lambda: model.forward_all(video, audio))
    r = {
        "ft.video.patch_embed": model.encoder.patch_embed(video),
        "ft.audio.patch_embed": model.encoder_audio.patch_embed(audio),
        "ft.video.block0_out": raw_v[0], "ft.audio.block0_out": raw_a[0],
        "ft.video.layer_means": out.layers_video.mean(dim=1),
        "ft.audio.layer_means": out.layers_audio.mean(dim=1),
        "ft.audio.layers": out.layers_audio,
        "ft.fusion.in_video": out.layers_video[:, :, -1], "ft.fusion.in_audio": out.layers_audio[:, :, -1],
        "ft.fusion.block0.video": fus_v[0], "ft.fusion.block0.audio": fus_a[0],
        "ft.fusion.out_video": out.fused_video, "ft.fusion.out_audio": out.fused_audio,
        "ft.concat_feature": out.concat_feature, "ft.final_feature": out.feature, "ft.logits": out.logits,
    }
    if labels is not None:
        r["ft.loss_ce"], r["ft.loss_smoothing"] = classification_losses(out.logits, labels, LABEL_SMOOTHING)
    return r


def _loss_outputs(r: dict, prefix: str, losses, taps: int) -> None:
    for i in range(taps):
        r[f"{prefix}.loss_ce_v2a.tap{i}"] = losses.ce_v2a[i]
        r[f"{prefix}.loss_ce_a2v.tap{i}"] = losses.ce_a2v[i]
        r[f"{prefix}.loss_contrastive.tap{i}"] = losses.contrastive[i]
    r[f"{prefix}.loss_video"] = losses.video
    r[f"{prefix}.loss_audio"] = losses.audio
    r[f"{prefix}.loss_contrastive_sum"] = losses.contrastive_sum
    r[f"{prefix}.loss_mae"] = losses.mae
    r[f"{prefix}.loss_total"] = losses.total


def _pretrain_outputs(model: HiCMAEPretrain, args: list) -> dict[str, torch.Tensor]:
    raw_v, raw_a, dec_a = [], [], []
    fus_v, fus_a = [], []
    hooks = (_record(model.encoder.blocks, raw_v) + _record(model.encoder_audio.blocks, raw_a)
             + _record(model.decoder_audio.blocks, dec_a)
             + _record(model.encoder_fusion.blocks, fus_v) + _record(model.encoder_fusion.blocks_audio, fus_a))

    def run():
        out = model.forward_all(*args)
        return out, model.losses(out, *args)

    out, losses = _run_hooked(hooks, run)
    r: dict[str, torch.Tensor] = {
        "pt.video.blocks_raw": torch.stack(raw_v), "pt.audio.blocks_raw": torch.stack(raw_a),
        "pt.video.layer_feats": torch.stack(out.video_feats), "pt.audio.layer_feats": torch.stack(out.audio_feats),
        "pt.video.encoder_out": out.video_feats[-1], "pt.audio.encoder_out": out.audio_feats[-1],
        "pt.fusion.out_video": out.fused_video, "pt.fusion.out_audio": out.fused_audio,
        "pt.decoder_video.in": out.decoder_in_video, "pt.decoder_audio.in": out.decoder_in_audio,
        "pt.decoder_video.skips": torch.stack(out.skips_video),
        "pt.decoder_audio.skips": torch.stack(out.skips_audio),
        "pt.decoder_video.return_token_num": torch.tensor(out.recon_video.shape[1]),
        "pt.decoder_audio.return_token_num": torch.tensor(out.recon_audio.shape[1]),
        "pt.decoder_audio.blocks_out": torch.stack(dec_a),
        "pt.recon_video": out.recon_video, "pt.recon_audio": out.recon_audio,
        "pt.target_video_first180": losses.target_video[:, :VIDEO_TARGET_ROWS],
        "pt.target_audio": losses.target_audio,
        "pt.mse_per_token_video": ((out.recon_video - losses.target_video) ** 2).mean(dim=-1),
        "pt.mse_per_token_audio": ((out.recon_audio - losses.target_audio) ** 2).mean(dim=-1),
        "pt.contrastive_labels": torch.arange(out.recon_video.shape[0]),
    }
    for k, (v, a) in enumerate(zip(fus_v, fus_a)):
        r[f"pt.fusion.block{k}.video"] = v
        r[f"pt.fusion.block{k}.audio"] = a
    for i in range(len(model.cfg.taps)):
        r[f"pt.logits_v2a.tap{i}"] = out.logits_v2a[i]
        r[f"pt.logits_a2v.tap{i}"] = out.logits_a2v[i]
    _loss_outputs(r, "pt", losses, len(model.cfg.taps))
    return r


def _pretrain_train_outputs(model: HiCMAEPretrain, args: list) -> dict[str, torch.Tensor]:
    """The train-mode losses (what the official engine runs); equal to eval mode, since pre-training has no
    BatchNorm, dropout or drop-path."""
    out = model.forward_all(*args)
    r: dict[str, torch.Tensor] = {}
    _loss_outputs(r, "pt_train", model.losses(out, *args), len(model.cfg.taps))
    return r


def produce_hicmae(folder: Path) -> dict[str, torch.Tensor]:
    """Every tensor this implementation computes for the HiCMAE golden in `folder`, keyed like its
    outputs.safetensors."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    kwargs = config["constructor_kwargs"]
    classes = kwargs.get("classes", {})
    for kind, expected in SUPPORTED_CLASSES.items():
        if str(classes.get(kind, expected)).rsplit(".", 1)[-1] != expected:
            raise ValueError(f"{folder}: golden built from {classes[kind]}, this tool builds {expected} (HiCMAE)")
    cfg = hicmae_from_official_kwargs(kwargs.get("pretrain"), kwargs.get("finetune"))
    inputs = load_file(str(folder / "inputs.safetensors"))
    video, audio = inputs["video"].float(), inputs["audio"].float()
    results: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        if kwargs.get("finetune"):
            ft = HiCMAEClassifier(cfg)
            ft.load_state_dict(load_file(str(folder / "finetune_state_dict.safetensors")), strict=True)
            results.update(_finetune_outputs(ft.eval(), video, audio, inputs.get("ft.labels")))
            results["tables.pos_embed_video_encoder"] = ft.encoder.pos_embed
            results["tables.pos_embed_audio_encoder"] = ft.encoder_audio.pos_embed
        if kwargs.get("pretrain"):
            pt = HiCMAEPretrain(cfg)
            pt.load_state_dict(load_file(str(folder / "pretrain_state_dict.safetensors")), strict=True)
            args = [video, inputs["pt.mask_video"], audio, inputs["pt.mask_audio"]]
            results.update(_pretrain_outputs(pt.eval(), args))
            results.update(_pretrain_train_outputs(pt.train(), args))
            pt.eval()
            results["tables.pos_embed_video_decoder"] = pt.pos_embed
            results["tables.pos_embed_audio_decoder"] = pt.pos_embed_audio
            results["tables.pos_embed_video_encoder"] = pt.encoder.pos_embed
            results["tables.pos_embed_audio_encoder"] = pt.encoder_audio.pos_embed
    return results
