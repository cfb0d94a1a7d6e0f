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
from .geometry import TokenGeometry
from .layers import drop_path, init_mae_, layer_norm, sinusoid_table
from .losses import audio_target, contrastive_logits, symmetric_infonce, video_target
from .tokenizers import AudioPatchEmbed, VideoPatchEmbed


# ---------------------------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HiCMAEConfig(TokenGeometry):
    """Every architecture knob of the HiCMAE fine-tune and pre-train models. Defaults: hicmae-base (MAFW)."""
    # video tokeniser: (B, 3, frames, img, img) -> (frames/tubelet) x (img/patch)^2 tokens
    img_size: int = 160
    patch_size: int = 16
    num_frames: int = 16
    tubelet_size: int = 2
    # audio tokeniser: (B, 1, time, mel) -> (time/patch) x (mel/patch) tokens, time-major
    audio_size: tuple[int, int] = (256, 128)
    audio_patch_size: int = 16
    # encoders (video and audio share the width; depths may differ)
    embed_dim: int = 512
    num_heads: int = 8
    depth: int = 10
    depth_audio: int = 10
    mlp_ratio: float = 4.0
    # fusion encoder
    fusion_depth: int = 2
    fusion_heads: int = 8
    # fine-tune head
    num_classes: int = 11
    drop_path_rate: float = 0.1
    head_activation: str | None = None   # None | "sigmoid" | "relu" | "tanh" (regression heads)
    # pre-training: decoders, taps, loss
    decoder_dim: int = 384
    decoder_heads: int = 6
    decoder_depth: int = 4
    taps: tuple[int, ...] = (3, 6, 9)    # 0-based encoder layers feeding the contrastive loss and the skips
    contrastive_weight: float = 0.0025
    temperature: float = 0.07
    frame_diff_target: bool = True
    # masking recipe (pre-training data side): tube masking for video, random for audio
    mask_ratio_video: float = 0.9
    mask_ratio_audio: float = 0.8

    def __post_init__(self):
        self.check_shared()
        if self.decoder_depth - 1 != len(self.taps):
            raise ValueError(f"decoder depth {self.decoder_depth} needs exactly {self.decoder_depth - 1} taps "
                             f"(one skip per cross-attention block), got {self.taps}")
        if self.head_activation not in _ACTIVATIONS:
            raise ValueError(f"head_activation {self.head_activation!r} not in {sorted(map(str, _ACTIVATIONS))}")

    # ---- derived geometry ----------------------------------------------------------------------------------

    @property
    def feature_dim(self) -> int:
        """Width of the fine-tune feature: [video, audio, fused video, fused audio] pooled = 4C."""
        return 4 * self.embed_dim


