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

Its ModelSpec is registered by the zoo (avfmae/zoo/models.py), like every other variant.
"""
from __future__ import annotations

NAME = "avfmae-micro"


def ensure_registered() -> None:
    """Kept for callers: the zoo registers avfmae-micro itself; this only checks it is there."""
    from avfmae import zoo

    zoo.get_spec(NAME)
