"""Mask generators of AVF-MAE++ pre-training (dual masking), numpy-exact with the official generators.

Conventions (all generators): a sample's mask is a bool array of shape (N,), flattened in token order
    video: t * 100 + h * 10 + w on the 8 x 10 x 10 grid;  audio: time * 8 + freq on the 16 x 8 grid;
    encoder masks: True = hidden from the encoder;  decoder masks: True = NOT reconstructed (the decoder predicts
    every False position, which may include encoder-visible ones).

The numpy generators consume numpy's legacy RNG (the global `np.random`, or a `np.random.RandomState` passed as
`rng`) exactly as the official ones do, so seeded runs reproduce the official masks bit for bit:
    tube:          one shuffle of [0]*(P - int(ratio*P)) + [1]*int(ratio*P) over the P spatial positions,
                   tiled over the token-frames;
    running cell:  one randint(4) picking the start phase of a rolling 2x2 cell [1, 1, 0, 0] (1 = masked);
    random:        one shuffle of [0]*(N - int(ratio*N)) + [1]*int(ratio*N).
`sample_raw` gives the official raw float64 outputs ((T*P,), (T, P), (N,), (N,)); `sample` gives the bool (N,) form
the official engine feeds the model (flatten + cast).

`torch_*` functions are batched torch.Generator-based equivalents for fast training: same distributions and
conventions, different random streams.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "TubeMaskGenerator", "RunningCellMaskGenerator", "RandomMaskGenerator", "DualMaskGenerator",
    "torch_tube_masks", "torch_running_cell_masks", "torch_random_masks", "torch_dual_masks",
]

RNG = "np.random.RandomState | None"


def _rng(rng):
    return np.random if rng is None else rng


class TubeMaskGenerator:
    """Video encoder mask: the same random int(ratio * H*W) spatial positions hidden in all T token-frames."""

    def __init__(self, grid: tuple[int, int, int] = (8, 10, 10), ratio: float = 0.9):
        self.frames, self.height, self.width = grid
        self.per_frame = self.height * self.width
        self.masked_per_frame = int(ratio * self.per_frame)
        self.num_tokens = self.frames * self.per_frame
        self.num_masked = self.frames * self.masked_per_frame

    def sample_raw(self, rng: RNG = None) -> np.ndarray:
        frame = np.hstack([np.zeros(self.per_frame - self.masked_per_frame), np.ones(self.masked_per_frame)])
        _rng(rng).shuffle(frame)
        return np.tile(frame, (self.frames, 1)).flatten()

    def sample(self, rng: RNG = None) -> np.ndarray:
        return self.sample_raw(rng).reshape(-1).astype(bool)

    __call__ = sample


class RunningCellMaskGenerator:
    """Video decoder mask (VideoMAE-V2 running cell): a 2x2 cell holding int(4 * ratio) masked positions, tiled
    over each H x W token-frame; its pattern advances one step per token-frame from a random start phase."""

    def __init__(self, grid: tuple[int, int, int] = (8, 10, 10), ratio: float = 0.5):
        self.frames, self.height, self.width = grid
        if self.height % 2 or self.width % 2:
            raise ValueError("running-cell masking needs an even token grid")
        masked = int(4 * ratio)
        if not 0 < masked < 4:
            raise ValueError(f"running-cell ratio {ratio} gives {masked} masked positions per 2x2 cell (need 1..3)")
        queue = np.hstack([np.ones(masked), np.zeros(4 - masked)])
        tables = []
        for phase in range(4):
            per_frame = []
            for t in range(self.frames):
                ptr = phase + t + 1  # the official cell advances before each frame is drawn
                cell = queue[(np.arange(4) + ptr) % 4].reshape(2, 2)
                per_frame.append(np.tile(cell, (self.height // 2, self.width // 2)).flatten())
            tables.append(np.stack(per_frame, axis=0))
        self.tables = np.stack(tables, axis=0)  # (4, T, H*W) float64
        self.num_tokens = self.frames * self.height * self.width
        self.num_masked = int(self.tables[0].sum())

    def sample_raw(self, rng: RNG = None) -> np.ndarray:
        return np.copy(self.tables[_rng(rng).randint(4)])

    def sample(self, rng: RNG = None) -> np.ndarray:
        return self.sample_raw(rng).reshape(-1).astype(bool)

    __call__ = sample


class RandomMaskGenerator:
    """Audio masks: int(ratio * N) random positions of the N = 16 * 8 patches (True = masked)."""

    def __init__(self, grid: tuple[int, int] = (16, 8), ratio: float = 0.8125):
        self.num_tokens = int(grid[0]) * int(grid[1])
        self.num_masked = int(ratio * self.num_tokens)

    def sample_raw(self, rng: RNG = None) -> np.ndarray:
        mask = np.hstack([np.zeros(self.num_tokens - self.num_masked), np.ones(self.num_masked)])
        _rng(rng).shuffle(mask)
        return mask

    def sample(self, rng: RNG = None) -> np.ndarray:
        return self.sample_raw(rng).astype(bool)

    __call__ = sample


@dataclass
class DualMaskGenerator:
    """The four AVF-MAE++ masks with the script defaults. `sample(rng)` draws, per sample, in the official order:
    video encoder (tube 0.9), video decoder (running cell 0.5), audio encoder (random 0.8125), audio decoder
    (random 0.5). The official *loader* draws the audio gain between the video and the audio masks; use
    `avfmae.data.pretrain.sample_pretrain_choices` to replay that."""

    video_grid: tuple = (8, 10, 10)
    audio_grid: tuple = (16, 8)
    video_ratio: float = 0.9
    video_decoder_ratio: float = 0.5
    audio_ratio: float = 0.8125
    audio_decoder_ratio: float = 0.5

    def __post_init__(self):
        self.video_encoder = TubeMaskGenerator(self.video_grid, self.video_ratio)
        self.video_decoder = RunningCellMaskGenerator(self.video_grid, self.video_decoder_ratio)
        self.audio_encoder = RandomMaskGenerator(self.audio_grid, self.audio_ratio)
        self.audio_decoder = RandomMaskGenerator(self.audio_grid, self.audio_decoder_ratio)

    def sample(self, rng: RNG = None) -> dict[str, np.ndarray]:
        """One sample: bool (N,) masks under keys mask_video_encoder/_decoder, mask_audio_encoder/_decoder."""
        return {
            "mask_video_encoder": self.video_encoder.sample(rng),
            "mask_video_decoder": self.video_decoder.sample(rng),
            "mask_audio_encoder": self.audio_encoder.sample(rng),
            "mask_audio_decoder": self.audio_decoder.sample(rng),
        }

    def sample_batch(self, batch_size: int, rng: RNG = None) -> dict[str, np.ndarray]:
        """(B, N) bool masks; sample by sample, so seed 1236 + B=2 reproduces the tiny golden's inputs."""
        draws = [self.sample(rng) for _ in range(batch_size)]
        return {k: np.stack([d[k] for d in draws]) for k in draws[0]}


