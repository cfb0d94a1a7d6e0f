"""From per-frame face detections to one stable face box per frame (pure numpy; no video needed).

    tracks = build_tracks(dets_per_frame)            # associate detections over time
    chain = main_chain(tracks)                       # the largest, most persistent face (+ later segments)
    path = smooth_path(chain, num_frames, fps)       # (cx, cy, side, angle) for every frame, smoothed

0. Shots: a frame whose 32x24 thumbnail differs from the previous one by more than max(15, 5 x the recent
   median) grey levels (mean absolute difference) starts a new shot (`detect_cuts`). Tracks never cross a cut,
   and filling and smoothing are done shot by shot, so a cut never drags the box across the frame.
1. Association: each detection joins the active track whose last box it overlaps best (IoU >= 0.3, or centre
   within half a box side with a size ratio in [0.67, 1.5]); otherwise it starts a new track. A track stays
   active through up to `max_gap` frames without a detection (1 s by default).
2. The main face: the track with the largest sum of box sides over its detections, weighted by
   (0.25 + the fraction of its detections with an eye pair in the upper half of the box): large, persistent
   and face-like beats small, flickering or eyeless (false positives on hair or texture, background faces).
   Tracks (face size within 1/3-3x) that share at most a few frames with the chain and, within a shot, start or
   end within one box side of it are added (the same subject after a cut, a long occlusion or a broken
   association), and so are the extra frames of duplicate tracks
   that follow the same face (nested or shifted boxes).
3. Filling: frames without a detection of the chain get the box interpolated linearly between the
   neighbouring detections of the same shot, or held from the nearest one before the first / after the last.
   A shot with no detection at all holds the box of the nearest shot that has one.
4. Smoothing (non-causal, so no lag): a running median over 5 frames removes single-frame glitches, then a
   Gaussian-weighted local linear fit over time (a Gaussian blur that stays exact for uniform motion at the
   ends of a shot): sigma 0.12 s for the centre, 0.3 s for the size (Haar sizes come in 10 % steps), 0.5 s
   for the eye-line angle. The angle is used only when it was measured in at least `min_angle_fraction` of
   the chain's frames; otherwise it is 0 (no rotation).

`jitter(path)`: the mean absolute second difference of the box centre over frames (within shots), divided by
the mean box side: 0 for a box at rest or in uniform motion, large when it shakes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .detect import Detection

__all__ = ["Track", "FacePath", "iou", "is_cut", "detect_cuts", "shot_ids", "build_tracks", "main_chain",
           "smooth_series", "smooth_path", "jitter", "raw_jitter"]


@dataclass
class Track:
    frames: list = field(default_factory=list)
    dets: list = field(default_factory=list)

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]

    @property
    def eye_fraction(self) -> float:
        """Fraction of the detections in which an eye pair was found (0 when eyes were not searched)."""
        return float(np.mean([d.angle is not None for d in self.dets])) if self.dets else 0.0

    @property
    def score(self) -> float:
        """Sum of box sides, weighted by (0.25 + eye fraction): large, persistent, face-like tracks win."""
        return float(sum(d.side for d in self.dets)) * (0.25 + self.eye_fraction)

    @property
    def median_side(self) -> float:
        return float(np.median([d.side for d in self.dets]))


@dataclass
class FacePath:
    """The face box of every frame: centre (cx, cy), square side, roll angle (degrees), and whether the frame
    had a detection of the main face (`detected`) or was filled in."""

    cx: np.ndarray
    cy: np.ndarray
    side: np.ndarray
    angle: np.ndarray
    detected: np.ndarray
    angle_used: bool = False
    shot: np.ndarray | None = None      # shot index of every frame

    def __post_init__(self):
        if self.shot is None:
            self.shot = np.zeros(self.cx.shape[0], dtype=np.int64)

    def __len__(self) -> int:
        return int(self.cx.shape[0])

    @property
    def detected_fraction(self) -> float:
        return float(self.detected.mean()) if len(self) else 0.0

    def take(self, indices: Sequence[int]) -> "FacePath":
        idx = np.asarray(indices, dtype=np.int64)
        return FacePath(self.cx[idx], self.cy[idx], self.side[idx], self.angle[idx], self.detected[idx],
                        self.angle_used, self.shot[idx])


def iou(a: Detection, b: Detection) -> float:
    ix = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


def _affinity(track_det: Detection, det: Detection) -> float:
    """> 0 when `det` can continue the track whose last box is `track_det` (larger is better)."""
    o = iou(track_det, det)
    if o >= 0.3:
        return 1.0 + o
    ratio = det.side / max(track_det.side, 1e-6)
    (ax, ay), (bx, by) = track_det.center, det.center
    dist = np.hypot(ax - bx, ay - by) / max(track_det.side, 1e-6)
    if 0.67 <= ratio <= 1.5 and dist <= 0.5:
        return 1.0 - dist
    return 0.0


def is_cut(diffs: Sequence[float], t: int, min_diff: float = 15.0, ratio: float = 5.0, window: int = 24) -> bool:
    """Whether frame t starts a new shot, from diffs[1..t] only (so it can run while decoding)."""
    if t < 1:
        return False
    recent = np.asarray(diffs[max(1, t - window):t], dtype=np.float64)
    base = float(np.median(recent)) if recent.size else 0.0
    return float(diffs[t]) > max(min_diff, ratio * base)


def detect_cuts(diffs: Sequence[float], **kw) -> list[int]:
    """Frames that start a new shot. diffs[t] = mean |thumbnail(t) - thumbnail(t - 1)| (diffs[0] ignored)."""
    return [t for t in range(1, len(diffs)) if is_cut(diffs, t, **kw)]


def shot_ids(num_frames: int, cuts: Sequence[int]) -> np.ndarray:
    """(num_frames,) shot index of every frame."""
    ids = np.zeros(num_frames, dtype=np.int64)
    for c in sorted(set(int(c) for c in cuts)):
        if 0 < c < num_frames:
            ids[c:] += 1
    return ids


def build_tracks(dets_per_frame: Sequence[Sequence[Detection]], max_gap: int = 25,
                 cuts: Sequence[int] = ()) -> list[Track]:
    """Associate detections frame by frame (greedy, best affinity first); no track crosses a cut."""
    tracks: list[Track] = []
    active: list[Track] = []
    cut_set = set(int(c) for c in cuts)
    for t, dets in enumerate(dets_per_frame):
        if t in cut_set:
            active = []
        active = [tr for tr in active if t - tr.last <= max_gap + 1]
        pairs = []
        for i, tr in enumerate(active):
            for j, d in enumerate(dets):
                a = _affinity(tr.dets[-1], d)
                if a > 0:
                    pairs.append((a, i, j))
        used_t, used_d = set(), set()
        for a, i, j in sorted(pairs, reverse=True):
            if i in used_t or j in used_d:
                continue
            used_t.add(i)
            used_d.add(j)
            active[i].frames.append(t)
            active[i].dets.append(dets[j])
        for j, d in enumerate(dets):
            if j not in used_d:
                tr = Track([t], [d])
                tracks.append(tr)
                active.append(tr)
    return tracks


def _same_face(a: Track, b: Track) -> bool:
    """Whether two time-overlapping tracks follow the same face (nested or shifted duplicate boxes): in their
    common frames the centres stay within 0.35 of a side and the sizes within 0.6-1.6x."""
    da = dict(zip(a.frames, a.dets))
    common = [(da[t], d) for t, d in zip(b.frames, b.dets) if t in da]
    if not common:
        return False
    dist = [np.hypot(x.center[0] - y.center[0], x.center[1] - y.center[1]) / max(x.side, 1e-6) for x, y in common]
    ratio = [y.side / max(x.side, 1e-6) for x, y in common]
    return float(np.median(dist)) <= 0.35 and 0.6 <= float(np.median(ratio)) <= 1.6


def _continues(chain: Sequence[Track], tr: Track, shots: dict) -> bool:
    """Whether `tr` can extend the chain: in its shot, the chain's detection nearest in time (if any) is within
    one box side of tr's detection nearest to it (else tr is someone else in the same shot)."""
    shot = shots.get(tr.first, 0)
    best = None
    for c in chain:
        for t, d in zip(c.frames, c.dets):
            if shots.get(t, 0) != shot:
                continue
            for u, e in ((tr.first, tr.dets[0]), (tr.last, tr.dets[-1])):
                gap = abs(t - u)
                if best is None or gap < best[0]:
                    best = (gap, d, e)
    if best is None:
        return True
    _, d, e = best
    return np.hypot(d.center[0] - e.center[0], d.center[1] - e.center[1]) <= max(d.side, e.side)