_ACTIVATIONS = {None: nn.Identity, "sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}

# official options whose other values this implementation does not build
_UNSUPPORTED = {
    "attn_type": "joint",
    "use_learnable_pos_emb": False,
    "init_values": 0.0,
    "qkv_bias": True,
    "qk_scale": None,
    "drop_rate": 0.0,
    "attn_drop_rate": 0.0,
    "encoder_num_classes": 0,
    "encoder_in_chans": 3,
    "in_chans": 3,
    "encoder_in_chans_audio": 1,
    "in_chans_audio": 1,
}


def _check_supported(kwargs: dict, pretrain: bool) -> None:
    for key, supported in _UNSUPPORTED.items():
        if key == "in_chans" and pretrain:
            continue   # the pre-train class takes a dummy in_chans=0 ("avoid the error from create_fn in timm")
        if key in kwargs and kwargs[key] != supported and not (key == "init_values" and kwargs[key] is None):
            raise ValueError(f"official option {key}={kwargs[key]!r} is not supported (only {supported!r})")
    norm = str(kwargs.get("norm_layer", "eps=1e-06"))
    if "1e-06" not in norm:
        raise ValueError(f"norm_layer {norm} is not supported (LayerNorm eps 1e-6 only)")


def _same(a, b, what: str) -> None:
    if a != b:
        raise ValueError(f"different video and audio {what} are not supported ({a} vs {b})")


def hicmae_from_official_kwargs(pretrain: dict | None = None, finetune: dict | None = None) -> HiCMAEConfig:
    """Build a config from the official constructors' keyword arguments (either or both models):
    `PretrainAudioVisionTransformer` (pretrain) and `AudioVisionTransformer` (finetune) of sunlicai/HiCMAE,
    as recorded in the goldens' config.json and the parameter manifests.

    Raises ValueError naming any official option whose value this implementation does not build.
    """
    if not pretrain and not finetune:
        raise ValueError("need the pre-train or the fine-tune constructor kwargs")
    cfg: dict = {}
    if finetune:
        f = finetune
        _check_supported(f, pretrain=False)
        _same(f["embed_dim"], f.get("embed_dim_audio", f["embed_dim"]), "widths")
        _same(f["num_heads"], f.get("num_heads_audio", f["num_heads"]), "head counts")
        cfg.update(
            img_size=f["img_size"], patch_size=f["patch_size"], num_frames=f.get("all_frames", 16),
            tubelet_size=f["tubelet_size"], audio_size=tuple(f["img_size_audio"]),
            audio_patch_size=f["patch_size_audio"], embed_dim=f["embed_dim"], num_heads=f["num_heads"],
            depth=f["depth"], depth_audio=f["depth_audio"], mlp_ratio=float(f["mlp_ratio"]),
            fusion_depth=f["fusion_depth"], fusion_heads=f.get("fusion_num_heads", f["num_heads"]),
            num_classes=f["num_classes"], drop_path_rate=f.get("drop_path_rate", 0.0),
            head_activation=f.get("head_activation_func"),
        )
    if pretrain:
        p = pretrain
        _check_supported(p, pretrain=True)
        _same(p["encoder_embed_dim"], p.get("encoder_embed_dim_audio", p["encoder_embed_dim"]), "widths")
        _same(p["encoder_num_heads"], p.get("encoder_num_heads_audio", p["encoder_num_heads"]), "head counts")
        _same(p["decoder_embed_dim"], p.get("decoder_embed_dim_audio", p["decoder_embed_dim"]), "decoder widths")
        _same(p["decoder_depth"], p.get("decoder_depth_audio", p["decoder_depth"]), "decoder depths")
        _same(p["decoder_num_heads"], p.get("decoder_num_heads_audio", p["decoder_num_heads"]),
              "decoder head counts")
        if p.get("drop_path_rate", 0.0):
            raise ValueError("pre-training with drop_path_rate > 0 is not supported (the official scripts use 0)")
        shared = dict(
            img_size=p["img_size"], patch_size=p["patch_size"], tubelet_size=p["tubelet_size"],
            audio_size=tuple(p["img_size_audio"]), audio_patch_size=p["patch_size_audio"],
            embed_dim=p["encoder_embed_dim"], num_heads=p["encoder_num_heads"], depth=p["encoder_depth"],
            depth_audio=p["encoder_depth_audio"], mlp_ratio=float(p["mlp_ratio"]),
            fusion_depth=p["encoder_fusion_depth"], fusion_heads=p["encoder_fusion_num_heads"],
        )
        for k, v in shared.items():
            if k in cfg and cfg[k] != v:
                raise ValueError(f"pre-train and fine-tune kwargs disagree on {k}: {v} vs {cfg[k]}")
        cfg.update(shared)
        cfg.update(
            decoder_dim=p["decoder_embed_dim"], decoder_heads=p["decoder_num_heads"],
            decoder_depth=p["decoder_depth"], taps=tuple(p["return_intermediate_features"]),
            temperature=p.get("inter_contrastive_temperature", 0.07),
        )
        if not finetune:
            cfg["num_classes"] = 0
    else:
        # a fine-tune-only description says nothing about pre-training: keep the default taps where they fit
        # the encoders, else tap the last layers (one skip per decoder cross-attention block)
        depth_min = min(cfg["depth"], cfg["depth_audio"])
        if any(t >= depth_min for t in HiCMAEConfig.taps):
            taps = tuple(range(depth_min))[-(HiCMAEConfig.decoder_depth - 1):]
            cfg.update(taps=taps, decoder_depth=len(taps) + 1)
    out = HiCMAEConfig(**cfg)
    if pretrain:
        for key, expected in (("decoder_num_classes", out.video_patch_dim),
                              ("decoder_num_classes_audio", out.audio_patch_dim)):
            if key in pretrain and pretrain[key] != expected:
                raise ValueError(f"official option {key}={pretrain[key]} does not match the patch size "
                                 f"(this implementation predicts {expected} values per token)")
    return out


def hicmae_to_official_kwargs(cfg: HiCMAEConfig) -> dict:
    """Inverse of hicmae_from_official_kwargs: {"pretrain": ..., "finetune": ...} keyword arguments of the official
    constructors, with every default filled in (the form of the manifests' `constructor_kwargs`). The official
    pre-train class has no frame-count argument: it is always built for 16 frames."""
    common = dict(img_size=cfg.img_size, patch_size=cfg.patch_size, mlp_ratio=cfg.mlp_ratio, qkv_bias=True,
                  qk_scale=None, drop_rate=0.0, attn_drop_rate=0.0, norm_layer="LayerNorm(eps=1e-06)",
                  init_values=0.0, use_learnable_pos_emb=False, tubelet_size=cfg.tubelet_size,
                  img_size_audio=list(cfg.audio_size), patch_size_audio=cfg.audio_patch_size)
    pretrain = dict(common, encoder_in_chans=3, encoder_num_classes=0, encoder_embed_dim=cfg.embed_dim,
                    encoder_depth=cfg.depth, encoder_num_heads=cfg.num_heads,
                    decoder_num_classes=cfg.video_patch_dim, decoder_embed_dim=cfg.decoder_dim,
                    decoder_depth=cfg.decoder_depth, decoder_num_heads=cfg.decoder_heads, drop_path_rate=0.0,
                    num_classes=0, in_chans=0, encoder_in_chans_audio=1, encoder_embed_dim_audio=cfg.embed_dim,
                    encoder_depth_audio=cfg.depth_audio, encoder_num_heads_audio=cfg.num_heads,
                    decoder_num_classes_audio=cfg.audio_patch_dim, decoder_embed_dim_audio=cfg.decoder_dim,
                    decoder_depth_audio=cfg.decoder_depth, decoder_num_heads_audio=cfg.decoder_heads,
                    encoder_fusion_depth=cfg.fusion_depth, encoder_fusion_num_heads=cfg.fusion_heads,
                    inter_contrastive_temperature=cfg.temperature, return_intermediate_features=list(cfg.taps))
    finetune = dict(common, in_chans=3, num_classes=cfg.num_classes, embed_dim=cfg.embed_dim, depth=cfg.depth,
                    num_heads=cfg.num_heads, drop_path_rate=cfg.drop_path_rate, init_scale=0.001,
                    all_frames=cfg.num_frames, keep_temporal_dim=False, attn_type="joint", in_chans_audio=1,
                    embed_dim_audio=cfg.embed_dim, depth_audio=cfg.depth_audio, num_heads_audio=cfg.num_heads,
                    fusion_depth=cfg.fusion_depth, fusion_num_heads=cfg.fusion_heads, use_mean_pooling=True,
                    head_activation_func=cfg.head_activation)
    return {"pretrain": pretrain, "finetune": finetune}


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
        self.head_activation_func = _ACTIVATIONS[cfg.head_activation]()
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
