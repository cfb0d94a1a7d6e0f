"""Training-time augmentation of AVF-MAE++: the official recipe, with one random draw per clip.

    cfg = AugmentConfig()                                   # the official fine-tuning defaults
    video_tf, audio_tf = VideoTrainTransform(cfg), AudioTrainTransform(cfg.freqm, cfg.timem)   # what ClipSet uses
    video = video_tf(frames)          # list of T uint8 (H, W, 3) frames -> (3, T, 160, 160) float32, normalised
    audio = audio_tf(fbank)           # (1, 256, 128) normalised fbank -> same shape (identity by default)

Fine-tuning video (`VideoTrainTransform`), in the official order (kinetics_av.VideoClsDatasetFrame, mode 'train':
`data_resize`, then `_aug_frame`):
    0. every frame resized to `resize_to` x `resize_to` (160, PIL bilinear);
    1. RandAugment `rand-m7-n4-mstd0.5-inc1` (timm `rand_augment_transform`, bicubic, translate_const =
       int(0.45 * input_size), grey fill) on the resized PIL frames. Every frame of a clip is
       transformed with the SAME ops, magnitudes and signs: timm draws them from python's `random` and numpy's
       global RNG, so both are set to the same per-clip state before each frame (and restored afterwards, so the
       caller's RNG streams are not disturbed);
    2. /255 and ImageNet normalisation, layout (3, T, H, W);
    3. random resized crop, scale (0.08, 1), log-uniform ratio (3/4, 4/3), 10 tries then the centre crop
       (the official `_get_param_spatial_crop`), one box per clip, bilinear resize (torch `interpolate`,
       align_corners=False, no antialias, as the official code) to input_size x input_size;
    4. horizontal flip with p 0.5, per clip;
    5. random erasing (timm `RandomErasing`) p 0.25, pixel mode, 1 box, per clip: the same box in every frame
       with fresh per-pixel normal noise in each frame (the official "cube" erasing). Implemented by running
       timm's eraser on the clip viewed as a (3*T, H, W) image.

Pre-training video (`PretrainVideoTransform`): GroupMultiScaleCrop(160, scales [1, .875, .75, .66],
max_distort 1, 13 fixed corners), one (w, h, x, y) per clip, PIL bilinear resize, normalisation, no flip
(avfmae.data.pretrain does the work; this only draws the per-clip choice from the clip's own RNG).

Audio (`AudioTrainTransform`): optional SpecAugment frequency / time masking on the normalised fbank, off by
default (freqm = timem = 0 in every official fine-tuning script). Masked bins get the value a zero fbank bin
has after normalisation, because the official code masks before normalising.

Randomness: each call draws one 31-bit clip seed, from `generator` (a torch.Generator) when given, else from
torch's global RNG (which torch's DataLoader seeds per worker and per epoch). Everything random in the clip is
derived from that seed, so `torch.manual_seed(s)` (or the same generator state) reproduces a clip exactly.
"""
from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from . import audio as A
from . import video as V

__all__ = [
    "AugmentConfig", "draw_clip_seed", "replay_same_random", "check_rand_augment", "RandAugmentClip",
    "sample_resized_crop_box", "resized_crop", "erase_clip", "VideoTrainTransform", "PretrainVideoTransform", "AudioTrainTransform",
]


