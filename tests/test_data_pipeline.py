"""Evaluation views and the pre-training item: indices, windows, gain, shapes, and the official edge-case rules."""
import random

import numpy as np
import pytest
import torch

from avfmae.data import audio as A
from avfmae.data import video as V
from avfmae.data.synthetic import synthetic_audio, synthetic_frames, write_frame_folder, write_mp4, write_wav
from avfmae.data.pretrain import (PretrainChoices, multiscale_crop_candidates, official_wav_path, pretrain_frame_ids,
                                  pretrain_item, sample_pretrain_choices)
from avfmae.data.readers import open_video
from avfmae.data.views import PreprocessConfig, load_clip_views, make_views, plan_test_views


def test_frame_indices_stride_and_repeat():
    assert V.sample_frame_indices(90)[:3] == [0, 4, 8] and len(V.sample_frame_indices(90)) == 23
    assert V.sample_frame_indices(40) == [0, 4, 8, 12, 16, 20, 24, 28, 32, 36] + [36] * 6
    assert V.sample_frame_indices(1) == [0] * 16
    assert V.sample_frame_indices(10, clip_len=8, stride=2) == [0, 2, 4, 6, 8, 8, 8, 8]
    with pytest.raises(ValueError):
        V.sample_frame_indices(0)


def test_segment_starts():
    assert V.segment_starts(23, 16, 2) == [0, 7]
    assert V.segment_starts(16, 16, 2) == [0, 0]
    assert V.segment_starts(26, 16, 3) == [0, 5, 10]
    assert V.segment_starts(23, 16, 1) == [3]  # our centre rule (the official code cannot do S = 1)


def test_audio_window_fractions_float64():
    idx = V.sample_frame_indices(90)
    assert A.test_audio_frames(idx, 7, 90) == (28, 89)
    assert A.fraction_sample_range(28, 89, 90, 48000) == (15101, 48000)
    assert A.fraction_sample_range(0, 64, 90, 48000) == (0, 34516)
    assert A.fraction_sample_range(0, 0, 1, 1234) == (0, 1234)


def test_timestamp_offsets_float32():
    assert A.timestamp_sample_range(np.float32(0.44), np.float32(3.04)) == (7040, 41600)
    assert int(np.float64(np.float32(0.44)) * 16000) == 7039  # what float64 would give


def test_select_window_short_clip_rules():
    w = np.arange(20000, dtype=np.float32)
    assert A.select_window(w, 100, 900).shape[0] == 20000       # <= 1024 samples, clip < 2.56 s: whole clip
    long = np.zeros(50000, np.float32)
    assert A.select_window(long, 100, 900).shape[0] == 800       # long clip: keep the window
    assert A.select_window(long, 100, 200).shape[0] == 400       # padded to one 25 ms window


def test_fbank_pad_cut_and_gain():
    x = synthetic_audio(3.0, seed=4)
    fb, n = A.wav_to_fbank(x)
    assert fb.shape == (256, 128) and n == 298
    fb2, n2 = A.wav_to_fbank(x[:16000])
    assert n2 == 98 and torch.all(fb2[98:] == 0)
    one, _ = A.wav_to_fbank(x, gain=1.0)
    assert torch.equal(one, fb)  # gain 1.0 == no gain, bit for bit
    louder, _ = A.wav_to_fbank(x, gain=2.0)
    live = fb > -15.0  # some of the 128 mel filters are empty at 16 kHz and sit at log(eps)
    assert torch.allclose((louder - fb)[live], torch.full_like(fb[live], 2 * np.log(2.0)), atol=1e-3)
    calls = []
    A.wav_to_fbank(x, gain=lambda: calls.append(1) or 1.5)
    assert calls == [1]


def test_official_gain_draw():
    r = np.random.RandomState(2024)
    g = A.official_gain(r)
    assert g == pytest.approx(1.0659454473200074, abs=0)  # recorded in the preprocess golden for seed 2024
    assert 0.5 <= A.official_gain(np.random.RandomState(5)) <= 1.5


