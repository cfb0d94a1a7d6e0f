"""Procedural talking faces for the synthetic demo set: identity, expression tracks, rendering.

A face is drawn with anti-aliased signed distances in head coordinates (u to the right, v down, one unit ~ half
the head height). The head and what is fixed to it (hair, clothes, nose) are drawn once per clip, upright and
centred; the moving parts (eyes, brows, mouth, cheeks) are drawn for all frames at once inside small pixel windows;
then each frame is warped (cv2) to its own pose (shift, tilt, scale), lit and given sensor noise. About 60 ms for
75 frames of 112x112 on one core.

What the class controls is the facial *valence* program (see `synth.py` for the 2x3 design):
    0 negative: slower onset (0.3-0.6 s), sustained frown: mouth corners down, brows furrowed and lowered, the
                brow region shaded, eyes narrowed
    1 neutral : no expression apex, small idle drift, sometimes one brief eyebrow flash
    2 positive: fast onset (0.1-0.25 s) smile: corners up and wider, cheeks flushed and raised (eyes narrow from
                below), brows slightly up, parted lips with a laugh-like 3-5 Hz oscillation at the apex
Both expressions start within the first 10 % of the clip and hold, so any window the model reads shows them.
Version 2 of the set (synth.VERSION) made them larger and steadier than version 1 (bigger mouth and curvature,
flushed cheeks, brow shading, less head motion and lighting change, a narrower skin-tone and background range):
with version 1 the CPU-demo model never found the facial factor in its few hundred steps, with version 2 a
micro model trained from scratch on video alone reaches 60-80 % held-out valence in 200-300 steps.
Everything else (identity, resting expression, pose, lighting, noise, blinks, gaze, and the talking mouth, which
moves while the voice speaks but at its own random rate) is drawn at random and carries no class information.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FPS = 25


@dataclass(frozen=True)
class FaceIdentity:
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    lips: tuple[float, float, float]
    iris: tuple[float, float, float]
    background: tuple[float, float, float]
    shirt: tuple[float, float, float]
    head_a: float          # head half-width
    head_b: float          # head half-height
    eye_x: float           # half the eye spacing
    eye_y: float
    eye_w: float
    eye_h: float
    brow_gap: float        # brow height above the eye centre
    brow_th: float
    mouth_y: float
    mouth_w: float
    lip_th: float
    fringe: float          # v of the hair line
    smile_bias: float      # resting expression, so "curved mouth" alone does not name the class
    furrow_bias: float


def draw_identity(rng: np.random.Generator) -> FaceIdentity:
    tone = rng.uniform(0.25, 1.0)
    dark, light = np.array([92, 58, 40.0]), np.array([242, 208, 182.0])
    skin = dark + (light - dark) * tone + rng.normal(0, 6, 3)
    hair = np.array(rng.choice([[30, 22, 18], [70, 45, 25], [120, 80, 40], [190, 160, 100], [90, 90, 90]]), float)
    hair = hair + rng.normal(0, 8, 3)
    lips = skin * np.array([0.78, 0.52, 0.52]) + np.array([30.0, 0, 0])
    iris = np.array(rng.choice([[60, 40, 25], [40, 80, 120], [70, 100, 60], [30, 25, 20]]), float)
    bg = rng.uniform(70, 180, 3)
    shirt = rng.uniform(20, 220, 3)
    return FaceIdentity(
        skin=tuple(np.clip(skin, 0, 255)), hair=tuple(np.clip(hair, 0, 255)), lips=tuple(np.clip(lips, 0, 255)),
        iris=tuple(iris), background=tuple(bg), shirt=tuple(shirt),
        head_a=rng.uniform(0.68, 0.80), head_b=rng.uniform(0.90, 1.0),
        eye_x=rng.uniform(0.25, 0.33), eye_y=rng.uniform(-0.14, -0.05),
        eye_w=rng.uniform(0.10, 0.13), eye_h=rng.uniform(0.050, 0.066),
        brow_gap=rng.uniform(0.10, 0.14), brow_th=rng.uniform(0.026, 0.042),
        mouth_y=rng.uniform(0.42, 0.50), mouth_w=rng.uniform(0.30, 0.36), lip_th=rng.uniform(0.045, 0.055),
        fringe=rng.uniform(-0.78, -0.55),
        smile_bias=rng.uniform(-0.12, 0.12), furrow_bias=rng.uniform(0.0, 0.15),
    )


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, amp: float, fmax: float = 0.8) -> np.ndarray:
    """A smooth random wiggle: three sinusoids of random low frequency and phase."""
    out = np.zeros_like(t)
    for _ in range(3):
        out += np.sin(2 * np.pi * rng.uniform(0.1, fmax) * t + rng.uniform(0, 2 * np.pi))
    return amp * out / 3


def _ramp(t: np.ndarray, t0: float, rise: float) -> np.ndarray:
    x = np.clip((t - t0) / rise, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def expression_tracks(rng: np.random.Generator, ident: FaceIdentity, valence: int,
                      talking: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame smile, furrow, raise, eye openness and mouth opening for one clip.

    `talking` (0..1 per frame) says when the voice speaks; while it does, the mouth flaps at its own
    class-independent rate, so the picture is in sync with the sound without showing its syllable rate
    (which would leak the vocal arousal into the video)."""
    n = len(talking)
    t = np.arange(n) / FPS
    dur = n / FPS
    intensity = rng.uniform(0.8, 1.0)
    smile = ident.smile_bias + _smooth_noise(rng, t, 0.06)
    furrow = ident.furrow_bias + np.abs(_smooth_noise(rng, t, 0.05))
    raise_ = np.abs(_smooth_noise(rng, t, 0.05))
    eye_open = 1.0 + _smooth_noise(rng, t, 0.04)
    mouth_open = np.zeros(n)
    # the expression starts early and holds, so any window the model reads shows it for most of its frames
    if valence == 0:
        g = _ramp(t, rng.uniform(0.0, 0.1 * dur), rng.uniform(0.3, 0.6))
        smile = smile - 1.0 * intensity * g
        furrow = furrow + 1.0 * intensity * g
        eye_open = eye_open - 0.25 * intensity * g
    elif valence == 1:
        if rng.random() < 0.6:   # an eyebrow flash: up and down within ~0.4 s
            tc, w = rng.uniform(0.4, dur - 0.4), rng.uniform(0.12, 0.2)
            raise_ = raise_ + rng.uniform(0.4, 0.8) * np.exp(-0.5 * ((t - tc) / w) ** 2)
    else:
        g = _ramp(t, rng.uniform(0.0, 0.1 * dur), rng.uniform(0.1, 0.25))
        laugh = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(3.0, 5.0) * t + rng.uniform(0, 2 * np.pi))
        smile = smile + 1.0 * intensity * g
        raise_ = raise_ + 0.25 * intensity * g
        eye_open = eye_open - 0.28 * intensity * g
        mouth_open = mouth_open + intensity * g * (0.3 + 0.3 * laugh)      # parted lips, teeth showing
    rate = rng.uniform(3.5, 5.0) * (1 + _smooth_noise(rng, t, 0.15))
    flap = 0.5 - 0.5 * np.cos(2 * np.pi * np.cumsum(rate) / FPS + rng.uniform(0, 2 * np.pi))
    mouth_open = mouth_open + rng.uniform(0.3, 0.6) * talking * (0.3 + 0.7 * flap)
    # blinks: ~0.3 per second, 160 ms each
    for tb in np.cumsum(rng.exponential(1 / 0.3, 8)):
        if tb < dur:
            eye_open = eye_open * (1 - 0.95 * np.exp(-0.5 * ((t - tb) / 0.045) ** 2))
    return {"smile": smile, "furrow": furrow, "raise": raise_, "eye_open": np.clip(eye_open, 0.03, 1.3),
            "mouth_open": np.clip(mouth_open, 0.0, 1.2)}