@dataclass(frozen=True)
class AugmentConfig:
    """Every number of the official training augmentation (HiCMAE / AVF-MAE++ fine-tuning scripts, timm names).

    Video (fine-tuning): `resize_to` (frames resized to resize_to x resize_to, bilinear, BEFORE RandAugment and the
    crop, as the official AV training transform does: kinetics_av.VideoClsDatasetFrame, mode 'train', resizes to
    (short_side_size, short_side_size) and then calls _aug_frame; None = no resize), `input_size`,
    `scale`/`ratio` (random resized crop), `hflip`, `auto_augment`,
    `train_interpolation` (RandAugment's resampling), `reprob`/`remode`/`recount` (random erasing).
    Batch mixing (avfmae.data.mixup): `mixup`, `cutmix`, `cutmix_minmax`, `mixup_prob`, `mixup_switch_prob`,
    `mixup_mode`, `smoothing`, and `mix_audio` (False = official: audio is not mixed while labels are).
    Audio: `freqm`/`timem` SpecAugment mask widths (0 = off, official).
    Pre-training: `pretrain_scales`, `pretrain_max_distort`, `pretrain_flip` (official: no flip).
    """

    input_size: int = 160
    resize_to: int | None = 160
    scale: tuple = (0.08, 1.0)
    ratio: tuple = (0.75, 1.3333)
    hflip: float = 0.5
    auto_augment: str | None = "rand-m7-n4-mstd0.5-inc1"
    train_interpolation: str = "bicubic"
    reprob: float = 0.25
    remode: str = "pixel"
    recount: int = 1
    mixup: float = 0.8
    cutmix: float = 1.0
    cutmix_minmax: tuple | None = None
    mixup_prob: float = 1.0
    mixup_switch_prob: float = 0.5
    mixup_mode: str = "batch"
    smoothing: float = 0.1
    mix_audio: bool = False
    freqm: int = 0
    timem: int = 0
    pretrain_scales: tuple = (1.0, 0.875, 0.75, 0.66)
    pretrain_max_distort: int = 1
    pretrain_flip: float = 0.0
    mean: tuple = V.IMAGENET_MEAN
    std: tuple = V.IMAGENET_STD

    def replace(self, **changes) -> "AugmentConfig":
        return AugmentConfig(**{**asdict(self), **changes})

    @property
    def mixing(self) -> bool:
        """Whether batch mixing (mixup or CutMix) is on at all."""
        return (self.mixup > 0 or self.cutmix > 0 or self.cutmix_minmax is not None) and self.mixup_prob > 0


# ------------------------------------------------------------------------------------------------ randomness
_SEED_MAX = 2 ** 31 - 1


def draw_clip_seed(generator: torch.Generator | None = None) -> int:
    """One clip's seed: a draw from `generator`, or from torch's global RNG (DataLoader seeds it per worker)."""
    return int(torch.randint(0, _SEED_MAX, (1,), generator=generator).item())


def _sub_seed(seed: int, k: int) -> int:
    """Independent-looking derived seeds for the stages of one clip (crop, RandAugment, erasing, ...)."""
    return int(np.random.SeedSequence([int(seed), int(k)]).generate_state(1)[0] & _SEED_MAX)


def replay_same_random(fn: Callable, items: Sequence, seed: int, torch_rng: bool = False) -> list:
    """[fn(x) for x in items] where every call sees the same python `random` and numpy global RNG state (seeded
    with `seed`), and, with `torch_rng`, the same torch CPU RNG state. The caller's RNG states are restored."""
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        out = []
        for x in items:
            random.seed(seed)
            np.random.seed(seed)
            if torch_rng:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    out.append(fn(x))
            else:
                out.append(fn(x))
        return out
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


# ----------------------------------------------------------------------------------------------- RandAugment
_RA_KEYS = {"m": int, "n": int, "mstd": float, "mmax": int, "inc": int, "p": float}


def check_rand_augment(config_str: str) -> None:
    """Raise ValueError unless `config_str` is a RandAugment string timm reads as written: 'rand' then '-'-separated
    sections m<int> (magnitude), n<int> (ops per clip), mstd<float> (magnitude noise), mmax<int>, inc<0|1>,
    p<float> (probability per op) or t<name> (an op set). timm skips a section it cannot split into a key and a
    number (so a typo silently changes the augmentation) and fails on an unknown key only when the data loader
    starts; this finds both when the config is made."""
    sections = str(config_str).split("-")
    if sections[0] != "rand":
        raise ValueError(f"rand_augment={config_str!r}: a RandAugment string starts with 'rand-' "
                         "(e.g. the official 'rand-m7-n4-mstd0.5-inc1'); use None to switch it off")
    for section in sections[1:]:
        if section.startswith("t"):
            continue                                       # t<name>: timm's named op set
        key = section.rstrip("0123456789.")
        value = section[len(key):]
        kind = _RA_KEYS.get(key)
        try:
            number = kind(value) if kind is not None and value else None
        except ValueError:
            number = None
        if number is None or (key == "inc" and number not in (0, 1)) or (key == "p" and not 0 <= number <= 1) \
                or number < 0:
            raise ValueError(f"rand_augment={config_str!r}: section {section!r} is not one timm reads (sections: "
                             "m<int> magnitude, n<int> ops, mstd<float>, mmax<int>, inc<0|1>, p<0..1>, t<op set>; "
                             "e.g. 'rand-m7-n4-mstd0.5-inc1')")


