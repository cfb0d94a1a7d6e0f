"""Training augmentation (avfmae.data.augment) and audio-visual Mixup/CutMix (avfmae.data.mixup)."""
import random
import re

import numpy as np
import pytest
import torch

from avfmae.data.augment import (AudioTrainTransform, AugmentConfig, PretrainVideoTransform, RandAugmentClip,
                                 VideoTrainTransform, check_rand_augment, sample_resized_crop_box)
from avfmae.data.mixup import AVMixup, mixup_target, one_hot_smooth, soft_target_cross_entropy


def _face_frames(t=8, h=120, w=100, seed=0):
    """Real content (skimage's astronaut, a real face) when available, else a textured pattern."""
    try:
        from skimage.data import astronaut
        img = astronaut()[40:40 + 2 * h:2, 150:150 + 2 * w:2]
    except Exception:  # pragma: no cover - scikit-image is a dev dependency
        rng = np.random.RandomState(seed)
        img = rng.randint(0, 256, (h, w, 3), dtype=np.uint8)
    return [np.ascontiguousarray(img) for _ in range(t)]


def _moving_frames(t=8, h=96, w=112):
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for k in range(t):
        f = np.stack([(xx * 2 + k * 7) % 256, (yy * 3) % 256, ((xx + yy + k * 11) * 5) % 256], -1)
        out.append(f.astype(np.uint8))
    return out


def test_config_has_official_defaults():
    c = AugmentConfig()
    assert (c.input_size, c.scale, c.ratio, c.hflip) == (160, (0.08, 1.0), (0.75, 1.3333), 0.5)
    assert c.auto_augment == "rand-m7-n4-mstd0.5-inc1"
    assert (c.reprob, c.remode, c.recount) == (0.25, "pixel", 1)
    assert (c.mixup, c.cutmix, c.mixup_prob, c.mixup_switch_prob, c.smoothing) == (0.8, 1.0, 1.0, 0.5, 0.1)
    assert c.mix_audio is False and (c.freqm, c.timem) == (0, 0)
    assert c.pretrain_scales == (1.0, 0.875, 0.75, 0.66) and c.pretrain_flip == 0.0
    with pytest.raises(Exception):
        c.input_size = 224  # frozen
    assert c.replace(input_size=224).input_size == 224


def test_video_transform_shape_dtype_and_normalisation():
    tf = VideoTrainTransform()
    out = tf(_moving_frames(t=16), generator=torch.Generator().manual_seed(0))
    assert out.shape == (3, 16, 160, 160) and out.dtype == torch.float32
    assert out.is_contiguous() and torch.isfinite(out).all()
    # normalised with ImageNet statistics: values well outside [0, 1]
    assert out.min() < -0.5 and out.max() > 1.0


def test_identical_frames_stay_identical():
    """Crop, flip and RandAugment are drawn once per clip: a still clip stays still, for many seeds."""
    tf = VideoTrainTransform(AugmentConfig(reprob=0.0))
    frames = _face_frames(t=6)
    for seed in range(6):
        out = tf(frames, generator=torch.Generator().manual_seed(seed))
        for k in range(1, out.shape[1]):
            assert torch.equal(out[:, 0], out[:, k]), (seed, k)


def test_same_geometry_for_moving_frames():
    """Per-frame results equal the one-frame transform under the same seed: one set of parameters per clip."""
    cfg = AugmentConfig(reprob=0.0)
    tf = VideoTrainTransform(cfg)
    frames = _moving_frames(t=4)
    clip = tf(frames, generator=torch.Generator().manual_seed(3))
    for k, f in enumerate(frames):
        single = tf([f], generator=torch.Generator().manual_seed(3))
        assert torch.allclose(single[:, 0], clip[:, k], atol=1e-6)


