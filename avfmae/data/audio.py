"""Audio preprocessing of the official AVF-MAE++ loaders: window alignment, gain, Kaldi fbank, pad/cut, norm.

    waveform (float32, 16 kHz mono; int16 / 32768 for PCM16 wavs)
      -> cut to the window aligned with the sampled frames
           fine-tuning: samples [int(start_frame / (n_frames - 1) * n), int(end_frame / (n_frames - 1) * n)),
                        float64 arithmetic (`fraction_sample_range`);
           pre-training: offset int(t0 * 16000), count int((t1 - t0) * 16000) from decord's float32 frame
                        timestamps, in float32 arithmetic (`timestamp_sample_range`; int(0.44f*16000) = 7040);
      -> minus its mean (DC removal)
      -> times the gain (official `roll_mag_aug`: Beta(10, 10) + 0.5 from numpy's global RNG, the roll is always 0;
         see `official_gain`). Our evaluation default is gain=None (off): the official loader applies the random
         gain even at test time, which makes test results slightly random.
      -> torchaudio.compliance.kaldi.fbank(htk_compat, 16 kHz, no energy, hanning, 128 mel, dither 0, 10 ms shift)
      -> cut or zero-pad at the end to 256 frames
      -> (fbank + 4.2677393) / (2 * 4.5689974)       (AudioSet statistics)
      -> layout (1, 256, 128) = (1, time, mel)
"""
from __future__ import annotations

import functools
from typing import Callable, Sequence, Union

import numpy as np
import torch

FBANK_MEAN = -4.2677393
FBANK_STD = 4.5689974
WINDOW_SAMPLES_16K = 400  # Kaldi's default 25 ms window at 16 kHz: the fewest samples that give one fbank frame

Gain = Union[None, float, Callable[[], float]]

__all__ = [
    "FBANK_MEAN", "FBANK_STD", "Gain", "official_gain", "resolve_gain", "test_audio_frames",
    "fraction_sample_range", "timestamp_sample_range", "select_window", "kaldi_fbank", "pad_or_cut",
    "normalize_fbank", "wav_to_fbank", "waveform_to_model_input",
]


# ------------------------------------------------------------------------------------------------------------ gain
def official_gain(rng: np.random.RandomState | None = None) -> float:
    """One draw of the official `roll_mag_aug` gain: Beta(10, 10) + 0.5, from numpy's global RNG (or `rng`).

    The official code first draws the roll index with randint(len(waveform)) on a (1, T) array, i.e. randint(1),
    which is always 0 and consumes no random numbers; it is drawn here too so the RNG use is the same."""
    r = np.random if rng is None else rng
    r.randint(1)
    return float(r.beta(10, 10) + 0.5)


def resolve_gain(gain: Gain) -> float | None:
    """None -> None (no gain); a number -> that number; a callable -> one call of it (e.g. `official_gain`)."""
    if gain is None:
        return None
    if callable(gain):
        return float(gain())
    return float(gain)


# ------------------------------------------------------------------------------------------------------ alignment
def test_audio_frames(indices: Sequence[int], seg_start: int, num_frames: int, clip_len: int = 16,
                      stride: int = 4) -> tuple[int, int]:
    """(start_frame, end_frame) of the audio of a fine-tune view starting at position `seg_start` of `indices`:
    start = indices[seg_start], end = min(indices[min(seg_start + clip_len - 1, len - 1)] + stride, n - 1)."""
    start = int(indices[seg_start])
    last = int(indices[min(seg_start + clip_len - 1, len(indices) - 1)])
    return start, min(last + int(stride), int(num_frames) - 1)


def fraction_sample_range(start_frame: int, end_frame: int, num_frames: int, num_samples: int) -> tuple[int, int]:
    """[a, b) sample range of frames start..end as fractions of the clip (float64): int(f / (n_frames - 1) * n).

    A 1-frame clip has no fraction (the official code divides by zero): the whole waveform is used."""
    if num_frames <= 1:
        return 0, int(num_samples)
    a = int(float(start_frame) / (num_frames - 1) * num_samples)
    b = int(float(end_frame) / (num_frames - 1) * num_samples)
    return a, b


def timestamp_sample_range(start_s, end_s, sample_rate: int = 16000) -> tuple[int, int]:
    """(offset, count) from float32 frame timestamps in float32 arithmetic, as the official pre-training loader:
    offset = int(start * sr), count = int((end - start) * sr)."""
    t0, t1 = np.float32(start_s), np.float32(end_s)
    sr = np.float32(sample_rate)
    return int(t0 * sr), int((t1 - t0) * sr)


def select_window(waveform: np.ndarray, a: int, b: int, sample_rate: int = 16000, target_seconds: float = 2.56,
                  short_samples: int = 1024) -> np.ndarray:
    """The samples [a, b) of `waveform`, with the official short-clip rule and a guard for tiny windows.

    * if the window holds <= `short_samples` samples and the whole waveform is shorter than `target_seconds`,
      the whole waveform is used (official rule);
    * a window shorter than one Kaldi window (25 ms; the official code would crash) is zero-padded at the end
      to that length, so it yields one fbank frame."""
    seg = waveform[max(int(a), 0):max(int(b), 0)]
    if seg.shape[0] <= short_samples and waveform.shape[0] < target_seconds * sample_rate:
        seg = waveform
    min_len = int(round(0.025 * sample_rate))
    if seg.shape[0] < min_len:
        seg = np.concatenate([seg, np.zeros(min_len - seg.shape[0], dtype=np.float32)])
    return seg