class RandAugmentClip:
    """timm's RandAugment applied with identical random choices to every frame of a clip.

    `config_str` is timm's (e.g. 'rand-m7-n4-mstd0.5-inc1'); hparams as the official `create_random_augment`:
    translate_const = int(min(input_size) * 0.45) and the given interpolation (fill stays timm's grey 128)."""

    def __init__(self, config_str: str, input_size: int = 160, interpolation: str = "bicubic"):
        from timm.data.auto_augment import rand_augment_transform
        from timm.data.transforms import str_to_pil_interp

        check_rand_augment(config_str)
        hparams = {"translate_const": int(input_size * 0.45)}
        if interpolation and interpolation != "random":
            hparams["interpolation"] = str_to_pil_interp(interpolation)
        self.config_str = config_str
        self.transform = rand_augment_transform(config_str, hparams)

    def __call__(self, images: Sequence, seed: int) -> list:
        """PIL images of one clip -> augmented PIL images (the same ops on each).

        The result is that of `replay_same_random(self.transform, images, seed)` (every frame seeing the same RNG
        state), computed once per clip: `record` lists the op calls timm makes from that state, and each call is
        applied to every frame (timm's ops are deterministic given their arguments once the interpolation is
        fixed). A random interpolation (drawn inside the op) falls back to replaying the RNG per frame.
        Posterize to 0 bits (timm's posterize-increasing at magnitude 10, e.g. 2 % of rand-m9-mstd0.5's draws)
        gives black frames: Pillow's mask ~(2 ** (8 - bits) - 1) keeps no bit, which is what Pillow computed
        before version 13 began refusing bits < 1 with a ValueError (a crash in the middle of training)."""
        images = list(images)
        calls = self.record(seed, *images[0].size) if images else None
        if calls is None:
            return replay_same_random(self.transform, images, seed)
        from PIL import Image
        from timm.data.auto_augment import posterize

        for fn, args, kwargs in calls:
            if fn is posterize and args and args[0] < 1:
                images = [Image.new(im.mode, im.size) for im in images]
            else:
                images = [fn(im, *args, **dict(kwargs)) for im in images]
        return images

    def record(self, seed: int, width: int, height: int) -> list | None:
        """The op calls [(timm op function, args, kwargs), ...] timm's transform makes from the RNG state `seed`
        for frames of width x height, recorded without running them (timm draws an op's randomness before
        calling it and never looks at the pixels); None where an op would draw inside the call (a random
        interpolation)."""
        ops = getattr(self.transform, "ops", None)
        if ops is None or any(isinstance(op.kwargs.get("resample"), (list, tuple)) for op in ops):
            return None
        from PIL import Image

        calls: list[tuple] = []

        def recorder(fn):
            def record(img, *args, **kwargs):
                calls.append((fn, args, dict(kwargs)))
                return img
            return record

        originals = [op.aug_fn for op in ops]
        for op, fn in zip(ops, originals):
            op.aug_fn = recorder(fn)
        try:
            replay_same_random(self.transform, [Image.new("RGB", (width, height))], seed)
        finally:
            for op, fn in zip(ops, originals):
                op.aug_fn = fn
        return calls

    def __repr__(self) -> str:
        return f"RandAugmentClip({self.config_str!r})"


