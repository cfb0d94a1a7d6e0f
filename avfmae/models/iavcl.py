"""IAVCL: Iterative Audio-Visual Correlation Learning (K DiER units, then the HAFE layer).

DiER unit k = Dense Interaction (per modality: a self branch and a cross branch, mixed by two sigmoid gates)
followed by the ER refinement of the global vector F. One ER module is shared by every unit; it is
projection-free single-head attention (F queries the raw modality tokens), then Conv1x1 + BatchNorm + PReLU per
modality, a residual and a LayerNorm (eps 1e-5). A Linear 2C -> C first narrows F while it is 2C wide.

HAFE: per token, the K unit outputs attend to each other (a length-K sequence), are weighted by unnormalised
sigmoid stage weights and summed, receive the global vector through one cross-attention shared by both
modalities, and pass an MLP.

Module names follow the official checkpoints so released weights load by name.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .layers import Attention, CrossAttention, Mlp, drop_path, layer_norm, linear_ramp, run_block


class DenseInteraction(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, drop_path_rate: float = 0.0):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.cross_attn = CrossAttention(dim, num_heads)
        self.cross_norm1 = layer_norm(dim)
        self.cross_norm2 = layer_norm(dim)
        self.cross_attn_a = CrossAttention(dim, num_heads)
        self.cross_norm1_a = layer_norm(dim)
        self.cross_norm2_a = layer_norm(dim)
        self.norm1 = layer_norm(dim)
        self.attn = Attention(dim, num_heads)
        self.norm_new = layer_norm(dim)
        self.attn_new = Attention(dim, num_heads)
        self.norm_vsa, self.mlp_vsa = layer_norm(dim), Mlp(dim, hidden)
        self.norm_asa, self.mlp_asa = layer_norm(dim), Mlp(dim, hidden)
        self.norm_vcma, self.mlp_vcma = layer_norm(dim), Mlp(dim, hidden)
        self.norm_acma, self.mlp_acma = layer_norm(dim), Mlp(dim, hidden)
        self.norm3 = layer_norm(dim)
        self.norm3_1 = layer_norm(dim)
        self.lv1, self.lv2 = nn.Linear(2 * dim, dim), nn.Linear(2 * dim, dim)
        self.la1, self.la2 = nn.Linear(2 * dim, dim), nn.Linear(2 * dim, dim)
        self.drop_path = drop_path(drop_path_rate)

    def _branch(self, x, attn_out, norm, mlp):
        x = x + self.drop_path(attn_out)
        return x + self.drop_path(mlp(norm(x)))

    @staticmethod
    def _gate(s, c, g1, g2, norm):
        sc = torch.cat((s, c), dim=-1)
        return norm(torch.sigmoid(g1(sc)) * s + torch.sigmoid(g2(sc)) * c)

    def forward(self, v: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sv = self._branch(v, self.attn(self.norm1(v)), self.norm_vsa, self.mlp_vsa)
        sa = self._branch(a, self.attn_new(self.norm_new(a)), self.norm_asa, self.mlp_asa)
        cv = self._branch(v, self.cross_attn(self.cross_norm1(v), self.cross_norm2(a)), self.norm_vcma, self.mlp_vcma)
        ca = self._branch(a, self.cross_attn_a(self.cross_norm1_a(a), self.cross_norm2_a(v)), self.norm_acma,
                          self.mlp_acma)
        return (self._gate(sv, cv, self.lv1, self.lv2, self.norm3),
                self._gate(sa, ca, self.la1, self.la2, self.norm3_1))


def _conv_bn_act(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(dim, dim, kernel_size=1), nn.BatchNorm1d(dim), nn.PReLU())


class Refinement(nn.Module):
    """The ER step: F <- LN(F + CBA_a(softmax(F A^T / sqrt(C)) A) + CBA_v(softmax(F V^T / sqrt(C)) V))."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.layer_norm = nn.LayerNorm(dim, eps=1e-5)
        self.post_extract_proj = nn.Linear(2 * dim, dim)
        self.conv_audio = _conv_bn_act(dim)
        self.conv_video = _conv_bn_act(dim)

    def _attend(self, f: torch.Tensor, tokens: torch.Tensor, cba: nn.Sequential) -> torch.Tensor:
        weights = torch.softmax(f @ tokens.transpose(1, 2) / self.dim ** 0.5, dim=-1)
        return cba((weights @ tokens).transpose(1, 2)).transpose(1, 2)

    def forward(self, f: torch.Tensor, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        if f.shape[-1] == 2 * self.dim:
            f = self.post_extract_proj(f)
        return self.layer_norm(f + self._attend(f, a, self.conv_audio) + self._attend(f, v, self.conv_video))


@dataclass
class IAVCLOutput:
    video: torch.Tensor            # (B, Nv, C) fused video tokens
    audio: torch.Tensor            # (B, Na, C) fused audio tokens
    overall: torch.Tensor          # (B, Nf, C) final global vector F^K
    units: list                    # per DiER unit: (video, audio, overall) after the unit


class IAVCL(nn.Module):
    def __init__(self, dim: int, depth: int, num_heads: int, mlp_ratio: float = 4.0, drop_path_rate: float = 0.0,
                 pretrain_key_order: bool = False, refine: bool = True, stage_fusion: bool = True):
        """`pretrain_key_order` only changes where `norm`/`norm_audio` sit in the state dict's key order, to
        list keys exactly as the official pre-train class does (its fine-tune twin registers them later).
        Ablations: `refine=False` keeps the global vector at the projected F0 (no ER update);
        `stage_fusion=False` drops HAFE's attention and weighting across the K unit outputs (the last unit's
        tokens go straight to the global injection; those weights are then not created)."""
        super().__init__()
        self.refine, self.stage_fusion = refine, stage_fusion
        hidden = int(dim * mlp_ratio)
        self.blocks = nn.ModuleList(DenseInteraction(dim, num_heads, mlp_ratio, r)
                                    for r in linear_ramp(drop_path_rate, depth))
        if pretrain_key_order and stage_fusion:
            self.norm, self.norm_audio = layer_norm(dim), layer_norm(dim)
        self.Iterative_Refinement_Module = Refinement(dim)
        self.cross_attn = CrossAttention(dim, num_heads)
        self.cross_norm_1 = layer_norm(dim)
        self.cross_norm_2 = layer_norm(dim)
        self.cross_norm_3 = layer_norm(dim)
        if stage_fusion:
            if not pretrain_key_order:
                self.norm, self.norm_audio = layer_norm(dim), layer_norm(dim)
            self.vadaptiveinteraction = Attention(dim, num_heads)
            self.aadaptiveinteraction = Attention(dim, num_heads)
            self.vselectfusion = nn.Linear(dim, 1)
            self.aselectfusion = nn.Linear(dim, 1)
            self.norm_att_v, self.mlp_att_v = layer_norm(dim), Mlp(dim, hidden)
            self.norm_att_a, self.mlp_att_a = layer_norm(dim), Mlp(dim, hidden)
        self.norm_att_v_IR = layer_norm(dim)
        self.norm_att_a_IR = layer_norm(dim)
        self.mlp_att_video_IR = Mlp(dim, hidden)
        self.mlp_att_audio_IR = Mlp(dim, hidden)
        self.hafe_drop_path = drop_path(0.5 * drop_path_rate)
        self.grad_checkpointing = False     # recompute each DiER unit's dense interaction in backward (no BatchNorm
        #                                     there, so a recompute changes no running statistic)

    def _stage_fusion(self, stages: list, attn, norm, mlp_norm, mlp, select) -> torch.Tensor:
        b, n, c = stages[0].shape
        x = torch.stack(stages, dim=2).reshape(b * n, len(stages), c)
        dp = self.hafe_drop_path
        x = x + dp(attn(norm(x)))
        x = x + dp(mlp(mlp_norm(x)))
        weights = torch.sigmoid(select(x))                       # (B*N, K, 1), not normalised
        return (weights.transpose(1, 2) @ x).reshape(b, n, c)

    def forward(self, v: torch.Tensor, a: torch.Tensor, overall: torch.Tensor) -> IAVCLOutput:
        units, vs, as_ = [], [], []
        er = self.Iterative_Refinement_Module
        for blk in self.blocks:
            v, a = run_block(blk, self.grad_checkpointing, v, a)
            if self.refine:
                overall = er(overall, v, a)
            elif overall.shape[-1] != v.shape[-1]:
                overall = er.post_extract_proj(overall)
            units.append((v, a, overall))
            vs.append(v)
            as_.append(a)
        dp = self.hafe_drop_path
        if self.stage_fusion:
            ov = self._stage_fusion(vs, self.vadaptiveinteraction, self.norm, self.norm_att_v, self.mlp_att_v,
                                    self.vselectfusion)
            oa = self._stage_fusion(as_, self.aadaptiveinteraction, self.norm_audio, self.norm_att_a,
                                    self.mlp_att_a, self.aselectfusion)
        else:
            ov, oa = v, a
        context = self.cross_norm_2(overall)
        ov = ov + dp(self.cross_attn(self.cross_norm_1(ov), context))
        oa = oa + dp(self.cross_attn(self.cross_norm_3(oa), context))
        ov = ov + dp(self.mlp_att_video_IR(self.norm_att_v_IR(ov)))
        oa = oa + dp(self.mlp_att_audio_IR(self.norm_att_a_IR(oa)))
        return IAVCLOutput(ov, oa, overall, units)
