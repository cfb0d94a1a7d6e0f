"""Write a model golden in the official format (config.json + state dicts + inputs + outputs) from THIS
implementation, for any architecture. Used to prove the conformance tool is driven by config.json alone."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from avfmae.conformance.model import produce
from avfmae.models import AVFConfig, AVFMAEClassifier, AVFMAEPretrain, to_official_kwargs


def _masks(cfg: AVFConfig, batch: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    t, h, w = cfg.video_grid
    n_vis_spatial = round(h * w * (1 - cfg.mask_ratio_video))
    out = {k: [] for k in ("pt.mask_video_encoder", "pt.mask_video_decoder", "pt.mask_audio_encoder",
                           "pt.mask_audio_decoder")}
    na = cfg.num_audio_tokens
    for _ in range(batch):
        spatial = np.ones(h * w, bool)
        spatial[rng.choice(h * w, n_vis_spatial, replace=False)] = False
        out["pt.mask_video_encoder"].append(np.tile(spatial, t))
        dec = np.ones(t * h * w, bool)
        dec[rng.choice(t * h * w, t * h * w // 2, replace=False)] = False
        out["pt.mask_video_decoder"].append(dec)
        enc_a = np.ones(na, bool)
        enc_a[rng.choice(na, round(na * (1 - cfg.mask_ratio_audio)), replace=False)] = False
        out["pt.mask_audio_encoder"].append(enc_a)
        dec_a = np.ones(na, bool)
        dec_a[rng.choice(na, na // 2, replace=False)] = False
        out["pt.mask_audio_decoder"].append(dec_a)
    return {k: torch.from_numpy(np.stack(v)) for k, v in out.items()}


def make_golden(folder: Path, cfg: AVFConfig, batch: int = 2, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    pt = AVFMAEPretrain(cfg)
    with torch.no_grad():  # make every constant tensor matter, as the official goldens do
        for name, p in pt.named_parameters():
            if "norm" in name or "bias" in name:
                p.add_(0.05 * torch.randn_like(p))
    ft = AVFMAEClassifier(cfg)
    ft.load_state_dict(pt.state_dict(), strict=False)
    save_file(pt.state_dict(), str(folder / "pretrain_state_dict.safetensors"))
    save_file(ft.state_dict(), str(folder / "finetune_state_dict.safetensors"))
    video = torch.randn(batch, 3, cfg.num_frames, cfg.img_size, cfg.img_size).half()
    audio = torch.randn(batch, 1, *cfg.audio_size).half()
    inputs = {"video": video, "audio": audio, **_masks(cfg, batch, np.random.default_rng(seed))}
    save_file(inputs, str(folder / "inputs.safetensors"))
    kwargs = to_official_kwargs(cfg)
    kwargs["classes"] = {"pretrain": "PretrainAudioVisionTransformer", "finetune": "AudioVisionTransformer"}
    config = {"name": folder.name, "constructor_kwargs": kwargs, "calls": {"finetune": "ft(video, audio)"},
              "outputs": {}}
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    outputs = {k: v.clone().contiguous() for k, v in produce(folder).items()}
    save_file(outputs, str(folder / "outputs.safetensors"))
    return folder