# -------------------------------------------------------------------------------------- random resized crop
def sample_resized_crop_box(height: int, width: int, scale: Sequence[float] = (0.08, 1.0),
                            ratio: Sequence[float] = (0.75, 1.3333), rng: random.Random | None = None,
                            attempts: int = 10) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a random resized crop: area fraction ~ U(scale), log-uniform aspect ratio w/h in
    `ratio`, `attempts` tries, else the centre crop with the closest allowed ratio (the official rule)."""
    r = rng or random
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(attempts):
        target_area = r.uniform(scale[0], scale[1]) * area
        aspect = math.exp(r.uniform(*log_ratio))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return r.randint(0, height - h), r.randint(0, width - w), h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def resized_crop(video: torch.Tensor, box: Sequence[int], size: int) -> torch.Tensor:
    """Crop (top, left, h, w) of a (C, T, H, W) float tensor and resize it bilinearly to size x size
    (torch interpolate, align_corners=False, no antialias: the official `random_resized_crop`)."""
    top, left, h, w = (int(v) for v in box)
    cropped = video[:, :, top:top + h, left:left + w]
    if cropped.shape[-2:] == (size, size):
        return cropped.contiguous()
    return torch.nn.functional.interpolate(cropped, size=(size, size), mode="bilinear", align_corners=False)


# --------------------------------------------------------------------------------------------- random erasing
def erase_clip(video: torch.Tensor, eraser, seed: int) -> torch.Tensor:
    """Apply a timm RandomErasing to a (C, T, H, W) clip as one (C*T, H, W) image: one decision and one box for
    the clip, the same box in every frame; in 'pixel' mode each frame's box gets its own normal noise. In place
    (and returned). `seed` fixes the draw."""
    c, t, h, w = video.shape
    flat = video.reshape(c * t, h, w)  # a view: erasing writes into `video`
    replay_same_random(eraser, [flat], seed, torch_rng=True)
    return video


def _make_eraser(cfg: AugmentConfig):
    from timm.data.random_erasing import RandomErasing

    return RandomErasing(cfg.reprob, mode=cfg.remode, max_count=cfg.recount, num_splits=cfg.recount, device="cpu")


def _to_pil(frames: Sequence) -> list:
    """uint8 (H, W, 3) arrays (or PIL images, kept as they are) -> PIL images."""
    from PIL import Image

    return [f if isinstance(f, Image.Image) else Image.fromarray(np.ascontiguousarray(f)) for f in frames]


def _resize_image(image, size: int):
    """V.resize_frame on a PIL image: PIL BILINEAR to size x size (kept when already that size)."""
    from PIL import Image

    return image if image.size == (size, size) else image.resize((size, size), Image.BILINEAR)


# ---------------------------------------------------------------------------------------------- transforms
class VideoTrainTransform:
    """Fine-tuning video augmentation of one clip (see the module docstring for the steps).

    Call with the clip's T uint8 (H, W, 3) RGB frames (all the same size) -> (3, T, S, S) float32 normalised.
    `generator` (torch.Generator) fixes the draw; without it torch's global RNG is used."""

    def __init__(self, cfg: AugmentConfig = AugmentConfig()):
        self.cfg = cfg
        self.rand_augment = (RandAugmentClip(cfg.auto_augment, cfg.input_size, cfg.train_interpolation)
                             if cfg.auto_augment else None)
        self.eraser = _make_eraser(cfg) if cfg.reprob > 0 else None
        self.last_params: dict = {}

    def __call__(self, frames: Sequence[np.ndarray], generator: torch.Generator | None = None) -> torch.Tensor:
        if len(frames) == 0:
            raise ValueError("a clip needs at least one frame")
        cfg = self.cfg
        seed = draw_clip_seed(generator)
        images = _to_pil(frames)
        if cfg.resize_to:                                   # official order: resize, then RandAugment and crop
            images = [_resize_image(im, cfg.resize_to) for im in images]
        if self.rand_augment is not None:
            images = self.rand_augment(images, _sub_seed(seed, 1))
        arrays = np.stack([np.asarray(im if im.mode == "RGB" else im.convert("RGB")) for im in images], axis=0)
        rng = random.Random(_sub_seed(seed, 2))
        box = sample_resized_crop_box(arrays.shape[1], arrays.shape[2], cfg.scale, cfg.ratio, rng)
        top, left, h, w = box                               # normalise only the crop (per-pixel: the same values)
        video = V.normalize_video(arrays[:, top:top + h, left:left + w], cfg.mean, cfg.std)  # (3, T, h, w)
        video = resized_crop(video, (0, 0, h, w), cfg.input_size)
        flip = cfg.hflip > 0 and rng.random() < cfg.hflip
        if flip:
            video = video.flip(-1)
        video = video.contiguous()
        if self.eraser is not None:
            erase_clip(video, self.eraser, _sub_seed(seed, 3))
        self.last_params = {"seed": seed, "crop": box, "flip": flip}
        return video

    def __repr__(self) -> str:
        c = self.cfg
        return (f"VideoTrainTransform(size={c.input_size}, scale={c.scale}, ratio={c.ratio}, hflip={c.hflip}, "
                f"aa={c.auto_augment!r}, reprob={c.reprob}, remode={c.remode!r})")