def main_chain(tracks: Sequence[Track], min_score_fraction: float = 0.15, cuts: Sequence[int] = ()) -> list[Track]:
    """The main face track, plus (a) tracks (face size within 1/3-3x; score at least `min_score_fraction` of the
    main one, or >= 5 detections with eyes in half of them) that share at most a few frames with it and
    continue it (the face after a cut, a long occlusion or a broken association; within a shot the track must
    start or end within one box side of the chain) and (b) the frames that duplicate tracks of the same face
    cover where the chain has no detection. Returned in time order as tracks that share no frame."""
    if not tracks:
        return []
    last_frame = max(tr.last for tr in tracks)
    ids = shot_ids(last_frame + 1, cuts)
    shots = {t: int(ids[t]) for t in range(last_frame + 1)}
    ranked = sorted(tracks, key=lambda tr: tr.score, reverse=True)
    main = ranked[0]
    chosen, chain = [main], [main]
    ref = main.median_side
    covered = set(main.frames)

    def add(tr: Track) -> None:
        keep = [(t, d) for t, d in zip(tr.frames, tr.dets) if t not in covered]
        if keep:
            chain.append(Track([t for t, _ in keep], [d for _, d in keep]))
            covered.update(t for t, _ in keep)

    for tr in ranked[1:]:
        face_like = tr.eye_fraction >= 0.5 and len(tr.frames) >= 5
        if (tr.score < min_score_fraction * main.score and not face_like) or len(tr.frames) < 3:
            continue
        if not 1 / 3 <= tr.median_side / ref <= 3.0:  # loose: another shot may frame the face closer
            continue
        shared = sum(1 for t in tr.frames if t in covered)
        if shared > max(2, 0.1 * len(tr.frames)) or not _continues(chain, tr, shots):
            continue
        chosen.append(tr)
        add(tr)
    for tr in ranked[1:]:
        if any(tr is c for c in chosen) or len(tr.frames) < 3:
            continue
        if any(c.first <= tr.last and tr.first <= c.last and _same_face(c, tr) for c in chosen):
            add(tr)
    return sorted(chain, key=lambda tr: tr.first)