@dataclass(frozen=True)
class Scene:
    """Per-clip camera and light: where the head is, how the frame is lit, how noisy the sensor is."""
    cx: np.ndarray
    cy: np.ndarray
    tilt: np.ndarray
    scale: np.ndarray
    brightness: np.ndarray
    grad: tuple[float, float]
    tint: tuple[float, float, float]
    noise: float
    gaze: np.ndarray      # (n, 2)


def draw_scene(rng: np.random.Generator, n: int, size: int) -> Scene:
    t = np.arange(n) / FPS
    return Scene(
        cx=size * (0.5 + rng.uniform(-0.02, 0.02) + _smooth_noise(rng, t, 0.01)),
        cy=size * (0.52 + rng.uniform(-0.02, 0.02) + _smooth_noise(rng, t, 0.01)),
        tilt=rng.uniform(-0.04, 0.04) + _smooth_noise(rng, t, 0.02),
        scale=size * 0.5 * rng.uniform(0.95, 1.05) * (1 + _smooth_noise(rng, t, 0.01)),
        brightness=rng.uniform(0.85, 1.1) * (1 + _smooth_noise(rng, t, 0.02, fmax=2.0)),
        grad=tuple(rng.uniform(-0.15, 0.15, 2)),
        tint=tuple(rng.uniform(0.95, 1.05, 3)),
        noise=rng.uniform(1.5, 4.0),
        gaze=np.stack([_smooth_noise(rng, t, 0.25), _smooth_noise(rng, t, 0.15)], axis=1),
    )


