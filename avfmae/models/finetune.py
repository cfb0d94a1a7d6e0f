"""The AVF-MAE++ fine-tune model: two LG encoders -> layer-weighted region tokens -> IAVCL -> pooled head."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import AVFConfig
from .geometry import head_activation
from .iavcl import IAVCL, IAVCLOutput
from .layers import init_mae_, layer_norm, set_grad_checkpointing
from .lg_encoder import LGEncoder
from .tokenizers import AudioPatchEmbed, VideoPatchEmbed



def build_encoders(cfg: AVFConfig, drop_path_rate: float) -> tuple[LGEncoder, LGEncoder]:
    steps = (cfg.lg_second, cfg.lg_third, cfg.lg_fourth)
    video = LGEncoder(VideoPatchEmbed(cfg.patch_size, cfg.tubelet_size, cfg.embed_dim), cfg.video_grid,
                      cfg.video_region, cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.mlp_ratio, drop_path_rate,
                      time_chunks=True, steps=steps)
    audio = LGEncoder(AudioPatchEmbed(cfg.audio_patch_size, cfg.embed_dim), cfg.audio_grid, cfg.audio_region,
                      cfg.embed_dim, cfg.depth_audio, cfg.num_heads, cfg.mlp_ratio, drop_path_rate, steps=steps)
    return video, audio


def build_fusion(cfg: AVFConfig, drop_path_rate: float, pretrain_key_order: bool = False) -> IAVCL:
    return IAVCL(cfg.embed_dim, cfg.fusion_depth, cfg.fusion_heads, cfg.mlp_ratio, drop_path_rate,
                 pretrain_key_order=pretrain_key_order, refine=cfg.iavcl_refine, stage_fusion=cfg.iavcl_stage_fusion)


@dataclass
class FinetuneOutput:
    logits: torch.Tensor
    feature: torch.Tensor                # fc_norm output, the head's input (B, 2C)
    region_video: torch.Tensor           # (B, R, depth, C)
    region_audio: torch.Tensor
    overall_in: torch.Tensor             # IAVCL global input F0 (B, R, 2C)
    fusion: IAVCLOutput


class AVFMAEClassifier(nn.Module):
    """forward(video (B,3,T,H,W), audio (B,1,time,mel)) -> logits (B, num_classes)."""

    def __init__(self, cfg: AVFConfig):
        super().__init__()
        self.cfg = cfg
        self.layer_weights_video = nn.Parameter(torch.full((cfg.depth,), 1.0 / cfg.depth))
        self.layer_weights_audio = nn.Parameter(torch.full((cfg.depth_audio,), 1.0 / cfg.depth_audio))
        self.encoder, self.encoder_audio = build_encoders(cfg, cfg.drop_path_rate)
        self.encoder_fusion = build_fusion(cfg, cfg.drop_path_rate)
        self.apply(init_mae_)
        self.fc_norm = layer_norm(2 * cfg.embed_dim)
        self.head = nn.Linear(2 * cfg.embed_dim, cfg.num_classes) if cfg.num_classes > 0 else nn.Identity()
        self.head_activation = head_activation(cfg.head_activation)

    def set_grad_checkpointing(self, enable: bool = True) -> "AVFMAEClassifier":
        """Activation checkpointing of every encoder block and DiER unit: recomputed in backward, unchanged numbers, less
        activation memory for about one extra forward of compute. Off by default (see docs/training.md)."""
        return set_grad_checkpointing(self, enable)

    def forward_all(self, video: torch.Tensor, audio: torch.Tensor) -> FinetuneOutput:
        rv = self.encoder.forward_regions(video)
        ra = self.encoder_audio.forward_regions(audio)
        wv = torch.softmax(self.layer_weights_video, dim=0)
        wa = torch.softmax(self.layer_weights_audio, dim=0)
        overall = torch.cat(((rv * wv[:, None]).sum(2), (ra * wa[:, None]).sum(2)), dim=-1)
        fused = self.encoder_fusion(rv[:, :, -1], ra[:, :, -1], overall)
        feature = self.fc_norm(torch.cat((fused.video.mean(1), fused.audio.mean(1)), dim=-1))
        logits = self.head_activation(self.head(feature))
        return FinetuneOutput(logits, feature, rv, ra, overall, fused)

    def forward_features(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        return self.forward_all(video, audio).feature

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        return self.forward_all(video, audio).logits
