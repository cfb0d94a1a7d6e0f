"""AVFConfig: every architecture knob of the AVF-MAE++ fine-tune and pre-train models, as frozen data.

One config builds both models; the pre-train-only knobs (decoders, masks, loss) are ignored by the fine-tune
model. `from_official_kwargs` maps the official constructors' keyword arguments (as recorded in the goldens'
config.json and the parameter manifests) onto this config, so any official-format description can be built.
"""
from __future__ import annotations

from dataclasses import dataclass

from .geometry import TokenGeometry


@dataclass(frozen=True)
class AVFConfig(TokenGeometry):
    # video tokeniser: (B, 3, frames, img, img) -> (frames/tubelet) x (img/patch)^2 tokens
    img_size: int = 160
    patch_size: int = 16
    num_frames: int = 16
    tubelet_size: int = 2
    # audio tokeniser: (B, 1, time, mel) -> (time/patch) x (mel/patch) tokens, time-major
    audio_size: tuple[int, int] = (256, 128)
    audio_patch_size: int = 16
    # encoders (video and audio have the same width; depths may differ)
    embed_dim: int = 512
    num_heads: int = 8
    depth: int = 10
    depth_audio: int = 10
    mlp_ratio: float = 4.0
    video_region: tuple[int, int, int] = (2, 5, 10)   # (t, h, w) tokens per region -> 8 regions
    audio_region: tuple[int, int] = (4, 4)            # (time, freq) tokens per region -> 8 regions
    # LG block ablations (the official lg_no_second / lg_no_third switches, plus the AVF-MAE++ fourth attention)
    lg_second: bool = True      # region tokens attend to each other
    lg_third: bool = True       # local tokens attend to the region tokens (global -> local)
    lg_fourth: bool = True      # region tokens attend to all local tokens (local -> global, the holistic view)
    # IAVCL
    fusion_depth: int = 2
    fusion_heads: int = 8
    iavcl_refine: bool = True   # ablation: False drops the ER refinement (F stays the projected F0)
    iavcl_stage_fusion: bool = True  # ablation: False drops HAFE's fusion across the K unit outputs
    # fine-tune head
    num_classes: int = 11
    drop_path_rate: float = 0.1
    head_activation: str | None = None   # None | "sigmoid" | "relu" | "tanh" (regression heads)
    # pre-training: decoders, taps, loss
    decoder_dim: int = 384
    decoder_heads: int = 6
    decoder_depth: int = 4
    taps: tuple[int, ...] = (3, 6, 9)    # 0-based encoder layers feeding HCMCL and the decoder skips
    contrastive_weight: float = 0.0025
    temperature: float = 0.07
    frame_diff_target: bool = True
    # dual masking (pre-training data side; kept here so a checkpoint's recipe travels with it)
    mask_ratio_video: float = 0.9
    decoder_mask_ratio_video: float = 0.5
    mask_ratio_audio: float = 0.8125
    decoder_mask_ratio_audio: float = 0.5

    def __post_init__(self):
        self.check_shared()
        for name, grid, region in (("video", self.video_grid, self.video_region),
                                   ("audio", self.audio_grid, self.audio_region)):
            if any(g % r for g, r in zip(grid, region)):
                raise ValueError(f"{name} region {region} does not tile the token grid {grid}")
        if self.num_regions_video != self.num_regions_audio:
            raise ValueError(f"video has {self.num_regions_video} regions, audio {self.num_regions_audio}: "
                             "the IAVCL needs the same number of region tokens per modality")
        if self.decoder_depth - 1 > len(self.taps):
            raise ValueError(f"decoder depth {self.decoder_depth} needs {self.decoder_depth - 1} taps, got {self.taps}")

    # ---- derived geometry -------------------------------------------------------------------------------

    @property
    def num_regions_video(self) -> int:
        return _prod(g // r for g, r in zip(self.video_grid, self.video_region))

    @property
    def num_regions_audio(self) -> int:
        return _prod(g // r for g, r in zip(self.audio_grid, self.audio_region))

    @property
    def num_regions(self) -> int:
        return self.num_regions_video


def _prod(values) -> int:
    out = 1
    for v in values:
        out *= v
    return out


_UNSUPPORTED = {
    "attn_type": "local_global",
    "lg_first_attn_type": "self",
    "lg_third_attn_type": "cross",
    "lg_attn_param_sharing_first_third": False,
    "lg_attn_param_sharing_all": False,
    "use_learnable_pos_emb": False,
    "init_values": 0.0,
    "qkv_bias": True,
    "qk_scale": None,
}


def from_official_kwargs(pretrain: dict | None = None, finetune: dict | None = None) -> AVFConfig:
    """Build a config from the official constructors' keyword arguments (either or both models).

    Raises ValueError naming any official option whose value this implementation does not build.
    """
    if not pretrain and not finetune:
        raise ValueError("need the pre-train or the fine-tune constructor kwargs")
    for kwargs in (pretrain or {}, finetune or {}):
        for key, supported in _UNSUPPORTED.items():
            if key in kwargs and kwargs[key] != supported:
                raise ValueError(f"official option {key}={kwargs[key]!r} is not supported (only {supported!r})")
        norm = str(kwargs.get("norm_layer", "eps=1e-06"))
        if "1e-06" not in norm:
            raise ValueError(f"norm_layer {norm} is not supported (LayerNorm eps 1e-6 only)")
    cfg: dict = {}
    for kwargs in (pretrain or {}, finetune or {}):
        if "lg_no_second" in kwargs:
            cfg["lg_second"] = not kwargs["lg_no_second"]
        if "lg_no_third" in kwargs:
            cfg["lg_third"] = not kwargs["lg_no_third"]
    if finetune:
        f = finetune
        cfg.update(
            img_size=f["img_size"], patch_size=f["patch_size"], num_frames=f.get("all_frames", 16),
            tubelet_size=f["tubelet_size"], audio_size=tuple(f["img_size_audio"]),
            audio_patch_size=f["patch_size_audio"], embed_dim=f["embed_dim"], num_heads=f["num_heads"],
            depth=f["depth"], depth_audio=f["depth_audio"], mlp_ratio=f["mlp_ratio"],
            video_region=tuple(f["lg_region_size"]), audio_region=tuple(f["lg_region_size_audio"]),
            fusion_depth=f["fusion_depth"], fusion_heads=f.get("fusion_num_heads", f["num_heads"]),
            num_classes=f["num_classes"], drop_path_rate=f.get("drop_path_rate", 0.1),
            head_activation=f.get("head_activation_func"),
        )
        if f.get("embed_dim_audio", f["embed_dim"]) != f["embed_dim"]:
            raise ValueError("different video and audio widths are not supported")
        if f.get("lg_classify_token_type", "region") != "region":
            raise ValueError("only lg_classify_token_type='region' is supported")
    if pretrain:
        p = pretrain
        shared = dict(
            img_size=p["img_size"], patch_size=p["patch_size"], tubelet_size=p["tubelet_size"],
            audio_size=tuple(p["img_size_audio"]), audio_patch_size=p["patch_size_audio"],
            embed_dim=p["encoder_embed_dim"], num_heads=p["encoder_num_heads"], depth=p["encoder_depth"],
            depth_audio=p["encoder_depth_audio"], mlp_ratio=p["mlp_ratio"],
            video_region=tuple(p["lg_region_size"]), audio_region=tuple(p["lg_region_size_audio"]),
            fusion_depth=p["encoder_fusion_depth"], fusion_heads=p["encoder_fusion_num_heads"],
        )
        for k, v in shared.items():
            if k in cfg and cfg[k] != v:
                raise ValueError(f"pre-train and fine-tune kwargs disagree on {k}: {v} vs {cfg[k]}")
        cfg.update(shared)
        if p.get("decoder_embed_dim_audio", p["decoder_embed_dim"]) != p["decoder_embed_dim"] or \
                p.get("decoder_depth_audio", p["decoder_depth"]) != p["decoder_depth"] or \
                p.get("decoder_num_heads_audio", p["decoder_num_heads"]) != p["decoder_num_heads"]:
            raise ValueError("different video and audio decoder shapes are not supported")
        cfg.update(
            decoder_dim=p["decoder_embed_dim"], decoder_heads=p["decoder_num_heads"],
            decoder_depth=p["decoder_depth"], taps=tuple(p["return_intermediate_features"]),
            temperature=p.get("inter_contrastive_temperature", 0.07),
        )
        if not finetune:
            cfg["num_classes"] = 0
    return AVFConfig(**cfg)


def to_official_kwargs(cfg: AVFConfig) -> dict:
    """Inverse of from_official_kwargs: the official constructors' keyword arguments for this config."""
    common = dict(img_size=cfg.img_size, patch_size=cfg.patch_size, mlp_ratio=cfg.mlp_ratio, qkv_bias=True,
                  qk_scale=None, drop_rate=0.0, attn_drop_rate=0.0, norm_layer="LayerNorm(eps=1e-06)",
                  init_values=0.0, use_learnable_pos_emb=False, tubelet_size=cfg.tubelet_size,
                  img_size_audio=list(cfg.audio_size), patch_size_audio=cfg.audio_patch_size,
                  attn_type="local_global", lg_region_size=list(cfg.video_region),
                  lg_region_size_audio=list(cfg.audio_region), lg_no_second=not cfg.lg_second,
                  lg_no_third=not cfg.lg_third, **{k: v for k, v in _UNSUPPORTED.items() if k.startswith("lg_")})
    if not (cfg.lg_fourth and cfg.iavcl_refine and cfg.iavcl_stage_fusion):
        raise ValueError("the official constructors have no switch for lg_fourth/iavcl_refine/iavcl_stage_fusion ablations")
    pretrain = dict(common, encoder_in_chans=3, encoder_num_classes=0, encoder_embed_dim=cfg.embed_dim,
                    encoder_depth=cfg.depth, encoder_num_heads=cfg.num_heads,
                    decoder_num_classes=cfg.video_patch_dim, decoder_embed_dim=cfg.decoder_dim,
                    decoder_depth=cfg.decoder_depth, decoder_num_heads=cfg.decoder_heads, drop_path_rate=0.0,
                    encoder_in_chans_audio=1, encoder_embed_dim_audio=cfg.embed_dim,
                    encoder_depth_audio=cfg.depth_audio, encoder_num_heads_audio=cfg.num_heads,
                    decoder_num_classes_audio=cfg.audio_patch_dim, decoder_embed_dim_audio=cfg.decoder_dim,
                    decoder_depth_audio=cfg.decoder_depth, decoder_num_heads_audio=cfg.decoder_heads,
                    encoder_fusion_depth=cfg.fusion_depth, encoder_fusion_num_heads=cfg.fusion_heads,
                    inter_contrastive_temperature=cfg.temperature, return_intermediate_features=list(cfg.taps))
    finetune = dict(common, in_chans=3, num_classes=cfg.num_classes, embed_dim=cfg.embed_dim, depth=cfg.depth,
                    num_heads=cfg.num_heads, drop_path_rate=cfg.drop_path_rate, all_frames=cfg.num_frames,
                    embed_dim_audio=cfg.embed_dim, depth_audio=cfg.depth_audio, num_heads_audio=cfg.num_heads,
                    in_chans_audio=1, fusion_depth=cfg.fusion_depth, fusion_num_heads=cfg.fusion_heads,
                    use_mean_pooling=True, head_activation_func=cfg.head_activation,
                    lg_classify_token_type="region")
    return {"pretrain": pretrain, "finetune": finetune}