def test_random_erasing_same_box_in_every_frame():
    cfg = AugmentConfig(reprob=1.0)
    frames = _moving_frames(t=5)
    erased = VideoTrainTransform(cfg)(frames, generator=torch.Generator().manual_seed(11))
    clean = VideoTrainTransform(cfg.replace(reprob=0.0))(frames, generator=torch.Generator().manual_seed(11))
    changed = (erased != clean).any(dim=0)  # (T, H, W)
    assert changed.any()
    for k in range(1, changed.shape[0]):
        assert torch.equal(changed[0], changed[k])
    rows, cols = changed[0].any(1).nonzero(), changed[0].any(0).nonzero()
    box = changed[0][rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    assert box.float().mean() > 0.99  # one rectangle
    # pixel mode: fresh noise per frame
    assert not torch.equal(erased[:, 0][:, changed[0]], erased[:, 1][:, changed[0]])


def test_determinism_under_seed_and_rng_isolation():
    tf = VideoTrainTransform()
    frames = _moving_frames(t=4)
    torch.manual_seed(123)
    a = tf(frames)
    torch.manual_seed(123)
    b = tf(frames)
    assert torch.equal(a, b)
    torch.manual_seed(124)
    assert not torch.equal(a, tf(frames))
    # python / numpy global streams are left as they were
    random.seed(5)
    np.random.seed(5)
    expect = (random.random(), np.random.rand())
    random.seed(5)
    np.random.seed(5)
    tf(frames)
    assert (random.random(), np.random.rand()) == expect


def test_randaugment_varies_between_clips():
    ra = RandAugmentClip("rand-m7-n4-mstd0.5-inc1")
    from PIL import Image
    img = Image.fromarray(_face_frames(t=1)[0])
    outs = {np.asarray(ra([img], seed=s)[0]).tobytes() for s in range(6)}
    assert len(outs) > 1


def test_resized_crop_box_bounds():
    rng = random.Random(0)
    for _ in range(200):
        top, left, h, w = sample_resized_crop_box(90, 130, rng=rng)
        assert 0 <= top and top + h <= 90 and 0 <= left and left + w <= 130 and h > 0 and w > 0
    # impossible scale -> centre crop fallback with the nearest allowed ratio
    assert sample_resized_crop_box(100, 400, scale=(5.0, 6.0), rng=rng) == (0, 133, 100, 133)


def test_pretrain_multiscale_crop():
    tf = PretrainVideoTransform()
    frames = _moving_frames(t=4, h=128, w=128)
    out = tf(frames, generator=torch.Generator().manual_seed(0))
    assert out.shape == (3, 4, 160, 160) and out.dtype == torch.float32
    w, h, x, y = tf.last_params["crop"]
    assert w in (128, 112, 96, 84) and h in (128, 112, 96, 84) and tf.last_params["flip"] is False
    crops = set()
    for s in range(20):
        tf(frames, generator=torch.Generator().manual_seed(s))
        crops.add(tf.last_params["crop"])
    assert len(crops) > 3
    still = tf(_face_frames(t=3), generator=torch.Generator().manual_seed(1))
    assert torch.equal(still[:, 0], still[:, 2])


def test_audio_transform_off_by_default_and_specaugment():
    assert not AudioTrainTransform(AugmentConfig().freqm, AugmentConfig().timem).active   # official: off
    fb = torch.randn(1, 256, 128)
    assert AudioTrainTransform()(fb) is fb
    sa = AudioTrainTransform(freqm=48, timem=192)
    g = torch.Generator().manual_seed(0)
    out = sa(fb, generator=g)
    assert out.shape == fb.shape and not torch.equal(out, fb)
    masked = out == sa.fill
    assert masked.any() and abs(sa.fill - 4.2677393 / (2 * 4.5689974)) < 1e-6
    assert torch.equal(fb, fb.clone())  # input untouched


# ---------------------------------------------------------------------------------------------------- mixup
def _batch(b=4, k=6):
    g = torch.Generator().manual_seed(0)
    video = torch.randn(b, 3, 4, 16, 16, generator=g)
    audio = torch.randn(b, 1, 32, 8, generator=g)
    target = torch.arange(b) % k
    return video, audio, target


def test_soft_targets_sum_to_one_and_smoothing():
    t = torch.tensor([0, 2, 1])
    y = one_hot_smooth(t, 4, 0.1)
    assert torch.allclose(y.sum(1), torch.ones(3))
    assert y[0, 0].item() == pytest.approx(0.925) and y[0, 1].item() == pytest.approx(0.025)
    m = mixup_target(t, 4, 0.7, 0.1)
    assert torch.allclose(m.sum(1), torch.ones(3))
    mix = AVMixup(6, seed=0)
    for _ in range(20):
        v, a, soft = mix(*_batch())
        assert soft.shape == (4, 6) and torch.allclose(soft.sum(1), torch.ones(4), atol=1e-6)
        assert (soft >= 0).all()


def test_mixup_leaves_audio_untouched_by_default():
    video, audio, target = _batch()
    mix = AVMixup(6, mixup_alpha=0.8, cutmix_alpha=0.0, seed=1)
    v, a, soft = mix(video, audio, target)
    assert mix.last.kind == "mixup" and 0 < mix.last.lam < 1
    assert torch.equal(a, audio) and a is not audio
    assert torch.allclose(v, video * mix.last.lam + video.flip(0) * (1 - mix.last.lam))
    # labels are mixed although the audio is not (the official behaviour)
    assert (soft.max(1).values < 0.925 - 1e-4).any()


def test_mixup_mixes_audio_when_asked():
    video, audio, target = _batch()
    mix = AVMixup(6, mixup_alpha=0.8, cutmix_alpha=0.0, mix_audio=True, seed=1)
    v, a, _ = mix(video, audio, target)
    lam = mix.last.lam
    assert mix.last.audio_lam == lam
    assert torch.allclose(a, audio * lam + audio.flip(0) * (1 - lam))


def test_cutmix_video_box_and_audio_band():
    video, audio, target = _batch(b=4)
    mix = AVMixup(6, mixup_alpha=0.0, cutmix_alpha=1.0, seed=3)
    for _ in range(10):
        v, a, soft = mix(video, audio, target)
        assert mix.last.kind == "cutmix"
        t0, t1, l0, l1 = mix.last.box
        changed = (v != video).any(dim=1).any(dim=1)  # (B, H, W): same box in every frame and channel
        inside = torch.zeros(16, 16, dtype=torch.bool)
        inside[t0:t1, l0:l1] = True
        assert not changed[:, ~inside].any()
        assert mix.last.lam == pytest.approx(1 - (t1 - t0) * (l1 - l0) / 256)
        assert torch.equal(a, audio)
    mix = AVMixup(6, mixup_alpha=0.0, cutmix_alpha=1.0, mix_audio=True, seed=4)
    for _ in range(10):
        v, a, soft = mix(video, audio, target)
        s, e = mix.last.audio_band
        assert e - s == round((1 - mix.last.lam) * 32)
        assert torch.equal(a[..., s:e, :], audio.flip(0)[..., s:e, :])
        assert torch.equal(a[..., :s, :], audio[..., :s, :]) and torch.equal(a[..., e:, :], audio[..., e:, :])


def test_mixup_deterministic_and_switches():
    video, audio, target = _batch()
    a = AVMixup(6, seed=7)
    b = AVMixup(6, seed=7)
    kinds = set()
    for _ in range(30):
        ra, rb = a(video, audio, target), b(video, audio, target)
        assert all(torch.equal(x, y) for x, y in zip(ra, rb))
        kinds.add(a.last.kind)
    assert kinds == {"mixup", "cutmix"}
    off = AVMixup(6, prob=0.0, seed=0)
    v, au, soft = off(video, audio, target)
    assert off.last.kind == "none" and torch.equal(v, video)
    assert torch.allclose(soft, one_hot_smooth(target, 6, 0.1))


def test_soft_target_cross_entropy():
    logits = torch.randn(3, 5)
    t = torch.tensor([1, 0, 4])
    hard = torch.nn.functional.cross_entropy(logits, t)
    assert soft_target_cross_entropy(logits, one_hot_smooth(t, 5, 0.0)).item() == pytest.approx(hard.item(), 1e-6)
    smooth = torch.nn.functional.cross_entropy(logits, t, label_smoothing=0.1)
    assert soft_target_cross_entropy(logits, one_hot_smooth(t, 5, 0.1)).item() == pytest.approx(smooth.item(), 1e-5)


def test_transforms_plug_into_the_train_loader(tmp_path):
    from avfmae.data.synthetic import synthetic_audio, write_frame_folder, write_wav
    from avfmae.data.manifest import ClipRecord
    from avfmae.data.views import PreprocessConfig
    from avfmae.train.clips import ClipSet, TrainAug
    from avfmae.train.sources import Entry

    write_frame_folder(tmp_path / "f", np.stack(_moving_frames(t=20, h=64, w=64)))
    write_wav(tmp_path / "a.wav", synthetic_audio(0.8))
    aug = TrainAug(kind="finetune", rand_augment=AugmentConfig().auto_augment, reprob=0.25, freqm=16, timem=32)
    ds = ClipSet([Entry(tmp_path, ClipRecord("c", "f", "a.wav", 1), 1)], PreprocessConfig(), "train", aug)
    item = ds[(0, 0)]
    assert item["video"].shape == (3, 16, 160, 160) and item["audio"].shape == (1, 256, 128)
    assert (item["audio"] == AudioTrainTransform(16, 32).fill).any()      # SpecAugment ran
    batch_v = torch.stack([item["video"], ds[(0, 1)]["video"]])
    batch_a = torch.stack([item["audio"], item["audio"]])
    v, a, soft = AVMixup.from_config(AugmentConfig(), num_classes=3, seed=0)(batch_v, batch_a, torch.tensor([1, 2]))
    assert v.shape == batch_v.shape and torch.equal(a, batch_a) and soft.shape == (2, 3)


def test_frames_are_resized_to_160_before_randaugment_and_the_crop(monkeypatch):
    """Official AV training order (kinetics_av.VideoClsDatasetFrame, mode 'train'): Resize((160, 160)) of the
    decoded frames, THEN RandAugment and the random resized crop. A 112-px clip with 8-px stripes: RandAugment must
    see 160-px frames, and with a full-frame crop the stripes come out with the resize's period 8 * 160 / 112."""
    seen = []
    real = RandAugmentClip.__call__

    def spy(self, images, seed):
        seen.extend(im.size for im in images)
        return real(self, images, seed)

    monkeypatch.setattr(RandAugmentClip, "__call__", spy)
    x = np.arange(112)
    stripe = np.where((x // 4) % 2 == 0, 0, 255).astype(np.uint8)        # period 8 px
    frame = np.repeat(np.repeat(stripe[None, :, None], 112, axis=0), 3, axis=2)
    cfg = AugmentConfig(reprob=0.0, hflip=0.0, scale=(1.0, 1.0), ratio=(1.0, 1.0), auto_augment="rand-m0-n1")
    out = VideoTrainTransform(cfg)([frame] * 2, generator=torch.Generator().manual_seed(0))
    assert set(seen) == {(160, 160)}
    assert out.shape == (3, 2, 160, 160)
    row = out[0, 0, 80].numpy()
    rising = np.flatnonzero((row[1:] > 0) & (row[:-1] <= 0))             # dark -> bright edges
    period = np.diff(rising).mean()
    assert abs(period - 8 * 160 / 112) < 0.5


def test_randaugment_clip_equals_timm_reseeded_per_frame():
    """The recorded-and-replayed RandAugment gives, frame by frame, what timm's own transform gives when every
    frame starts from the same python/numpy RNG state (the definition of 'the same ops on every frame')."""
    import random as pyrandom

    from PIL import Image

    ra = RandAugmentClip("rand-m9-n4-mstd0.5-inc1", 64, "bicubic")
    rng = np.random.RandomState(3)
    frames = [Image.fromarray(rng.randint(0, 256, (48, 64, 3), dtype=np.uint8)) for _ in range(5)]
    applied, names = 0, set()
    for seed in range(40):
        calls = ra.record(seed, 64, 48)
        names |= {fn.__name__ for fn, _, _ in calls}
        got = ra(frames, seed)
        if any(fn.__name__ == "posterize" and args == (0,) for fn, args, _ in calls):
            continue              # Pillow >= 13 refuses timm's 0 bits: see test_posterize_to_zero_bits_...
        for f, g in zip(frames, got):
            pyrandom.seed(seed)
            np.random.seed(seed)
            want = np.asarray(ra.transform(f))          # timm's transform, from the clip's RNG state
            assert np.array_equal(np.asarray(g), want), seed
        applied += any(not np.array_equal(np.asarray(g), np.asarray(f)) for f, g in zip(frames, got))
    assert applied >= 20   # most clips had at least one op that changed the frames
    assert len(names) >= 12    # and nearly every op of the list was drawn at least once


def test_posterize_to_zero_bits_gives_black_frames():
    """timm's posterize-increasing asks for 0 bits at magnitude 10. Pillow's formula, mask = ~(2 ** (8 - 0) - 1),
    keeps no bit: black frames (what Pillow gave before version 13 began raising ValueError for bits < 1)."""
    from PIL import Image

    ra = RandAugmentClip("rand-m10-n1-inc1", 32, "bicubic")
    frames = [Image.fromarray(np.full((8, 10, 3), v, np.uint8)) for v in (1, 128, 255)]
    hit = [s for s in range(60) if [(fn.__name__, a) for fn, a, _ in ra.record(s, 10, 8)] == [("posterize", (0,))]]
    assert hit, "no seed drew posterize"
    for seed in hit[:3]:
        got = ra(frames, seed)
        assert [im.size for im in got] == [(10, 8)] * 3
        assert all(not np.asarray(im).any() for im in got)


@pytest.mark.parametrize("bad,section", [("rand-m7-n4-msd0.5-inc1", "msd0.5"), ("rand-m7-n4-foo", "foo"),
                                         ("rand-mX", "mX"), ("rand-m7-inc2", "inc2"), ("rand-p1.5", "p1.5"),
                                         ("rand-m7-n", "'n'")])
def test_rand_augment_typos_are_refused_when_the_config_is_made(bad, section):
    """timm skips a section it cannot split into key + number ('mX', 'foo': the augmentation silently changes)
    and fails on an unknown key ('msd0.5') only once the loader starts; both are refused with the config."""
    from avfmae.train.config import Stage2Config, Stage3Config

    for make in (lambda s: check_rand_augment(s), lambda s: Stage3Config(rand_augment=s),
                 lambda s: Stage2Config(rand_augment=s)):
        with pytest.raises(ValueError, match=re.escape(section)):
            make(bad)
    with pytest.raises(ValueError, match="starts with 'rand-'"):
        check_rand_augment("randaug-m7")


def test_rand_augment_strings_timm_reads_are_accepted():
    for good in ("rand-m7-n4-mstd0.5-inc1", "rand-m9-mstd0.5-inc1", "rand-m10-n1-inc1", "rand", "rand-m7-mmax10",
                 "rand-m5-p0.5-tweights"):
        check_rand_augment(good)
        RandAugmentClip(good)          # timm builds it