def _running_median(x: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or x.shape[0] < 3:
        return x.copy()
    k = min(k, x.shape[0] if x.shape[0] % 2 else x.shape[0] - 1)
    r = k // 2
    padded = np.pad(x, r, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, k)
    return np.median(windows, axis=1)


def smooth_series(x: np.ndarray, sigma: float, median: int = 5) -> np.ndarray:
    """Running median (window `median`), then Gaussian-weighted local linear regression (std `sigma` frames).

    In the middle of the series this is a plain Gaussian smoothing; near the ends, where a Gaussian would pull a
    moving box back towards where it stands still, the local line keeps uniform motion exact."""
    x = _running_median(np.asarray(x, dtype=np.float64), median)
    n = x.shape[0]
    if sigma <= 0 or n < 3:
        return x
    r = int(np.ceil(3 * sigma))
    tau = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-0.5 * (tau / sigma) ** 2)
    mask = np.pad(np.ones(n), r)
    xp = np.pad(x, r)

    def corr(a, k):
        return np.correlate(a, k, mode="valid")

    s0, s1, s2 = corr(mask, w), corr(mask, w * tau), corr(mask, w * tau * tau)
    t0, t1 = corr(xp, w), corr(xp, w * tau)
    det = s0 * s2 - s1 * s1
    ok = det > 1e-9 * np.maximum(s0 * s2, 1e-300)
    slope = np.where(ok, (s0 * t1 - s1 * t0) / np.where(ok, det, 1.0), 0.0)
    return (t0 - slope * s1) / s0