def test_config_from_official_args():
    cfg = PreprocessConfig.from_official_args({"clip_len": 16, "frame_sample_rate": 4, "test_num_segment": 3,
                                               "test_num_crop": 1, "short_side_size": 160, "crop_size": 160,
                                               "norm_mean": -4.0, "freqm": 0, "data_set": "MAFW"})
    assert (cfg.num_segments, cfg.num_crops, cfg.fbank_mean, cfg.num_views) == (3, 1, -4.0, 3)
    assert PreprocessConfig.from_official_args({"input_size": 112}).short_side_size == 112
    with pytest.raises(ValueError):
        PreprocessConfig.from_official_args({"freqm": 48})
    with pytest.raises(Exception):
        PreprocessConfig().clip_len = 8  # frozen


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    root = tmp_path_factory.mktemp("clip")
    frames = synthetic_frames(9, 48, 64, seed=5)  # fewer than 16 sampled frames, non-square
    audio = synthetic_audio(0.4, seed=5)
    return {"folder": write_frame_folder(root / "f", frames, "png"), "wav": write_wav(root / "a.wav", audio),
            "frames": frames, "root": root}


def test_short_clip_views(clip):
    cfg = PreprocessConfig()
    views = load_clip_views(clip["folder"], clip["wav"], cfg)
    assert len(views) == 4
    assert views[0].plan.frame_indices == (0, 4, 8) + (8,) * 13
    for v in views:
        assert v.video.shape == (3, 16, 160, 160) and v.video.dtype == torch.float32
        assert v.audio.shape == (1, 256, 128) and v.audio.dtype == torch.float32
        assert torch.equal(v.video, views[0].video) and torch.equal(v.audio, views[0].audio)
    # frame 8 repeated: the last 13 time steps are identical
    assert torch.equal(views[0].video[:, 2], views[0].video[:, 15])
    # 0.4 s clip: the window is the whole clip (< 2.56 s), zero-padded up to 256 frames
    assert views[0].plan.sample_range == (0, 6400) and views[0].fbank_frames == 38


def test_views_match_manual_pipeline(clip):
    from PIL import Image

    cfg = PreprocessConfig(num_segments=1, num_crops=1)
    src = open_video(clip["folder"])
    (v,) = make_views(src, np.zeros(16000, np.float32), cfg)
    img = np.array(Image.fromarray(clip["frames"][4]).resize((160, 160), Image.BILINEAR))
    ref = (torch.from_numpy(img).float() / 255 - torch.tensor(V.IMAGENET_MEAN)) / torch.tensor(V.IMAGENET_STD)
    assert torch.equal(v.video[:, 1], ref.permute(2, 0, 1))


def test_gain_callable_drawn_per_view(clip):
    src = open_video(clip["folder"])
    wav = synthetic_audio(3.0, seed=6)
    draws = iter([0.75, 1.0, 1.25, 1.5])
    views = make_views(src, wav, PreprocessConfig(), gain=lambda: next(draws))
    assert [v.gain for v in views] == [0.75, 1.0, 1.25, 1.5]
    assert not torch.equal(views[0].audio, views[1].audio)
    plain = make_views(src, wav, PreprocessConfig())
    assert torch.equal(plain[1].audio, views[1].audio) and plain[0].gain is None


def test_plan_test_views_order():
    plans = plan_test_views(90, 48000)
    assert [(p.segment, p.crop) for p in plans] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert plans[2].frame_indices[0] == 28 and plans[2].sample_range == (15101, 48000)


# ------------------------------------------------------------------------------------------------ pretraining
def test_pretrain_frame_ids():
    assert pretrain_frame_ids(100, 12) == list(range(11, 72, 4))
    assert pretrain_frame_ids(10, 1) == [0, 4, 8] + [8] * 13
    assert official_wav_path("/d/videos/a/x.mp4").as_posix() == "/d/audio_16k/a/x.wav"


def test_multiscale_crop_candidates():
    pairs, corners = multiscale_crop_candidates(128, 128)
    assert (84, 96) in pairs and (128, 128) in pairs and (84, 128) not in pairs
    assert len(corners(84, 96)) == 13 and (22, 0) in corners(84, 96)
    pairs, _ = multiscale_crop_candidates(182, 200)  # 0.875 * 182 = 159, within 3 px of 160: snaps to 160
    assert (160, 160) in pairs and (182, 160) in pairs