class PretrainVideoTransform:
    """Pre-training video augmentation: GroupMultiScaleCrop (one (w, h, x, y) per clip) + resize + normalise.

    Frames -> (3, T, S, S) float32. `pretrain_flip` > 0 adds a per-clip horizontal flip (official: 0)."""

    def __init__(self, cfg: AugmentConfig = AugmentConfig()):
        from .views import PreprocessConfig

        self.cfg = cfg
        self.pcfg = PreprocessConfig(crop_size=cfg.input_size, short_side_size=cfg.input_size,
                                     pretrain_scales=tuple(cfg.pretrain_scales),
                                     pretrain_max_distort=cfg.pretrain_max_distort,
                                     video_mean=tuple(cfg.mean), video_std=tuple(cfg.std))
        self.last_params: dict = {}

    def __call__(self, frames: Sequence[np.ndarray], generator: torch.Generator | None = None) -> torch.Tensor:
        from .pretrain import pretrain_video, sample_multiscale_crop

        if len(frames) == 0:
            raise ValueError("a clip needs at least one frame")
        seed = draw_clip_seed(generator)
        rng = random.Random(_sub_seed(seed, 2))
        h, w = frames[0].shape[:2]
        crop = sample_multiscale_crop(w, h, self.pcfg, rng)
        video = pretrain_video(frames, crop, self.pcfg)
        flip = self.cfg.pretrain_flip > 0 and rng.random() < self.cfg.pretrain_flip
        if flip:
            video = video.flip(-1).contiguous()
        self.last_params = {"seed": seed, "crop": crop, "flip": flip}
        return video


class AudioTrainTransform:
    """SpecAugment on the normalised fbank (C, time, mel): up to `freqm` mel bins and up to `timem` frames
    masked, one mask of each (torchaudio's rule: width ~ U[0, max), start ~ U[0, size - width)). Identity
    when both are 0 (the official default). Masked values are `fill`, by default a zero fbank bin after the
    official normalisation ((0 - mean) / (2 std)), since the official code masks before normalising."""

    def __init__(self, freqm: int = 0, timem: int = 0, fill: float | None = None,
                 mean: float = A.FBANK_MEAN, std: float = A.FBANK_STD):
        self.freqm, self.timem = int(freqm), int(timem)
        self.fill = float((0.0 - mean) / (2 * std)) if fill is None else float(fill)

    @property
    def active(self) -> bool:
        return self.freqm > 0 or self.timem > 0

    @staticmethod
    def _band(size: int, max_width: int, g: torch.Generator | None) -> tuple[int, int]:
        width = int(torch.rand((), generator=g).item() * max_width)
        start = int(torch.rand((), generator=g).item() * (size - width))
        return start, width

    def __call__(self, fbank: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if not self.active:
            return fbank
        out = fbank.clone()
        if self.freqm > 0:
            s, wdt = self._band(out.shape[-1], self.freqm, generator)
            out[..., s:s + wdt] = self.fill
        if self.timem > 0:
            s, wdt = self._band(out.shape[-2], self.timem, generator)
            out[..., s:s + wdt, :] = self.fill
        return out

    def __repr__(self) -> str:
        return f"AudioTrainTransform(freqm={self.freqm}, timem={self.timem})"