def _aa(d: np.ndarray, px: float) -> np.ndarray:
    """Coverage of a pixel by the shape whose signed distance (negative inside) is d."""
    return np.clip(0.5 - d / px, 0.0, 1.0)


def _ellipse(u: np.ndarray, v: np.ndarray, a, b) -> np.ndarray:
    """Approximate signed distance to an axis-aligned ellipse at the origin (a, b may be per-frame arrays)."""
    return (np.sqrt((u / a) ** 2 + (v / b) ** 2) - 1.0) * np.minimum(a, b)


class _Canvas:
    """n frames in head coordinates: the head upright, centred, at the clip's mean scale.

    Shapes are drawn into pixel windows around each feature, for every frame at once ((n, h, w) arrays with
    per-frame parameters as (n, 1, 1))."""

    def __init__(self, n: int, size: int, scale: float, bg):
        self.size, self.scale = size, float(scale)
        self.px = 1.0 / self.scale          # one pixel in head units
        self.img = np.empty((n, size, size, 3), np.float32)
        self.img[:] = np.asarray(bg, np.float32)

    def window(self, u0: float, u1: float, v0: float, v1: float):
        """Pixel slices covering the head-unit box, and the head coordinates u (1, 1, w), v (1, h, 1) there."""
        c = self.size / 2
        x0, x1 = max(int(c + self.scale * u0) - 2, 0), min(int(np.ceil(c + self.scale * u1)) + 2, self.size)
        y0, y1 = max(int(c + self.scale * v0) - 2, 0), min(int(np.ceil(c + self.scale * v1)) + 2, self.size)
        u = (np.arange(x0, x1, dtype=np.float32) + 0.5 - c)[None, None, :] / np.float32(self.scale)
        v = (np.arange(y0, y1, dtype=np.float32) + 0.5 - c)[None, :, None] / np.float32(self.scale)
        return (slice(None), slice(y0, y1), slice(x0, x1)), u, v

    def paint(self, win, alpha: np.ndarray, color) -> None:
        region = self.img[win]
        a = np.broadcast_to(alpha, region.shape[:3])[..., None].astype(np.float32, copy=False)
        region += (np.asarray(color, np.float32) - region) * a


def _col(x: np.ndarray) -> np.ndarray:
    """A per-frame track as a float32 (n, 1, 1) column, to broadcast against (n, h, w) windows."""
    return np.asarray(x, np.float32)[:, None, None]


def draw_head(cv: _Canvas, ident: FaceIdentity) -> None:
    """What does not move relative to the head: clothes, neck, hair, face, nose (on a one-frame canvas)."""
    px = cv.px
    skin, a, b = np.asarray(ident.skin, np.float32), ident.head_a, ident.head_b
    win, u, v = cv.window(-2.0, 2.0, 0.6, 2.0)
    collar = 0.95 + 0.25 * u * u
    cv.paint(win, _aa(collar - v, px), ident.shirt)
    cv.paint(win, _aa(np.maximum(np.abs(u) - 0.36, 0.6 - v), px) * _aa(v - collar, px), skin * 0.82)
    win, u, v = cv.window(-a - 0.1, a + 0.1, -b - 0.12, b)
    hair = _aa(_ellipse(u, v + 0.08, a + 0.06, b * 0.9), px)
    cv.paint(win, hair * _aa(v - 0.1, px), ident.hair)
    head = _aa(_ellipse(u, v, a, b), px)[..., None]
    shade = (1.0 - 0.18 * ((u / a) ** 2 + (v / b) ** 2))[..., None]
    region = cv.img[win]
    region += (skin * shade - region) * head
    cv.paint(win, hair * _aa(v - (ident.fringe + 0.08 * np.cos(3.0 * u)), px), ident.hair)
    win, u, v = cv.window(-0.12, 0.12, ident.eye_y, 0.34)
    mid = (ident.eye_y + 0.27) / 2
    cv.paint(win, 0.35 * _aa(np.maximum(np.abs(u - 0.03) - 0.012, np.abs(v - mid) - (0.27 - mid)), px), skin * 0.6)
    for side in (-1, 1):
        cv.paint(win, 0.7 * _aa(_ellipse(u - side * 0.055, v - 0.29, 0.03, 0.016), px), skin * 0.4)


