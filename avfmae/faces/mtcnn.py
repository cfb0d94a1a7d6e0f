"""MTCNN face detection (facenet-pytorch), the default detector where the package is installed.

Why MTCNN: its three small networks' weights ship inside the facenet-pytorch wheel (nothing is downloaded at run
time), it installs beside the pinned torch, it finds faces the frontal Haar cascade misses (rolled, turned,
drawn) and it gives 5 landmarks (eyes, nose, mouth corners) with every box.

Geometry: MTCNN's box is tight and taller than wide (eyebrows to chin); the Haar box it replaces is a square
from the forehead to the chin. So that `--margin` and the crops keep their meaning whichever detector runs,
a detection is reported as the square of side sqrt(w * h) centred 4 % of the box height above the MTCNN box
centre (measured on scikit-image's astronaut, where both detectors fire: Haar 96 px at y 113, MTCNN 87 x 110
px at y 117 -> 97.6 px at y 112.7). The roll angle comes from the two eye landmarks (degrees, positive when the
eye line descends to the image right, as Haar's `eye_angle`): every MTCNN detection carries one, so the
tracker's eye fraction is 1 and alignment never needs the eye cascade.

Speed: every frame gets a full search on the frame downscaled to `detect_side` pixels (longer side), with the
smallest face searched at 7 % of the shorter side (fewer pyramid levels than MTCNN's default 20 px).
"""
from __future__ import annotations

import math

import numpy as np

from .detect import Detection

__all__ = ["MTCNNFaceDetector", "mtcnn_version"]


def mtcnn_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("facenet-pytorch")
    except PackageNotFoundError:
        return "unknown"


class MTCNNFaceDetector:
    """`detect(rgb)` per frame (full-resolution (H, W, 3) uint8 RGB) -> list of Detection with eye angles."""

    wants = "rgb"
    name = "mtcnn"

    def __init__(self, detect_side: int = 480, min_face: float = 0.07, min_prob: float = 0.9,
                 device: str = "cpu"):
        from facenet_pytorch import MTCNN

        self.detect_side = int(detect_side)
        self.min_face = float(min_face)
        self.min_prob = float(min_prob)
        self._mtcnn = MTCNN(keep_all=True, device=device, min_face_size=20, post_process=False)
        self.full_searches = 0
        self.local_searches = 0

    def describe(self) -> str:
        from .detect import describe_detector

        return describe_detector(self.name)

    def reset(self) -> None:
        """Nothing to forget: every frame gets a full search."""

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        import cv2
        import torch

        h, w = rgb.shape[:2]
        s = min(1.0, self.detect_side / float(max(h, w)))
        small = rgb if s == 1.0 else cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))),
                                                interpolation=cv2.INTER_AREA)
        self._mtcnn.min_face_size = max(20, int(self.min_face * min(small.shape[:2])))
        self.full_searches += 1
        with torch.inference_mode():
            boxes, probs, marks = self._mtcnn.detect(np.ascontiguousarray(small), landmarks=True)
        if boxes is None:
            return []
        out = []
        for box, p, lm in zip(boxes, probs, marks):
            if p is None or p < self.min_prob:
                continue
            x0, y0, x1, y1 = (float(v) / s for v in box)
            bw, bh = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
            side = math.sqrt(bw * bh)
            cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0 - 0.04 * bh
            (lx, ly), (rx, ry) = lm[0] / s, lm[1] / s
            angle = math.degrees(math.atan2(float(ry - ly), float(rx - lx))) if rx > lx else None
            out.append(Detection(cx - side / 2.0, cy - side / 2.0, side, side, angle))
        return out
