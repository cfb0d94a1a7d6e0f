"""Token geometry and dict round-trips shared by the model families' frozen configs.

A config using this mixin has the fields img_size, patch_size, num_frames, tubelet_size, audio_size and
audio_patch_size.
"""
from __future__ import annotations

import dataclasses


class TokenGeometry:
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