def test_pretrain_sampler_replays_official_seeds():
    ch = sample_pretrain_choices(100, (128, 128), py_rng=random.Random(11), np_rng=np.random.RandomState(12))
    assert ch.segment_offset == 12 and ch.crop == (84, 96, 22, 0)
    assert ch.gain == 1.072157326377877
    assert ch.masks["mask_video_encoder"].sum() == 720 and ch.masks["mask_audio_decoder"].sum() == 64


def test_pretrain_item_from_mp4(tmp_path):
    frames = synthetic_frames(70, 64, 64, seed=8)
    audio = synthetic_audio(70 / 25, seed=8)
    mp4 = write_mp4(tmp_path / "videos" / "c.mp4", frames, 25, audio=audio)
    wav = write_wav(tmp_path / "audio_16k" / "c.wav", audio)
    assert official_wav_path(mp4) == wav
    ch = sample_pretrain_choices(70, (64, 64), np_rng=np.random.RandomState(0), py_rng=random.Random(0))
    item = pretrain_item(mp4, wav, ch)
    assert item.video.shape == (3, 16, 160, 160) and item.audio.shape == (1, 256, 128)
    assert item.frame_ids[0] == ch.segment_offset - 1
    assert item.audio_offset == int(np.float32(item.frame_ids[0] / 25) * np.float32(16000))
    # the same item from the video's own audio track differs only by the AAC codec
    track = pretrain_item(mp4, None, PretrainChoices(ch.segment_offset, ch.crop, ch.gain, ch.masks))
    assert torch.equal(track.video, item.video)
    assert track.audio.shape == item.audio.shape


def test_normalize_video_uint8_is_the_float32_formula_bit_for_bit():
    """uint8 frames take a lookup table; every level of every channel must equal (x / 255 - mean) / std done in
    float32 numpy, and the out= form must write the same values."""
    from avfmae.data.video import IMAGENET_MEAN, IMAGENET_STD, normalize_video

    x = np.arange(256 * 3, dtype=np.int64).reshape(1, 16, 16, 3).astype(np.uint8)   # every level per channel
    x = np.concatenate([x, x[:, ::-1]], axis=0)
    want = (x.astype(np.float32) / np.float32(255.0) - np.asarray(IMAGENET_MEAN, np.float32)) \
        / np.asarray(IMAGENET_STD, np.float32)
    got = normalize_video(x)
    assert got.dtype == torch.float32 and got.shape == (3, 2, 16, 16)
    assert np.array_equal(got.numpy(), want.transpose(3, 0, 1, 2))
    out = torch.empty(3, 2, 16, 16)
    normalize_video(torch.from_numpy(x), out=out)
    assert torch.equal(out, got)


def test_kaldi_fbank_is_torchaudios_bit_for_bit():
    """The fbank with cached filter bank and window equals torchaudio.compliance.kaldi.fbank with the official
    arguments, exactly, for window counts around the edges (400 samples = 1 frame, 560 = 2, ...)."""
    import torchaudio

    rng = np.random.RandomState(0)
    for n in (400, 401, 559, 560, 16000, 40960, 47999):
        x = torch.from_numpy((rng.randn(n) * 0.3).astype(np.float32))[None]
        x = x - x.mean()
        want = torchaudio.compliance.kaldi.fbank(x, htk_compat=True, sample_frequency=16000, use_energy=False,
                                                 window_type="hanning", num_mel_bins=128, dither=0.0,
                                                 frame_shift=10)
        got = A.kaldi_fbank(x)
        assert got.shape == want.shape == (1 + (n - 400) // 160, 128)
        assert torch.equal(got, want), n
    assert torch.equal(A.kaldi_fbank(x[0], 64), torchaudio.compliance.kaldi.fbank(
        x, htk_compat=True, sample_frequency=16000, use_energy=False, window_type="hanning", num_mel_bins=64,
        dither=0.0, frame_shift=10))
