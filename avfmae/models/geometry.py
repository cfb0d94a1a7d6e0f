"""Token geometry, the checks every family's config needs, and dict round-trips, shared by the frozen configs.

A config using this mixin has the fields img_size, patch_size, num_frames, tubelet_size, audio_size,
audio_patch_size, embed_dim, num_heads, fusion_heads, fusion_depth, depth, depth_audio, decoder_dim,
decoder_heads and taps.
"""
from __future__ import annotations

import dataclasses

from ..fieldcheck import POSITIVE, UNIT_OPEN, at_least, check_fields, choice, integer, lists_to_tuples

_SIZE = at_least(1)
_MASK = (lambda v: 0 <= v < 1), "in [0, 1) (the hidden fraction of the tokens; 0.9 hides 90 %)"


def _sizes(n: int):
    return (lambda v: len(v) == n and all(integer(x) and x >= 1 for x in v)), f"{n} integers >= 1"


# a regression head's output activation: None (identity) or one of these torch.nn modules
HEAD_ACTIVATIONS = {None: "Identity", "sigmoid": "Sigmoid", "relu": "ReLU", "tanh": "Tanh"}


def head_activation(name: str | None):
    """The torch module of a head activation name (None: identity)."""
    from torch import nn

    return getattr(nn, HEAD_ACTIVATIONS[name])()


# field -> (test, what it takes), for the fields of either family (avfmae.fieldcheck; the types come from the
# dataclass). A mask ratio below 1 leaves int((1 - ratio) * N) >= 1 tokens visible.
MODEL_RULES: dict[str, tuple] = {
    **{name: _SIZE for name in ("img_size", "patch_size", "num_frames", "tubelet_size", "audio_patch_size",
                                "embed_dim", "num_heads", "depth", "depth_audio", "fusion_depth", "fusion_heads",
                                "decoder_dim", "decoder_heads", "decoder_depth")},
    "num_classes": at_least(0), "mlp_ratio": POSITIVE, "drop_path_rate": UNIT_OPEN,
    "contrastive_weight": at_least(0), "temperature": POSITIVE,
    "mask_ratio_video": _MASK, "mask_ratio_audio": _MASK, "decoder_mask_ratio_video": _MASK,
    "decoder_mask_ratio_audio": _MASK,
    "audio_size": _sizes(2), "video_region": _sizes(3), "audio_region": _sizes(2),
    "taps": ((lambda v: all(integer(t) for t in v)), "a tuple of encoder layer indices"),
    "head_activation": choice(*(name for name in HEAD_ACTIVATIONS if name)),
}


class TokenGeometry:
    def check_shared(self) -> None:
        """Validity rules common to the families (call from __post_init__); each error says what is wrong."""
        lists_to_tuples(self)
        check_fields(self, MODEL_RULES)
        if self.embed_dim % self.num_heads or self.embed_dim % self.fusion_heads:
            raise ValueError("embed_dim must be divisible by num_heads and fusion_heads")
        if self.decoder_dim % self.decoder_heads:
            raise ValueError("decoder_dim must be divisible by decoder_heads")
        if self.img_size % self.patch_size or self.num_frames % self.tubelet_size:
            raise ValueError("the video size must be a multiple of the patch and tubelet sizes")
        if any(s % self.audio_patch_size for s in self.audio_size):
            raise ValueError("the fbank size must be a multiple of the audio patch size")
        if self.depth < 1 or self.depth_audio < 1 or self.fusion_depth < 1:
            raise ValueError("both encoders and the fusion encoder need at least one layer")
        depth_min = min(self.depth, self.depth_audio)
        if any(not 0 <= t < depth_min for t in self.taps):
            raise ValueError(f"taps {self.taps} must be encoder layers below {depth_min}")

    @property
    def video_grid(self) -> tuple[int, int, int]:
        s = self.img_size // self.patch_size
        return (self.num_frames // self.tubelet_size, s, s)

    @property
    def audio_grid(self) -> tuple[int, int]:
        return (self.audio_size[0] // self.audio_patch_size, self.audio_size[1] // self.audio_patch_size)

    @property
    def num_video_tokens(self) -> int:
        t, h, w = self.video_grid
        return t * h * w

    @property
    def num_audio_tokens(self) -> int:
        return self.audio_grid[0] * self.audio_grid[1]

    @property
    def video_patch_dim(self) -> int:
        return 3 * self.tubelet_size * self.patch_size ** 2

    @property
    def audio_patch_dim(self) -> int:
        return self.audio_patch_size ** 2

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
