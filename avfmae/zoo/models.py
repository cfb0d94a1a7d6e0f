"""The built-in model variants. Sizes and taps follow the official registry and scripts (spec section 1.1)."""
from __future__ import annotations

from avfmae.models import AVFConfig, AVFMAEClassifier, AVFMAEPretrain
from avfmae.models.hicmae import HiCMAEClassifier, HiCMAEConfig, HiCMAEPretrain

from ._registry import register_family, register_model
from .spec import InputContract, ModelSpec

register_family("avfmae", AVFMAEClassifier, AVFMAEPretrain)
register_family("hicmae", HiCMAEClassifier, HiCMAEPretrain)

register_model(ModelSpec(
    name="avfmae-base", family="avfmae", official_name="avit_dim512_patch16_160_a256", paper_params_m=169,
    description="AVF-MAE++ base: width 512, 8 heads, 10+10 LG layers, IAVCL depth 2, decoders 384/6/4",
    arch=AVFConfig(embed_dim=512, num_heads=8, depth=10, depth_audio=10, fusion_heads=8,
                   decoder_dim=384, decoder_heads=6, decoder_depth=4, taps=(3, 6, 9)),
))
register_model(ModelSpec(
    name="avfmae-large", family="avfmae", official_name="avit_dim640_patch16_160_a256", paper_params_m=303,
    description="AVF-MAE++ large: width 640, 10 heads, 12+12 LG layers, IAVCL depth 2, decoders 512/8/4",
    arch=AVFConfig(embed_dim=640, num_heads=10, depth=12, depth_audio=12, fusion_heads=10,
                   decoder_dim=512, decoder_heads=8, decoder_depth=4, taps=(3, 7, 11)),
))
register_model(ModelSpec(
    name="avfmae-huge", family="avfmae", official_name="avit_dim768_patch16_160_a256", paper_params_m=521,
    description="AVF-MAE++ huge: width 768, 12 heads, 15+15 LG layers, IAVCL depth 2, decoders 640/8/4",
    arch=AVFConfig(embed_dim=768, num_heads=12, depth=15, depth_audio=15, fusion_heads=12,
                   decoder_dim=640, decoder_heads=8, decoder_depth=4, taps=(4, 9, 14)),
))
register_model(ModelSpec(
    name="avfmae-tiny", family="avfmae", test_size=True,
    description="test size (the shape of the official tiny golden): width 48, 4 heads, 4+4 layers, decoders 24/2/4",
    arch=AVFConfig(embed_dim=48, num_heads=4, depth=4, depth_audio=4, fusion_heads=4,
                   decoder_dim=24, decoder_heads=2, decoder_depth=4, taps=(0, 2, 3), num_classes=7),
))
register_model(ModelSpec(
    name="avfmae-small", family="avfmae", test_size=True,
    description="CPU demo size: width 96, 4 heads, 4+4 layers, decoders 48/2/4 (about 3.5 M parameters)",
    arch=AVFConfig(embed_dim=96, num_heads=4, depth=4, depth_audio=4, fusion_heads=4,
                   decoder_dim=48, decoder_heads=2, decoder_depth=4, taps=(1, 2, 3), num_classes=6),
))
register_model(ModelSpec(
    name="hicmae-base", family="hicmae", official_name="avit_dim512_patch16_160_a256 (sunlicai/HiCMAE)",
    paper_params_m=81,
    description="HiCMAE base, the paper's main baseline: joint-attention encoders 10+10, 2 fusion layers",
    arch=HiCMAEConfig(),
))
register_model(ModelSpec(
    name="avfmae-micro", family="avfmae", test_size=True,
    description="CPU demo geometry: 8 x 64 px video, 128 x 64 fbank; width 64, 4 heads, 4+4 layers, every "
                "AVF-MAE++ element (LG regions, IAVCL, skip decoders, dual masking, HCMCL)",
    arch=AVFConfig(img_size=64, num_frames=8, audio_size=(128, 64), embed_dim=64, num_heads=4, depth=4,
                   depth_audio=4, video_region=(2, 2, 4), audio_region=(4, 2), fusion_depth=2, fusion_heads=4,
                   num_classes=6, decoder_dim=32, decoder_heads=2, decoder_depth=4, taps=(1, 2, 3),
                   mask_ratio_video=0.75, mask_ratio_audio=0.75),
    input=InputContract(num_frames=8, frame_stride=4, img_size=64, num_mel_bins=64, target_length=128),
))
