"""avfmae-micro: the AVF-MAE++ architecture at a reduced input geometry, for CPU demonstrations.

Why a separate variant: the paper geometry (16 frames x 160 px, 256 x 128 fbank: 800 + 128 tokens) costs about
0.1 s per training sample for avfmae-tiny on one CPU core, so the three-stage demonstration cannot run in minutes.
avfmae-micro keeps every architectural element (LG encoders with region tokens and the holistic attention, IAVCL
with 2 DiER units + HAFE, skip decoders, dual masking, HCMCL) and shrinks the inputs:

    video 8 frames (stride 4) x 64 x 64 px -> 4 x 4 x 4 = 64 tokens, regions (2, 2, 4) -> 4 region tokens
    audio 128 fbank frames (1.28 s) x 64 mel -> 8 x 4 = 32 tokens, regions (4, 2) -> 4 region tokens
    width 64, 4 heads, 4 + 4 LG layers, IAVCL depth 2, decoders 32 / 2 heads / depth 4, taps (1, 2, 3)
    masks: video tube 0.75 (16 of 64 tokens visible: 0.9 would leave 2 patches a frame on a 4 x 4 grid),
           running cell 0.5; audio random 0.75 (8 of 32 visible, a multiple of the 4 chunks), random 0.5

The spec belongs in the zoo registry (zoo/models.py); until it is registered there, `ensure_registered()` adds it
at run time (it is a no-op once the zoo knows the name), so `zoo.create_model("avfmae-micro.<tag>")` works in any
process that imported avfmae.train.
"""
from __future__ import annotations

from avfmae.models import AVFConfig

NAME = "avfmae-micro"


def micro_spec():
    from zoo.spec import InputContract, ModelSpec

    return ModelSpec(
        name=NAME, family="avfmae", test_size=True,
        description="CPU demo geometry: 8 x 64 px video, 128 x 64 fbank; width 64, 4 heads, 4+4 layers, decoders "
                    "32/2/4 (avfmae.train.micro)",
        arch=AVFConfig(img_size=64, num_frames=8, audio_size=(128, 64), embed_dim=64, num_heads=4, depth=4,
                       depth_audio=4, video_region=(2, 2, 4), audio_region=(4, 2), fusion_depth=2, fusion_heads=4,
                       num_classes=6, decoder_dim=32, decoder_heads=2, decoder_depth=4, taps=(1, 2, 3),
                       mask_ratio_video=0.75, mask_ratio_audio=0.75),
        input=InputContract(num_frames=8, frame_stride=4, img_size=64, num_mel_bins=64, target_length=128),
    )


def ensure_registered() -> None:
    """Register avfmae-micro in the zoo unless the zoo already has it."""
    import zoo

    try:
        zoo.get_spec(NAME)
    except KeyError:
        zoo.register_model(micro_spec())