# ---------------------------------------------------------------------------------------------------------- fbank
def kaldi_fbank(waveform: torch.Tensor | np.ndarray, num_mel_bins: int = 128, sample_rate: int = 16000,
                frame_shift: float = 10.0) -> torch.Tensor:
    """Official fbank of an already DC-removed/gained (n,) or (1, n) float32 waveform -> (frames, mel).

    torchaudio.compliance.kaldi.fbank(htk_compat, no energy, hanning, dither 0) step by step with the same torch
    ops, except that the mel filter bank and the window are built once per setting instead of on every call, and
    the log energy (unused without use_energy) is not computed: the same values, bit for bit (tested), in
    about half the time. Falls back to torchaudio's own function where its internals differ."""
    w = torch.as_tensor(waveform, dtype=torch.float32)
    if w.dim() == 1:
        w = w[None]
    try:
        return _fbank_cached_banks(w, num_mel_bins, sample_rate, frame_shift)
    except _FbankFallback:
        import torchaudio

        return torchaudio.compliance.kaldi.fbank(
            w, htk_compat=True, sample_frequency=sample_rate, use_energy=False, window_type="hanning",
            num_mel_bins=num_mel_bins, dither=0.0, frame_shift=frame_shift)


class _FbankFallback(Exception):
    pass


@functools.lru_cache(maxsize=8)
def _fbank_constants(num_mel_bins: int, padded: int, window_size: int, sample_rate: float):
    from torchaudio.compliance import kaldi

    mel, _ = kaldi.get_mel_banks(num_mel_bins, padded, float(sample_rate), 20.0, 0.0, 100.0, -500.0, 1.0)
    mel = torch.nn.functional.pad(mel.to(dtype=torch.float32), (0, 1), mode="constant", value=0)
    window = torch.hann_window(window_size, periodic=False, dtype=torch.float32).unsqueeze(0)
    return mel, window, kaldi.EPSILON.to(dtype=torch.float32)


def _fbank_cached_banks(w: torch.Tensor, num_mel_bins: int, sample_rate: int, frame_shift: float) -> torch.Tensor:
    try:
        from torchaudio.compliance import kaldi

        wav, shift, size, padded = kaldi._get_waveform_and_window_properties(
            w, 0, float(sample_rate), float(frame_shift), 25.0, True, 0.97)
        if wav.shape[0] < size:
            raise _FbankFallback
        strided = kaldi._get_strided(wav, size, shift, True)
    except (AttributeError, TypeError):       # another torchaudio: use its own function
        raise _FbankFallback from None
    mel, window, eps = _fbank_constants(num_mel_bins, padded, size, float(sample_rate))
    strided = strided - torch.mean(strided, dim=1).unsqueeze(1)                        # remove_dc_offset
    offset = torch.nn.functional.pad(strided.unsqueeze(0), (1, 0), mode="replicate").squeeze(0)
    strided = strided - 0.97 * offset[:, :-1]                                          # pre-emphasis
    strided = strided * window
    if padded != size:
        strided = torch.nn.functional.pad(strided.unsqueeze(0), (0, padded - size), mode="constant",
                                          value=0).squeeze(0)
    spectrum = torch.fft.rfft(strided).abs().pow(2.0)
    return torch.max(torch.mm(spectrum, mel.T), eps).log()


def pad_or_cut(fbank: torch.Tensor, target_length: int = 256) -> torch.Tensor:
    """(frames, mel) -> (target_length, mel): zero rows appended at the end, or the first `target_length` kept."""
    n = fbank.shape[0]
    if n < target_length:
        return torch.nn.functional.pad(fbank, (0, 0, 0, target_length - n))
    return fbank[:target_length]


def normalize_fbank(fbank: torch.Tensor, mean: float = FBANK_MEAN, std: float = FBANK_STD) -> torch.Tensor:
    """(fbank - mean) / (2 * std), the AudioMAE/AudioSet convention."""
    return (fbank - mean) / (std * 2)


def wav_to_fbank(segment: np.ndarray | torch.Tensor, gain: Gain = None, num_mel_bins: int = 128,
                 target_length: int = 256, sample_rate: int = 16000,
                 frame_shift: float = 10.0) -> tuple[torch.Tensor, int]:
    """The official `_wav2fbank` of one window: mean removal, gain, fbank, pad/cut (not normalised).

    Returns ((target_length, mel) float32, number of fbank frames before padding/cutting)."""
    w = torch.as_tensor(np.ascontiguousarray(segment) if isinstance(segment, np.ndarray) else segment,
                        dtype=torch.float32).reshape(1, -1)
    w = w - w.mean()
    g = resolve_gain(gain)
    if g is not None:
        w = w * g
    fb = kaldi_fbank(w, num_mel_bins, sample_rate, frame_shift)
    return pad_or_cut(fb, target_length), int(fb.shape[0])


def waveform_to_model_input(segment: np.ndarray | torch.Tensor, gain: Gain = None, num_mel_bins: int = 128,
                            target_length: int = 256, sample_rate: int = 16000, frame_shift: float = 10.0,
                            mean: float = FBANK_MEAN, std: float = FBANK_STD) -> torch.Tensor:
    """Window -> (1, target_length, mel) normalised model input."""
    fb, _ = wav_to_fbank(segment, gain, num_mel_bins, target_length, sample_rate, frame_shift)
    return normalize_fbank(fb, mean, std)[None]
