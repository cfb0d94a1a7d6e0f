"""HiCMAE, the baseline AVF-MAE++ is compared against ("hicmae-base" in the zoo).

HiCMAE (Sun et al., 2024) is the predecessor audio-visual masked autoencoder. Compared with AVF-MAE++ it has:
- plain pre-LN ViT encoders with global self-attention (no region tokens, no LG blocks);
- a fusion encoder of K layers, each a video block and an audio block (cross-attention to the other modality,
  self-attention, MLP); both blocks of a layer read the PREVIOUS layer's outputs, then per-modality LayerNorms;
- one encoder LayerNorm applied to every layer's output (taps, encoder output, fine-tune layer features);
- a single mask per modality: masked positions are hidden from the encoder AND all of them are reconstructed;
  the reconstruction loss is a plain MSE over every predicted element;
- the same skip decoders (block 0 plain, block j >= 1 cross-attends to skips[-j]) and the same hierarchical
  contrastive loss on the unimodal tapped features as AVF-MAE++.

Module and parameter names, and the state-dict order, equal the official checkpoints (sunlicai/HiCMAE), so an
official `state_dict` loads strictly. The sinusoid position tables are non-persistent buffers, as in AVF-MAE++.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .decoder import Block, Decoder, SkipBlock
from .geometry import head_activation
from .hicmae_config import HiCMAEConfig, hicmae_from_official_kwargs, hicmae_to_official_kwargs  # noqa: F401
from .layers import drop_path, init_mae_, layer_norm, sinusoid_table
from .losses import audio_target, contrastive_logits, symmetric_infonce, video_target
from .tokenizers import AudioPatchEmbed, VideoPatchEmbed


# ---------------------------------------------------------------------------------------------------------------
# building blocks (the plain and the cross+self blocks are the decoder's, with stochastic depth added)
# ---------------------------------------------------------------------------------------------------------------
class EncoderBlock(Block):
    """Pre-LN ViT block: x + attn(norm1(x)), then x + mlp(norm2(x)), each through stochastic depth."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, drop_path_rate: float = 0.0):
        super().__init__(dim, num_heads, mlp_ratio)
        self.drop_path = drop_path(drop_path_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class FusionBlock(SkipBlock):
    """Cross-attention to the other modality, self-attention, MLP; each residual through stochastic depth."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, drop_path_rate: float = 0.0):
        super().__init__(dim, num_heads, mlp_ratio)
        self.drop_path = drop_path(drop_path_rate)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        dp = self.drop_path
        x = x + dp(self.cross_attn(self.cross_norm1(x), self.cross_norm2(context)))
        x = x + dp(self.attn(self.norm1(x)))
        return x + dp(self.mlp(self.norm2(x)))


def _rates(rate: float, n: int) -> list[float]:
    """Stochastic-depth rates, the official float32 linspace."""
    return torch.linspace(0, rate, n, device="cpu").tolist()


def _trunc_normal_vit_(module: nn.Module) -> None:
    """The fine-tune encoders' init: Linear weights N(0, 0.02) truncated to [-2, 2], zero biases, LayerNorm 1/0."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def _visible(x: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """Rows of x (B, N, C) where `hidden` (B, N) is False, in increasing position order -> (B, N_vis, C)."""
    counts = (~hidden).sum(dim=1)
    if counts.numel() and bool((counts != counts[0]).any()):
        raise ValueError(f"every sample needs the same number of visible tokens, got {counts.tolist()}")
    return x[~hidden].reshape(x.shape[0], -1, x.shape[-1])


class ViTEncoder(nn.Module):
    """Tokeniser + fixed sinusoid positions + pre-LN ViT blocks + ONE final LayerNorm used for every layer."""

    def __init__(self, patch_embed: nn.Module, num_tokens: int, dim: int, depth: int, num_heads: int,
                 mlp_ratio: float, drop_path_rate: float = 0.0):
        super().__init__()
        self.patch_embed = patch_embed
        self.register_buffer("pos_embed", sinusoid_table(num_tokens, dim), persistent=False)
        rates = _rates(drop_path_rate, depth)
        self.blocks = nn.ModuleList(EncoderBlock(dim, num_heads, mlp_ratio, rates[i]) for i in range(depth))
        self.norm = layer_norm(dim)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.patch_embed(x) + self.pos_embed.to(x.dtype)

    def forward_layers(self, x: torch.Tensor) -> torch.Tensor:
        """Fine-tune path: all tokens -> every layer's LayerNorm-ed output, stacked (B, N, depth, C)."""
        h = self.embed(x)
        per_layer = []
        for blk in self.blocks:
            h = blk(h)
            per_layer.append(h)
        return self.norm(torch.stack(per_layer, dim=2))

    def forward_visible(self, x: torch.Tensor, hidden: torch.Tensor) -> list[torch.Tensor]:
        """Pre-train path: `hidden` (B, N) bool, True = masked out. Returns every layer's LayerNorm-ed visible
        tokens (B, N_vis, C) in increasing position order; the last one is the encoder output."""
        h = _visible(self.embed(x), hidden)
        feats = []
        for blk in self.blocks:
            h = blk(h)
            feats.append(self.norm(h))
        return feats


class FusionEncoder(nn.Module):
    """K layers of (video block, audio block) reading the previous layer's outputs, then LayerNorms."""

    def __init__(self, dim: int, depth: int, num_heads: int, mlp_ratio: float, drop_path_rate: float = 0.0):
        super().__init__()
        rates = _rates(drop_path_rate, depth)
        self.blocks = nn.ModuleList(FusionBlock(dim, num_heads, mlp_ratio, rates[i]) for i in range(depth))
        self.norm = layer_norm(dim)
        self.blocks_audio = nn.ModuleList(FusionBlock(dim, num_heads, mlp_ratio, rates[i]) for i in range(depth))
        self.norm_audio = layer_norm(dim)

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for blk, blk_audio in zip(self.blocks, self.blocks_audio):
            video, audio = blk(video, audio), blk_audio(audio, video)   # simultaneous update
        return self.norm(video), self.norm_audio(audio)


def build_encoders(cfg: HiCMAEConfig, drop_path_rate: float) -> tuple[ViTEncoder, ViTEncoder]:
    video = ViTEncoder(VideoPatchEmbed(cfg.patch_size, cfg.tubelet_size, cfg.embed_dim), cfg.num_video_tokens,
                       cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.mlp_ratio, drop_path_rate)
    audio = ViTEncoder(AudioPatchEmbed(cfg.audio_patch_size, cfg.embed_dim), cfg.num_audio_tokens,
                       cfg.embed_dim, cfg.depth_audio, cfg.num_heads, cfg.mlp_ratio, drop_path_rate)
    return video, audio


# ---------------------------------------------------------------------------------------------------------------
# fine-tune model
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class HiCMAEFinetuneOutput:
    logits: torch.Tensor                 # (B, num_classes), after the head activation
    feature: torch.Tensor                # fc_norm output, the head's input (B, 4C)
    concat_feature: torch.Tensor         # fc_norm input: [video, audio, fused video, fused audio] pooled
    layers_video: torch.Tensor           # (B, Nv, depth, C) every layer's LayerNorm-ed tokens
    layers_audio: torch.Tensor           # (B, Na, depth_audio, C)
    fused_video: torch.Tensor            # (B, Nv, C) fusion output (after its LayerNorm)
    fused_audio: torch.Tensor            # (B, Na, C)


class HiCMAEClassifier(nn.Module):
    """forward(video (B,3,T,H,W), audio (B,1,time,mel)) -> logits (B, num_classes).

    Official `AudioVisionTransformer`: `forward(video, audio, save_feature=True)` also returns the fc_norm
    output. Feature = fc_norm([sum_l softmax(video_layer_weights)_l * mean_tokens(video layer l); same for audio;
    mean_tokens(fused video); mean_tokens(fused audio)]); the fusion encoder reads the last layer's tokens.
    """

    def __init__(self, cfg: HiCMAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder, self.encoder_audio = build_encoders(cfg, cfg.drop_path_rate)
        self.encoder.apply(_trunc_normal_vit_)
        self.encoder_audio.apply(_trunc_normal_vit_)
        self.encoder_fusion = FusionEncoder(cfg.embed_dim, cfg.fusion_depth, cfg.fusion_heads, cfg.mlp_ratio,
                                            cfg.drop_path_rate)
        self.encoder_fusion.apply(init_mae_)
        # official quirk: fc_norm, head (and init_scale) keep PyTorch's default init
        self.fc_norm = layer_norm(cfg.feature_dim)
        self.head = nn.Linear(cfg.feature_dim, cfg.num_classes) if cfg.num_classes > 0 else nn.Identity()
        self.head_activation_func = head_activation(cfg.head_activation)
        self.video_layer_weights = nn.Parameter(torch.ones(cfg.depth) / cfg.depth)
        self.audio_layer_weights = nn.Parameter(torch.ones(cfg.depth_audio) / cfg.depth_audio)

    def forward_all(self, video: torch.Tensor, audio: torch.Tensor) -> HiCMAEFinetuneOutput:
        lv = self.encoder.forward_layers(video)
        la = self.encoder_audio.forward_layers(audio)
        wv = torch.softmax(self.video_layer_weights, dim=0).view(1, -1, 1)
        wa = torch.softmax(self.audio_layer_weights, dim=0).view(1, -1, 1)
        pooled_v = (lv.mean(dim=1) * wv).sum(dim=1)
        pooled_a = (la.mean(dim=1) * wa).sum(dim=1)
        fv, fa = self.encoder_fusion(lv[:, :, -1], la[:, :, -1])
        concat = torch.cat((pooled_v, pooled_a, fv.mean(dim=1), fa.mean(dim=1)), dim=-1)
        feature = self.fc_norm(concat)
        logits = self.head_activation_func(self.head(feature))
        return HiCMAEFinetuneOutput(logits, feature, concat, lv, la, fv, fa)

    def forward_features(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        return self.forward_all(video, audio).feature

    def forward(self, video: torch.Tensor, audio: torch.Tensor, save_feature: bool = False):
        out = self.forward_all(video, audio)
        return (out.logits, out.feature) if save_feature else out.logits


def classification_losses(logits: torch.Tensor, labels: torch.Tensor, smoothing: float = 0.1):
    """(validation cross-entropy, training label-smoothing cross-entropy) of the official fine-tune engine."""
    return F.cross_entropy(logits, labels), F.cross_entropy(logits, labels, label_smoothing=smoothing)


# ---------------------------------------------------------------------------------------------------------------
# pre-train model
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class HiCMAEPretrainOutput:
    recon_video: torch.Tensor              # (B, Nv_masked, 1536) predictions at every masked position
    recon_audio: torch.Tensor              # (B, Na_masked, 256)
    logits_v2a: list                       # per tap (B, B)
    video_feats: list = field(repr=False)  # per layer (B, Nv_vis, C), LayerNorm-ed; [-1] = encoder output
    audio_feats: list = field(repr=False)
    fused_video: torch.Tensor = field(repr=False)   # fusion output (after its LayerNorm), visible tokens
    fused_audio: torch.Tensor = field(repr=False)
    decoder_in_video: torch.Tensor = field(repr=False)
    decoder_in_audio: torch.Tensor = field(repr=False)
    skips_video: list = field(repr=False)  # tap order; decoder block j uses skips[-j]
    skips_audio: list = field(repr=False)

    @property
    def logits_a2v(self) -> list:
        return [lg.t() for lg in self.logits_v2a]


@dataclass
class HiCMAEPretrainLosses:
    total: torch.Tensor
    video: torch.Tensor
    audio: torch.Tensor
    contrastive: list          # per tap: 0.5*(ce_v2a + ce_a2v)
    ce_v2a: list
    ce_a2v: list
    target_video: torch.Tensor  # (B, Nv_masked, 1536) at the masked positions, increasing order
    target_audio: torch.Tensor

    @property
    def contrastive_sum(self) -> torch.Tensor:
        return torch.stack(self.contrastive).sum()

    @property
    def mae(self) -> torch.Tensor:
        return self.video + self.audio


class HiCMAEPretrain(nn.Module):
    """Official `PretrainAudioVisionTransformer`: forward(video, mask_video, audio, mask_audio) ->
    (recon_video, recon_audio, logits_v2a per tap, logits_a2v per tap). Masks (B, N) bool, True = hidden from
    the encoder and reconstructed; every sample must hide the same number of tokens."""

    def __init__(self, cfg: HiCMAEConfig):
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
        self.encoder_fusion = FusionEncoder(cfg.embed_dim, cfg.fusion_depth, cfg.fusion_heads, cfg.mlp_ratio)
        self.register_buffer("pos_embed", sinusoid_table(cfg.num_video_tokens, d), persistent=False)
        self.register_buffer("pos_embed_audio", sinusoid_table(cfg.num_audio_tokens, d), persistent=False)
        # official init: each sub-model inits itself (xavier / zero / LayerNorm 1-0); the top-level projections
        # keep PyTorch's default init; the mask tokens are N(0, 0.02) truncated to one std
        for m in (self.encoder, self.decoder, self.encoder_audio, self.decoder_audio, self.encoder_fusion):
            m.apply(init_mae_)
        for t in (self.mask_token, self.mask_token_audio):
            nn.init.trunc_normal_(t, std=0.02, a=-0.02, b=0.02)

    def _decoder_inputs(self, proj, mask_token, pos, fused, feats, hidden):
        b = fused.shape[0]
        pos = pos.expand(b, -1, -1).to(fused.dtype)
        pos_vis = _visible(pos, hidden)
        pos_hidden = _visible(pos, ~hidden)
        x = torch.cat((proj(fused) + pos_vis, mask_token.to(fused.dtype) + pos_hidden), dim=1)
        skips = [proj(feats[t]) + pos_vis for t in self.cfg.taps]
        return x, skips, pos_hidden.shape[1]

    def forward_all(self, video, mask_video, audio, mask_audio) -> HiCMAEPretrainOutput:
        vfeats = self.encoder.forward_visible(video, mask_video)
        afeats = self.encoder_audio.forward_visible(audio, mask_audio)
        logits = [contrastive_logits(vfeats[t], afeats[t], self.cfg.temperature) for t in self.cfg.taps]
        fv, fa = self.encoder_fusion(vfeats[-1], afeats[-1])
        xv, sv, nv = self._decoder_inputs(self.encoder_to_decoder, self.mask_token, self.pos_embed, fv, vfeats,
                                          mask_video)
        xa, sa, na = self._decoder_inputs(self.encoder_to_decoder_audio, self.mask_token_audio,
                                          self.pos_embed_audio, fa, afeats, mask_audio)
        rv = self.decoder(xv, sv, nv)
        ra = self.decoder_audio(xa, sa, na)
        return HiCMAEPretrainOutput(rv, ra, logits, vfeats, afeats, fv, fa, xv, xa, sv, sa)

    def forward(self, video, mask_video, audio, mask_audio):
        """Official return signature: (recon_video, recon_audio, logits_v2a per tap, logits_a2v per tap)."""
        out = self.forward_all(video, mask_video, audio, mask_audio)
        return out.recon_video, out.recon_audio, out.logits_v2a, out.logits_a2v

    def targets(self, video, mask_video, audio, mask_audio) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstruction targets at the masked positions (increasing order): per-tubelet, per-channel
        normalised video (frame difference in the second half), per-patch normalised fbank."""
        cfg = self.cfg
        with torch.no_grad():
            tv = video_target(video, cfg.patch_size, cfg.tubelet_size, cfg.frame_diff_target)
            ta = audio_target(audio, cfg.audio_patch_size)
            return _visible(tv, ~mask_video), _visible(ta, ~mask_audio)

    def losses(self, out: HiCMAEPretrainOutput, video, mask_video, audio, mask_audio) -> HiCMAEPretrainLosses:
        """Official engine loss: MSE(video) + MSE(audio) (plain means over every predicted element)
        + contrastive_weight * sum over taps of the symmetric in-batch cross-entropy."""
        tv, ta = self.targets(video, mask_video, audio, mask_audio)
        lv = F.mse_loss(out.recon_video, tv)
        la = F.mse_loss(out.recon_audio, ta)
        terms = [symmetric_infonce(lg) for lg in out.logits_v2a]
        contrastive = [t[0] for t in terms]
        total = lv + la + self.cfg.contrastive_weight * torch.stack(contrastive).sum()
        return HiCMAEPretrainLosses(total, lv, la, contrastive, [t[1] for t in terms], [t[2] for t in terms],
                                    tv, ta)


__all__ = ["HiCMAEClassifier", "HiCMAEConfig", "HiCMAEFinetuneOutput", "HiCMAEPretrain", "HiCMAEPretrainLosses",
           "HiCMAEPretrainOutput", "classification_losses", "hicmae_from_official_kwargs",
           "hicmae_to_official_kwargs"]
