"""Video preprocessing of the official AVF-MAE++ loaders, step by step.

The fine-tune test path (frame folders, `VideoClsDatasetFrame`, mode "test"):
    1. `sample_frame_indices`: range(0, n_frames, stride); when fewer than `clip_len`, the last index is repeated.
    2. every sampled frame is resized to size x size with PIL BILINEAR (antialiased when downscaling; aspect not
       kept) - `resize_frames`.
    3. `segment_starts`: view k of S starts at int(k * max((len - clip_len) / (S - 1), 0)) in the index list and
       takes `clip_len` consecutive entries.
    4. `spatial_crop`: crop c of C starts at int(c * (max(H, W) - size) / (C - 1)) along the longer side (after a
       square resize every crop is the whole frame).
    5. `normalize_video`: uint8 -> float32 / 255 -> (x - mean) / std (ImageNet), layout (3, T, H, W).

Pre-training crop (`GroupMultiScaleCrop`): `multiscale_crop_resize` crops (w, h, x, y), then PIL-resizes to
size x size. Every function is deterministic; random choices are arguments.
"""
from __future__ import annotations

import functools
from typing import Sequence

import numpy as np
import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

__all__ = [
    "IMAGENET_MEAN", "IMAGENET_STD", "sample_frame_indices", "segment_starts", "resize_frame", "resize_frames",
    "spatial_crop_offsets", "spatial_crop", "normalize_video", "multiscale_crop_resize",
]


def sample_frame_indices(num_frames: int, clip_len: int = 16, stride: int = 4) -> list[int]:
    """Official test-time index list: every `stride`-th frame; padded with the last index up to `clip_len`.

    The list can be longer than `clip_len` (views then take consecutive windows of it, see `segment_starts`)."""
    if num_frames < 1:
        raise ValueError("a clip needs at least 1 frame")
    if stride < 1 or clip_len < 1:
        raise ValueError("stride and clip_len must be >= 1")
    indices = list(range(0, int(num_frames), int(stride)))
    while len(indices) < clip_len:
        indices.append(indices[-1])
    return indices


def segment_starts(num_indices: int, clip_len: int = 16, num_segments: int = 2) -> list[int]:
    """Start position (in the index list) of each temporal view.

    Official rule for S >= 2: int(k * max((num_indices - clip_len) / (S - 1), 0)). The official code divides by
    zero for S = 1; here S = 1 takes the centre window (int((num_indices - clip_len) / 2)), our "eval-centre"."""
    if num_segments < 1:
        raise ValueError("num_segments must be >= 1")
    if num_segments == 1:
        return [int(max(num_indices - clip_len, 0) / 2)]
    step = max((num_indices - clip_len) / (num_segments - 1), 0)
    return [int(k * step) for k in range(num_segments)]


def resize_frame(frame: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 -> (h, w, 3) uint8 with PIL BILINEAR; `size` is an int (square) or (width, height)."""
    from PIL import Image

    w, h = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if frame.shape[0] == h and frame.shape[1] == w:
        return frame
    return np.asarray(Image.fromarray(frame).resize((w, h), Image.BILINEAR))


def resize_frames(frames: Sequence[np.ndarray], size: int | tuple[int, int]) -> np.ndarray:
    """Resize each frame (PIL BILINEAR) and stack to (T, h, w, 3) uint8."""
    return np.stack([resize_frame(f, size) for f in frames], axis=0)


def spatial_crop_offsets(height: int, width: int, crop: int, num_crops: int) -> list[int]:
    """Offset along the longer side of each test crop (official: int(c * (max(H, W) - crop) / (C - 1)))."""
    if num_crops < 1:
        raise ValueError("num_crops must be >= 1")
    if num_crops == 1:
        return [int((max(height, width) - crop) / 2)]
    step = (max(height, width) - crop) / (num_crops - 1)
    return [int(c * step) for c in range(num_crops)]


def spatial_crop(frames: np.ndarray, offset: int, crop: int) -> np.ndarray:
    """Take a `crop`-long window at `offset` along the longer spatial side of (T, H, W, 3) frames."""
    t, h, w = frames.shape[:3]
    if h >= w:
        return frames[:, offset:offset + crop, :, :]
    return frames[:, :, offset:offset + crop, :]


def normalize_video(frames: np.ndarray | torch.Tensor, mean: Sequence[float] = IMAGENET_MEAN,
                    std: Sequence[float] = IMAGENET_STD, out: torch.Tensor | None = None) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (3, T, H, W) float32: x / 255, minus mean, divided by std (all float32, in this
    order, as the official `tensor_normalize`). `out`: a contiguous (3, T, H, W) float32 tensor to write into.

    uint8 input goes through a 256-entry table per channel holding exactly those float32 results (the same ops
    on the same values, so the output is bit-identical), about 3x faster than the arithmetic on every pixel."""
    x = torch.as_tensor(np.ascontiguousarray(frames) if isinstance(frames, np.ndarray) else frames)
    if x.dtype == torch.uint8 and x.dim() == 4 and x.shape[-1] == 3:
        lut = _normalize_table(tuple(float(m) for m in mean), tuple(float(s) for s in std))
        if out is None:
            out = torch.empty((3,) + tuple(x.shape[:3]), dtype=torch.float32)
        channels = x.permute(3, 0, 1, 2)
        for c in range(3):
            torch.index_select(lut[c], 0, channels[c].reshape(-1).long(), out=out[c].view(-1))
        return out
    x = x.float()  # a new tensor: the in-place ops below never touch the caller's data
    x.div_(255.0).sub_(torch.tensor(mean, dtype=torch.float32)).div_(torch.tensor(std, dtype=torch.float32))
    if out is not None:
        return out.copy_(x.permute(3, 0, 1, 2))
    return x.permute(3, 0, 1, 2).contiguous()


@functools.lru_cache(maxsize=8)
def _normalize_table(mean: tuple, std: tuple) -> torch.Tensor:
    """(3, 256) float32: normalize_video's value of each uint8 level per channel (the arithmetic path's ops)."""
    levels = torch.arange(256, dtype=torch.float32)[:, None].repeat(1, 3)
    levels.div_(255.0).sub_(torch.tensor(mean, dtype=torch.float32)).div_(torch.tensor(std, dtype=torch.float32))
    return levels.T.contiguous()


def multiscale_crop_resize(frames: Sequence[np.ndarray], crop_w: int, crop_h: int, x: int, y: int,
                           size: int = 160) -> np.ndarray:
    """GroupMultiScaleCrop's deterministic part: crop box (x, y, x + w, y + h) of every frame, then PIL BILINEAR
    resize to size x size. Returns (T, size, size, 3) uint8."""
    from PIL import Image

    out = []
    for f in frames:
        im = Image.fromarray(f).crop((int(x), int(y), int(x) + int(crop_w), int(y) + int(crop_h)))
        out.append(np.asarray(im.resize((size, size), Image.BILINEAR)))
    return np.stack(out, axis=0)
