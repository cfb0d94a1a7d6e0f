"""Square face crops: box centre, side, margin and roll angle -> an out_size x out_size image.

The crop is the square of side `side * (1 + 2 * margin)` around the box centre, rotated by the roll angle so
that the eye line becomes horizontal, resampled to `out_size`. Parts outside the frame are black (as
OpenFace's aligned faces). Large downscales first shrink the region with area averaging (no aliasing).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["crop_matrix", "crop_face"]


def crop_matrix(cx: float, cy: float, side: float, angle_deg: float, out_size: int) -> np.ndarray:
    """2x3 affine mapping frame pixels to crop pixels: the square (cx, cy, side) rotated by `angle_deg`
    (counter-clockwise in the displayed image, which levels an eye line descending by that angle) fills the
    out_size x out_size output."""
    s = out_size / float(side)
    a = math.radians(angle_deg)
    cos, sin = math.cos(a) * s, math.sin(a) * s
    # rotate about (cx, cy) (y down: counter-clockwise on screen), scale, and move (cx, cy) to the centre
    m = np.array([[cos, sin, 0.0], [-sin, cos, 0.0]], dtype=np.float64)
    c = out_size / 2.0
    m[0, 2] = c - (m[0, 0] * cx + m[0, 1] * cy)
    m[1, 2] = c - (m[1, 0] * cx + m[1, 1] * cy)
    return m


def crop_face(frame: np.ndarray, cx: float, cy: float, side: float, out_size: int, angle_deg: float = 0.0,
              margin: float = 0.0) -> np.ndarray:
    """Crop the (rotated) square around (cx, cy) of side side*(1+2*margin) from an (H, W, C) uint8 frame."""
    import cv2

    full = float(side) * (1.0 + 2.0 * margin)
    full = max(full, 2.0)
    scale = out_size / full
    src, ox, oy, pre = frame, 0.0, 0.0, 1.0
    if scale < 0.75:  # shrink the region around the crop with INTER_AREA first, then warp at a mild scale
        r = full * 0.75  # half-diagonal of the rotated square is full/sqrt(2) < 0.75 full
        x0, y0 = int(math.floor(cx - r)), int(math.floor(cy - r))
        x1, y1 = int(math.ceil(cx + r)), int(math.ceil(cy + r))
        h, w = frame.shape[:2]
        pad = (max(0, -y0), max(0, y1 - h), max(0, -x0), max(0, x1 - w))
        region = frame[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]
        if any(pad):
            region = cv2.copyMakeBorder(region, *pad, cv2.BORDER_CONSTANT, value=0)
        pre = scale / 0.9  # leave a last 0.9x to the warp
        size = (max(1, round(region.shape[1] * pre)), max(1, round(region.shape[0] * pre)))
        pre_x, pre_y = size[0] / region.shape[1], size[1] / region.shape[0]
        src = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        ox, oy = x0, y0
        cx, cy = (cx - ox) * pre_x, (cy - oy) * pre_y
        full *= (pre_x + pre_y) / 2.0
    m = crop_matrix(cx, cy, full, angle_deg, out_size)
    return cv2.warpAffine(src, m, (out_size, out_size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)
