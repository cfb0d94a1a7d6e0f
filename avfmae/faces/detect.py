"""Face detection for raw-video preparation: the detector registry, and OpenCV's Haar cascades (the fallback).

`make_detector(name)` builds any registered detector; `default_detector()` is "mtcnn" when facenet-pytorch is
installed (see mtcnn.py: MTCNN with 5 landmarks, weights inside the wheel), else "haar". Every detector has
`detect(frame)` (one call per frame, in order; `frame` is grey for Haar and RGB for MTCNN: see its `wants`),
`reset()`, `full_searches`/`local_searches` counters, and `describe()` (name and version for reports).

Why Haar: it ships inside opencv-python-headless 4.x (`cv2.data.haarcascades`; 5.x ships none) and needs
nothing downloaded at run time. The stronger detectors in reach need more: OpenCV's YuNet (`cv2.FaceDetectorYN`)
and DNN SSD need model files the wheel does not contain (a download at run time, impossible offline), and the
mediapipe release that still bundles its face model pins numpy 1.26 (the suite uses numpy 2). The frontal-face
cascade misses strong profiles and rolls beyond ~15-20 degrees; the tracker carries the box through such frames.

Detectors (`--detector`):
    mtcnn       facenet-pytorch's MTCNN (default where installed); eye landmarks give the roll angle
    haar        haarcascade_frontalface_default (the fallback; best Haar recall)
    haar-alt2   haarcascade_frontalface_alt2 (fewer false positives, a little lower recall)

Speed: a full-frame search runs on a downscaled, histogram-equalised grey frame (longer side `detect_side`
pixels). Between full searches the detector only looks near the face it found last (a window twice the box,
three times when that box had no eyes; scales 0.7-1.45x), about 10x cheaper; a full search is done every
`full_every` frames and when the local search misses, but while the face stays lost (a full search found
nothing) only every `lost_every` frames.

Eyes (`eye_angle`, with `eyes=True`): the eye cascade runs on the upper half of a face box, resampled so that
the face is 120 px wide; a left/right pair at a plausible distance gives the roll angle of the eye line
(degrees, positive when the eye line descends to the image right). Boxes with an eye pair are preferred when a
full search re-anchors the local search (Haar fires on hair and textures that have no eyes where a face has
them), and the tracker ranks tracks by their eye fraction.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

HAAR_CASCADES = {
    "haar": "haarcascade_frontalface_default.xml",
    "haar-alt2": "haarcascade_frontalface_alt2.xml",
}
DETECTORS = {"mtcnn": "facenet-pytorch MTCNN (5 landmarks)", "haar": "OpenCV Haar frontalface_default",
             "haar-alt2": "OpenCV Haar frontalface_alt2"}
EYE_CASCADE = "haarcascade_eye.xml"

__all__ = ["DETECTORS", "HAAR_CASCADES", "Detection", "cascade_path", "HaarFaceDetector", "mtcnn_available",
           "default_detector", "describe_detector", "make_detector"]


def mtcnn_available() -> bool:
    """Whether facenet-pytorch (MTCNN) is installed (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("facenet_pytorch") is not None


def default_detector() -> str:
    """"mtcnn" where facenet-pytorch is installed, else "haar"."""
    return "mtcnn" if mtcnn_available() else "haar"


def describe_detector(name: str) -> str:
    """The detector's name and version as the reports record it, e.g. "mtcnn (facenet-pytorch 2.5.3)"."""
    if name == "mtcnn":
        from .mtcnn import mtcnn_version

        return f"mtcnn (facenet-pytorch {mtcnn_version()})"
    import cv2

    return f"{name} (OpenCV {cv2.__version__} {HAAR_CASCADES[name]})"


def make_detector(name: str, detect_side: int = 480, full_every: int = 12, eyes: bool = True):
    """A fresh detector for one video. `eyes`: measure the eye-line angle (Haar: eye cascade; MTCNN: free)."""
    if name == "mtcnn":
        if not mtcnn_available():
            raise RuntimeError("detector 'mtcnn' needs facenet-pytorch: pip install -c requirements/constraints.txt "
                               "facenet-pytorch (or choose --detector haar)")
        from .mtcnn import MTCNNFaceDetector

        return MTCNNFaceDetector(detect_side=detect_side)
    return HaarFaceDetector(name, detect_side, full_every, eyes=eyes)


@dataclass(frozen=True)
class Detection:
    """A face box in original-frame pixels (x, y = top-left), with the eye-line roll angle when measured."""

    x: float
    y: float
    w: float
    h: float
    angle: float | None = None

    @property
    def side(self) -> float:
        return math.sqrt(self.w * self.h)

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2.0, self.y + self.h / 2.0


def cascade_path(filename: str) -> str:
    """Path of a cascade shipped with OpenCV (pip wheel's cv2.data, else Debian's opencv-data)."""
    import cv2

    candidates = []
    data = getattr(cv2, "data", None)
    if data is not None and getattr(data, "haarcascades", None):
        candidates.append(os.path.join(data.haarcascades, filename))
    candidates += [os.path.join(d, filename) for d in ("/usr/share/opencv4/haarcascades",
                                                       "/usr/share/opencv/haarcascades")]
    for c in candidates:
        if os.path.isfile(c):
            return c
    raise FileNotFoundError(
        f"OpenCV cascade {filename} not found (looked in {', '.join(candidates)}). opencv-python-headless 5.x ships "
        "no cascades: install opencv-python-headless<5 (or Debian's opencv-data)")


class HaarFaceDetector:
    """Haar-cascade face detector over a video's frames, with local search around the last face.

    Call `detect(gray)` once per frame, in order, with the full-resolution grey frame; it returns the list of
    `Detection`s of that frame (eye angles filled when `eyes=True`)."""

    wants = "gray"

    def __init__(self, name: str = "haar", detect_side: int = 480, full_every: int = 12, min_neighbors: int = 5,
                 min_face: float = 0.07, eyes: bool = False, lost_every: int = 3):
        import cv2

        if name not in HAAR_CASCADES:
            raise ValueError(f"unknown Haar detector {name!r}; choose one of {', '.join(HAAR_CASCADES)}")
        self.name = name
        self.face = cv2.CascadeClassifier(cascade_path(HAAR_CASCADES[name]))
        self.eye = cv2.CascadeClassifier(cascade_path(EYE_CASCADE)) if eyes else None
        if self.face.empty() or (eyes and self.eye.empty()):
            raise RuntimeError("an OpenCV cascade failed to load")
        self.detect_side = int(detect_side)
        self.full_every = max(int(full_every), 1)
        self.min_neighbors = int(min_neighbors)
        self.min_face = float(min_face)
        self.lost_every = max(int(lost_every), 1)
        self._frame = 0
        self._next_full = 0
        self._last: Detection | None = None
        self.full_searches = 0
        self.local_searches = 0

    def describe(self) -> str:
        return describe_detector(self.name)

    def reset(self) -> None:
        """Forget the last face (e.g. at a shot cut): the next frame gets a full-frame search."""
        self._last = None
        self._next_full = 0

    # ---------------------------------------------------------------------------------------------- search
    def _scaled(self, gray: np.ndarray) -> tuple[np.ndarray, float]:
        import cv2

        h, w = gray.shape[:2]
        s = min(1.0, self.detect_side / float(max(h, w)))
        small = gray if s == 1.0 else cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))),
                                                 interpolation=cv2.INTER_AREA)
        return cv2.equalizeHist(small), s

    def _full(self, small: np.ndarray, s: float) -> list[tuple]:
        self.full_searches += 1
        h, w = small.shape[:2]
        m = max(24, int(self.min_face * min(h, w)))
        found = self.face.detectMultiScale(small, scaleFactor=1.1, minNeighbors=self.min_neighbors,
                                           minSize=(m, m))
        return [(x / s, y / s, bw / s, bh / s) for (x, y, bw, bh) in (found if len(found) else [])]

    def _local(self, small: np.ndarray, s: float, last: Detection) -> list[tuple]:
        self.local_searches += 1
        h, w = small.shape[:2]
        cx, cy = last.center[0] * s, last.center[1] * s
        side = last.side * s
        # window = 2 x the box side; 3 x when the last box had no eye pair (it may sit on hair above the face)
        half = side * (1.0 if (self.eye is None or last.angle is not None) else 1.5)
        x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
        x1, y1 = int(min(w, cx + half)), int(min(h, cy + half))
        if x1 - x0 < 24 or y1 - y0 < 24:
            return []
        roi = small[y0:y1, x0:x1]
        lo, hi = max(24, int(side * 0.7)), int(side * 1.45) + 1
        if hi <= lo:
            return []
        found = self.face.detectMultiScale(roi, scaleFactor=1.08, minNeighbors=self.min_neighbors,
                                           minSize=(lo, lo), maxSize=(hi, hi))
        return [((x + x0) / s, (y + y0) / s, bw / s, bh / s) for (x, y, bw, bh) in (found if len(found) else [])]

    def detect(self, gray: np.ndarray) -> list[Detection]:
        """Faces in one full-resolution grey (H, W) uint8 frame, in original pixel coordinates."""
        small, s = self._scaled(gray)
        boxes: list[tuple] = []
        full = self._last is None or self._frame % self.full_every == 0
        if not full or (self._last is not None and self._frame < self._next_full):
            boxes = self._local(small, s, self._last) if self._last is not None else []
            if not boxes:
                full = True
        if full and self._frame < self._next_full:  # lost: search the whole frame only every `lost_every`
            full = False
        if full:
            boxes = self._full(small, s)
            if not boxes:
                self._next_full = self._frame + self.lost_every
        self._frame += 1
        dets = [Detection(float(x), float(y), float(w), float(h)) for (x, y, w, h) in boxes]
        if self.eye is not None and dets:
            dets = [Detection(d.x, d.y, d.w, d.h, self.eye_angle(gray, d)) for d in dets]
        if not dets:
            best = None
        elif full or self._last is None:  # a full search re-anchors on the largest face with eyes
            best = max(dets, key=lambda d: (d.angle is not None, d.side))
        else:  # a local search follows the face closest to the last one, preferring boxes with eyes
            lx, ly = self._last.center
            best = min(dets, key=lambda d: math.hypot(d.center[0] - lx, d.center[1] - ly) / max(d.side, 1.0)
                       + (0.5 if d.angle is None else 0.0))
        if best is not None:
            self._last = best
        return dets

    # ------------------------------------------------------------------------------------------------ eyes
    def eye_angle(self, gray: np.ndarray, det: Detection) -> float | None:
        """Roll angle (degrees) of the eye line inside `det`, or None when no plausible eye pair is found."""
        import cv2

        H, W = gray.shape[:2]
        x0, y0 = int(max(0, det.x)), int(max(0, det.y + 0.15 * det.h))
        x1, y1 = int(min(W, det.x + det.w)), int(min(H, det.y + 0.6 * det.h))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        roi = gray[y0:y1, x0:x1]
        k = 120.0 / max(det.w, 1.0)
        roi = cv2.resize(roi, (max(1, round(roi.shape[1] * k)), max(1, round(roi.shape[0] * k))),
                         interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
        roi = cv2.equalizeHist(roi)
        eyes = self.eye.detectMultiScale(roi, scaleFactor=1.1, minNeighbors=3, minSize=(14, 14),
                                         maxSize=(50, 50))
        if len(eyes) < 2:
            return None
        mid = roi.shape[1] / 2.0
        centers = [(ex + ew / 2.0, ey + eh / 2.0, ew) for (ex, ey, ew, eh) in eyes]
        left = [c for c in centers if c[0] < mid]
        right = [c for c in centers if c[0] >= mid]
        best, best_score = None, None
        for lc in left:
            for rc in right:
                dx, dy = rc[0] - lc[0], rc[1] - lc[1]
                if not 0.25 * 120 <= dx <= 0.75 * 120 or abs(dy) > 0.25 * dx:
                    continue
                score = abs(dy) + abs(lc[2] - rc[2])  # level and similar-sized pairs first
                if best_score is None or score < best_score:
                    best, best_score = (dx, dy), score
        if best is None:
            return None
        return math.degrees(math.atan2(best[1], best[0]))