# ------------------------------------------------------------------------------------------ batched torch variants
def _rank_mask(scores: torch.Tensor, num_masked: int) -> torch.Tensor:
    """True at the num_masked positions of each row with the highest scores."""
    order = scores.argsort(dim=1, descending=True)
    mask = torch.zeros_like(scores, dtype=torch.bool)
    mask.scatter_(1, order[:, :num_masked], True)
    return mask


def torch_tube_masks(batch_size: int, grid=(8, 10, 10), ratio: float = 0.9, generator: torch.Generator | None = None,
                     device=None) -> torch.Tensor:
    """(B, T*H*W) bool tube masks, True = hidden."""
    t, h, w = grid
    scores = torch.rand(batch_size, h * w, generator=generator, device=device)
    return _rank_mask(scores, int(ratio * h * w)).repeat(1, t)


def torch_running_cell_masks(batch_size: int, grid=(8, 10, 10), ratio: float = 0.5,
                             generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """(B, T*H*W) bool running-cell masks, True = not reconstructed."""
    tables = torch.from_numpy(RunningCellMaskGenerator(grid, ratio).tables.reshape(4, -1).astype(bool))
    phase = torch.randint(4, (batch_size,), generator=generator, device=device)
    return tables.to(phase.device)[phase]


def torch_random_masks(batch_size: int, num_tokens: int = 128, ratio: float = 0.8125,
                       generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """(B, N) bool random masks with exactly int(ratio * N) True per row."""
    scores = torch.rand(batch_size, num_tokens, generator=generator, device=device)
    return _rank_mask(scores, int(ratio * num_tokens))


def torch_dual_masks(batch_size: int, generator: torch.Generator | None = None, device=None,
                     cfg: DualMaskGenerator | None = None) -> dict[str, torch.Tensor]:
    """All four (B, N) bool masks in one call (torch RNG; not the official numpy stream)."""
    c = cfg or DualMaskGenerator()
    n_audio = int(c.audio_grid[0]) * int(c.audio_grid[1])
    return {
        "mask_video_encoder": torch_tube_masks(batch_size, c.video_grid, c.video_ratio, generator, device),
        "mask_video_decoder": torch_running_cell_masks(batch_size, c.video_grid, c.video_decoder_ratio,
                                                       generator, device),
        "mask_audio_encoder": torch_random_masks(batch_size, n_audio, c.audio_ratio, generator, device),
        "mask_audio_decoder": torch_random_masks(batch_size, n_audio, c.audio_decoder_ratio, generator, device),
    }