def draw_features(cv: _Canvas, ident: FaceIdentity, ex: dict[str, np.ndarray], gaze: np.ndarray) -> None:
    """The moving parts, every frame at once: cheeks, eyes, brows, creases, mouth."""
    px = cv.px
    skin = np.asarray(ident.skin, np.float32)
    smile, furrow, raise_ = _col(ex["smile"]), _col(ex["furrow"]), _col(ex["raise"])
    eye_open, mouth_open = _col(ex["eye_open"]), _col(ex["mouth_open"])
    gx, gy = _col(gaze[:, 0]), _col(gaze[:, 1])

    # cheeks flush when smiling; the brow region darkens when frowning (both cover several patches at 64 px)
    for side in (-1, 1):
        win, u, v = cv.window(side * 0.42 - 0.2, side * 0.42 + 0.2, 0.08, 0.42)
        cv.paint(win, 0.55 * np.clip(smile, 0, 1) * _aa(_ellipse(u - side * 0.42, v - 0.25, 0.17, 0.11), 0.08),
                 (215, 80, 90))
    win, u, v = cv.window(-0.5, 0.5, ident.eye_y - 0.3, ident.eye_y + 0.08)
    cv.paint(win, 0.5 * np.clip(furrow - 0.2, 0, 1) * _aa(_ellipse(u, v - ident.eye_y + 0.1, 0.46, 0.16), 0.08),
             skin * 0.55)

    # eyes (white, iris, pupil, lid line); cheek raise and narrowing both act through eye_open
    ew, eh = ident.eye_w, ident.eye_h * eye_open
    for side in (-1, 1):
        ec_u, ec_v = side * ident.eye_x, ident.eye_y
        win, u, v = cv.window(ec_u - ew - 0.05, ec_u + ew + 0.05, ec_v - 0.12, ec_v + 0.12)
        du, dv = u - ec_u, v - ec_v
        white = _aa(_ellipse(du, dv, ew, np.maximum(eh, 1e-3)), px)
        cv.paint(win, white, (235, 232, 228))
        ir = ident.eye_h * 0.95
        d_iris = np.sqrt((du - gx * ew * 0.4) ** 2 + (dv - gy * ident.eye_h * 0.3) ** 2)
        cv.paint(win, white * _aa(d_iris - ir, px), ident.iris)
        cv.paint(win, white * _aa(d_iris - ir * 0.45, px), (12, 10, 10))
        d_lid = np.abs(_ellipse(du, dv, ew, np.maximum(eh, 0.006))) - np.where(dv < 0, 0.011, 0.005)
        cv.paint(win, _aa(d_lid, px), skin * 0.35)

    # brows: raise lifts them; furrow drops and pulls in the inner ends
    half = 1.15 * ident.eye_w
    for side in (-1, 1):
        ec_u = side * ident.eye_x
        win, u, v = cv.window(ec_u - 0.2, ec_u + 0.2, ident.eye_y - 0.32, ident.eye_y - 0.02)
        bu = (u - ec_u) * side + 0.03 * furrow                     # > 0 towards the outer end
        inner = np.clip((half - bu) / (2 * half), 0.0, 1.0)
        vb = (ident.eye_y - ident.brow_gap - 0.075 * raise_ + 0.09 * furrow * inner
              - 0.02 * (1 - (bu / half) ** 2) - 0.02 * raise_ * (1 - inner))
        th = ident.brow_th * (1 - 0.35 * np.clip(bu / half, 0, 1))
        d = np.maximum(np.abs(v - vb) - th / 2, np.abs(bu) - half)
        cv.paint(win, _aa(d, px), np.asarray(ident.hair) * 0.8)
    # vertical creases between the brows
    win, u, v = cv.window(-0.1, 0.1, ident.eye_y - 0.2, ident.eye_y)
    d = np.maximum(np.abs(np.abs(u) - 0.045) - 0.006, np.abs(v - ident.eye_y + 0.1) - 0.05)
    cv.paint(win, np.clip(furrow - 0.2, 0, 0.8) * _aa(d, px), skin * 0.6)

    # mouth: a centre curve bent by smile, opened by mouth_open, upper and lower lip bands around the gap
    mw = ident.mouth_w * (1 + 0.12 * np.maximum(smile, 0.0))
    wmax = ident.mouth_w * 1.15
    win, u, v = cv.window(-wmax - 0.04, wmax + 0.04, ident.mouth_y - 0.2, ident.mouth_y + 0.25)
    x = np.clip(u / mw, -1.5, 1.5)                                     # (n, 1, w)
    vc = ident.mouth_y - 0.2 * smile * (x * x - 0.3)
    h = 0.16 * mouth_open * np.clip(1 - x * x, 0, 1) ** 0.7
    v_ui, v_li = vc - 0.3 * h, vc + 0.7 * h
    side = (np.abs(x) - 1.0) * mw
    v_uo = v_ui - ident.lip_th * 0.8 * (1 - 0.6 * x * x) + 0.006 * np.exp(-(x / 0.12) ** 2)
    v_lo = v_li + ident.lip_th * (1 - 0.5 * x * x)
    cv.paint(win, _aa(np.maximum(np.maximum(v_uo - v, v - v_lo), side), px), ident.lips)
    cavity = _aa(np.maximum(np.maximum(v_ui - v, v - v_li), side + 0.02), px)
    cv.paint(win, cavity, (45, 12, 15))
    cv.paint(win, cavity * _aa(v - (v_ui + 0.022), px), (225, 222, 210))
    cv.paint(win, 0.8 * _aa(np.maximum(np.abs(v - vc) - 0.005, side), px) * (1 - cavity),
             np.asarray(ident.lips) * 0.5)


