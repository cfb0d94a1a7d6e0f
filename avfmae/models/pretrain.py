"""The AVF-MAE++ pre-train model: dual-masked encoders, IAVCL on visible tokens, two skip decoders, losses."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .config import AVFConfig
from .decoder import Decoder
from .finetune import build_encoders, build_fusion
from .iavcl import IAVCLOutput
from .layers import init_mae_, set_grad_checkpointing, sinusoid_table, trunc_normal_
from .losses import audio_target, contrastive_logits, masked_mse, symmetric_infonce, video_target


@dataclass
class PretrainOutput:
    recon_video: torch.Tensor              # (B, kept_v, 1536) predictions at decoder-kept positions
    recon_audio: torch.Tensor              # (B, kept_a, 256)
    logits_v2a: list                       # per tap (B, B)
    video_feats: list = field(repr=False)  # per layer (B, Nv_vis, C), LayerNorm-ed
    audio_feats: list = field(repr=False)
    fusion: IAVCLOutput = field(repr=False)
    decoder_in_video: torch.Tensor = field(repr=False)
    decoder_in_audio: torch.Tensor = field(repr=False)
    skips_video: list = field(repr=False)
    skips_audio: list = field(repr=False)

    @property
    def logits_a2v(self) -> list:
        return [lg.t() for lg in self.logits_v2a]


@dataclass
class PretrainLosses:
    total: torch.Tensor
    video: torch.Tensor
    audio: torch.Tensor
    contrastive: list          # per tap: 0.5*(ce_v2a + ce_a2v)
    ce_v2a: list
    ce_a2v: list
    target_video: torch.Tensor
    target_audio: torch.Tensor
    weight_video: torch.Tensor  # (B, kept_v) True where the encoder masked the decoder-kept position
    weight_audio: torch.Tensor

    @property
    def contrastive_sum(self) -> torch.Tensor:
        return torch.stack(self.contrastive).sum()


class AVFMAEPretrain(nn.Module):
    """forward(video, hide_v, keep_v_not, audio, hide_a, keep_a_not) with the official argument order:
    (video, mask_video_encoder, mask_video_decoder, audio, mask_audio_encoder, mask_audio_decoder); all masks
    (B, N) bool, True = hidden from the encoder / not reconstructed by the decoder."""

    def __init__(self, cfg: AVFConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.decoder_dim
        self.mask_token = nn.Parameter(torch.zeros(1, 1, d))
        self.mask_token_audio = nn.Parameter(torch.zeros(1, 1, d))
        encoder, encoder_audio = build_encoders(cfg, 0.0)
        self.encoder = encoder
        self.decoder = Decoder(d, cfg.decoder_depth, cfg.decoder_heads, cfg.video_patch_dim, cfg.mlp_ratio)
        self.encoder_to_decoder = nn.Linear(cfg.embed_dim, d, bias=False)
        self.encoder_audio = encoder_audio
        self.decoder_audio = Decoder(d, cfg.decoder_depth, cfg.decoder_heads, cfg.audio_patch_dim, cfg.mlp_ratio)
        self.encoder_to_decoder_audio = nn.Linear(cfg.embed_dim, d, bias=False)
        self.encoder_fusion = build_fusion(cfg, 0.0, pretrain_key_order=True)
        self.register_buffer("pos_embed", sinusoid_table(cfg.num_video_tokens, d), persistent=False)
        self.register_buffer("pos_embed_audio", sinusoid_table(cfg.num_audio_tokens, d), persistent=False)
        self.apply(init_mae_)
        trunc_normal_(self.mask_token)
        trunc_normal_(self.mask_token_audio)

    def set_grad_checkpointing(self, enable: bool = True) -> "AVFMAEPretrain":
        """Activation checkpointing of every encoder/decoder block and DiER unit: recomputed in backward, unchanged numbers, less
        activation memory for about one extra forward of compute. Off by default (see docs/training.md)."""
        return set_grad_checkpointing(self, enable)

    def _decode(self, decoder, proj, mask_token, pos, fused, feats, hidden, not_kept):
        b = fused.shape[0]
        pos = pos.expand(b, -1, -1).to(fused.dtype)
        pos_vis = pos[~hidden].reshape(b, -1, pos.shape[-1])
        pos_kept = pos[~not_kept].reshape(b, -1, pos.shape[-1])
        x = torch.cat((proj(fused) + pos_vis, mask_token.to(fused.dtype) + pos_kept), dim=1)
        skips = [proj(feats[t]) + pos_vis for t in self.cfg.taps]
        return decoder(x, skips, pos_kept.shape[1]), x, skips

    def forward_all(self, video, mask_video_encoder, mask_video_decoder, audio, mask_audio_encoder,
                    mask_audio_decoder) -> PretrainOutput:
        vfeats = self.encoder.forward_visible(video, mask_video_encoder)
        afeats = self.encoder_audio.forward_visible(audio, mask_audio_encoder)
        logits = [contrastive_logits(vfeats[t], afeats[t], self.cfg.temperature) for t in self.cfg.taps]
        v, a = vfeats[-1], afeats[-1]
        overall = torch.cat((v.mean(1, keepdim=True), a.mean(1, keepdim=True)), dim=-1)
        fused = self.encoder_fusion(v, a, overall)
        rv, xv, sv = self._decode(self.decoder, self.encoder_to_decoder, self.mask_token, self.pos_embed,
                                  fused.video, vfeats, mask_video_encoder, mask_video_decoder)
        ra, xa, sa = self._decode(self.decoder_audio, self.encoder_to_decoder_audio, self.mask_token_audio,
                                  self.pos_embed_audio, fused.audio, afeats, mask_audio_encoder, mask_audio_decoder)
        return PretrainOutput(rv, ra, logits, vfeats, afeats, fused, xv, xa, sv, sa)

    def forward(self, video, mask_video_encoder, mask_video_decoder, audio, mask_audio_encoder,
                mask_audio_decoder):
        """Official return signature: (recon_video, recon_audio, logits_v2a per tap, logits_a2v per tap)."""
        out = self.forward_all(video, mask_video_encoder, mask_video_decoder, audio, mask_audio_encoder,
                               mask_audio_decoder)
        return out.recon_video, out.recon_audio, out.logits_v2a, out.logits_a2v

    def losses(self, out: PretrainOutput, video, mask_video_encoder, mask_video_decoder, audio,
               mask_audio_encoder, mask_audio_decoder) -> PretrainLosses:
        cfg = self.cfg
        b = video.shape[0]
        with torch.no_grad():
            tv = video_target(video, cfg.patch_size, cfg.tubelet_size, cfg.frame_diff_target,
                              keep=~mask_video_decoder)
            ta = audio_target(audio, cfg.audio_patch_size)
            ta = ta[~mask_audio_decoder].reshape(b, -1, ta.shape[-1])
            wv = mask_video_encoder[~mask_video_decoder].reshape(b, -1)
            wa = mask_audio_encoder[~mask_audio_decoder].reshape(b, -1)
        lv = masked_mse(out.recon_video, tv, wv)
        la = masked_mse(out.recon_audio, ta, wa)
        terms = [symmetric_infonce(lg) for lg in out.logits_v2a]
        contrastive = [t[0] for t in terms]
        total = lv + la + cfg.contrastive_weight * torch.stack(contrastive).sum()
        return PretrainLosses(total, lv, la, contrastive, [t[1] for t in terms], [t[2] for t in terms],
                              tv, ta, wv, wa)
