"""HiCMAE's configuration and its mapping to and from the official model kwargs (the model is in hicmae.py)."""
from __future__ import annotations

from dataclasses import dataclass

from .geometry import TokenGeometry


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

    # ---- derived geometry ----------------------------------------------------------------------------------

    @property
    def feature_dim(self) -> int:
        """Width of the fine-tune feature: [video, audio, fused video, fused audio] pooled = 4C."""
        return 4 * self.embed_dim


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