def _light(scene: Scene, size: int) -> np.ndarray:
    """Per-pixel gain of the clip's light: a linear gradient times a colour tint."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    return ((1 + scene.grad[0] * xx + scene.grad[1] * yy)[..., None] * np.asarray(scene.tint, np.float32))


def render_clip(rng: np.random.Generator, ident: FaceIdentity, valence: int, talking: np.ndarray,
                size: int) -> np.ndarray:
    """uint8 frames (n, size, size, 3) for one clip; n = len(talking) frames at 25 fps."""
    n = len(talking)
    ex = expression_tracks(rng, ident, valence, talking)
    scene = draw_scene(rng, n, size)
    base_scale = float(np.mean(scene.scale))
    cv = _Canvas(1, size, base_scale, ident.background)
    draw_head(cv, ident)
    cv.img = np.repeat(cv.img, n, axis=0)
    draw_features(cv, ident, ex, scene.gaze)
    light = _light(scene, size)
    noise = rng.standard_normal((n, size, size, 1), dtype=np.float32)
    out = np.empty((n, size, size, 3), np.uint8)
    img = np.empty((size, size, 3), np.float32)
    c = size / 2 - 0.5                      # cv2 puts pixel centres on integers, _Canvas at +0.5
    for i in range(n):
        k = float(scene.scale[i]) / base_scale
        cos, sin = float(np.cos(scene.tilt[i])) * k, float(np.sin(scene.tilt[i])) * k
        cx, cy = float(scene.cx[i]) - 0.5, float(scene.cy[i]) - 0.5
        warp = np.array([[cos, -sin, cx - cos * c + sin * c], [sin, cos, cy - sin * c - cos * c]])
        cv2.warpAffine(cv.img[i], warp, (size, size), dst=img, flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
        img *= light * np.float32(scene.brightness[i])
        img += noise[i] * np.float32(scene.noise) + np.float32(0.5)
        np.clip(img, 0, 255, out=img)
        out[i] = img
    return out