def smooth_path(chain: Sequence[Track], num_frames: int, fps: float = 25.0, cuts: Sequence[int] = (),
                center_s: float = 0.12, size_s: float = 0.3, angle_s: float = 0.5,
                min_angle_fraction: float = 0.2) -> FacePath | None:
    """Per-frame smoothed box of the chain over frames 0..num_frames-1, shot by shot (None if the chain is
    empty)."""
    obs = {}
    for tr in chain:
        for t, d in zip(tr.frames, tr.dets):
            if 0 <= t < num_frames:
                obs[t] = d
    if not obs:
        return None
    fps = fps if fps and fps > 0 else 25.0
    shots = shot_ids(num_frames, cuts)
    cx, cy, side = np.zeros(num_frames), np.zeros(num_frames), np.zeros(num_frames)
    raw_angle = np.full(num_frames, np.nan)
    detected = np.zeros(num_frames, dtype=bool)
    have = np.zeros(int(shots.max()) + 1, dtype=bool)
    for k in range(have.shape[0]):
        frames = np.nonzero(shots == k)[0]
        ts = [t for t in frames if t in obs]
        if not ts:
            continue
        have[k] = True
        tt = np.asarray(ts, np.float64)
        for arr, vals, sigma in ((cx, [obs[t].center[0] for t in ts], center_s),
                                 (cy, [obs[t].center[1] for t in ts], center_s),
                                 (side, [obs[t].side for t in ts], size_s)):
            arr[frames] = smooth_series(np.interp(frames.astype(np.float64), tt, vals), sigma * fps)
        detected[ts] = True
        at = [t for t in ts if obs[t].angle is not None and np.isfinite(obs[t].angle)]
        if at:
            raw_angle[frames] = np.interp(frames.astype(np.float64), np.asarray(at, np.float64),
                                          [obs[t].angle for t in at])
    for k in np.nonzero(~have)[0]:  # shots without a face: hold the nearest shot that has one
        frames = np.nonzero(shots == k)[0]
        donors = np.nonzero(have)[0]
        j = donors[np.argmin(np.abs(donors - k))]
        src = np.nonzero(shots == j)[0]
        t_src = src[-1] if j < k else src[0]
        cx[frames], cy[frames], side[frames] = cx[t_src], cy[t_src], side[t_src]
        raw_angle[frames] = raw_angle[t_src]
    n_angles = sum(1 for d in obs.values() if d.angle is not None and np.isfinite(d.angle))
    angle_used = n_angles >= max(3, min_angle_fraction * len(obs))
    angle = np.zeros(num_frames)
    if angle_used:
        filled = np.where(np.isfinite(raw_angle), raw_angle, 0.0)
        for k in range(have.shape[0]):
            frames = np.nonzero(shots == k)[0]
            angle[frames] = smooth_series(filled[frames], angle_s * fps, median=9)
    return FacePath(cx, cy, side, angle, detected, bool(angle_used), shots)


def jitter(path: FacePath) -> float:
    """Mean |second difference| of the box centre (pixels / frame^2) over the mean side; 0 for < 3 frames."""
    if path is None or len(path) < 3:
        return 0.0
    d2 = np.hypot(np.diff(path.cx, 2), np.diff(path.cy, 2))
    same_shot = (path.shot[:-2] == path.shot[2:])  # a triplet across a cut is not jitter
    if not same_shot.any():
        return 0.0
    return float(d2[same_shot].mean() / max(float(path.side.mean()), 1e-6))


def raw_jitter(chain: Sequence[Track]) -> float:
    """The same measure on the raw detections of consecutive frames (before filling and smoothing)."""
    vals, sides = [], []
    for tr in chain:
        by_t = {t: d for t, d in zip(tr.frames, tr.dets)}
        for t in tr.frames:
            if t + 1 in by_t and t + 2 in by_t:
                c0, c1, c2 = by_t[t].center, by_t[t + 1].center, by_t[t + 2].center
                vals.append(np.hypot(c0[0] - 2 * c1[0] + c2[0], c0[1] - 2 * c1[1] + c2[1]))
                sides.append(by_t[t + 1].side)
    if not vals:
        return 0.0
    return float(np.mean(vals) / max(np.mean(sides), 1e-6))
