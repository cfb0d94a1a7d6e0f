"""Model inputs from a ModelSpec: the preprocessing config of its input contract, and blanked modalities.

Modalities: a model trained or tested on one modality gets a constant, information-free input for the other:
silent audio (the normalised fbank of an all-zero waveform) or a blank video (all zeros after normalisation,
i.e. a frame of the ImageNet mean colour). The architecture and the weights stay the same.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from avfmae.data import audio as A
from avfmae.data.views import PreprocessConfig


def preprocess_config(spec) -> PreprocessConfig:
    """The data pipeline's config from a ModelSpec's input contract."""
    c = spec.input
    return PreprocessConfig(clip_len=c.num_frames, stride=c.frame_stride, short_side_size=c.img_size,
                            crop_size=c.img_size, num_segments=c.test_segments, num_crops=c.test_crops,
                            num_mel_bins=c.num_mel_bins, target_length=c.target_length, sample_rate=c.sample_rate,
                            fbank_mean=c.fbank_mean, fbank_std=c.fbank_std, video_mean=tuple(c.mean),
                            video_std=tuple(c.std))


def silent_fbank_value(pcfg: PreprocessConfig) -> float:
    """The normalised fbank value of an all-zero waveform (every bin is log(float eps))."""
    zeros = np.zeros(int(pcfg.sample_rate * pcfg.target_length * pcfg.frame_shift / 1000.0), np.float32)
    fb, _ = A.wav_to_fbank(zeros, None, pcfg.num_mel_bins, pcfg.target_length, pcfg.sample_rate, pcfg.frame_shift)
    return float(A.normalize_fbank(fb, pcfg.fbank_mean, pcfg.fbank_std)[0, 0])


def blank_modalities(video: torch.Tensor, audio: torch.Tensor, modalities: Sequence[str], silent: float
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace the inputs of the modalities not in `modalities` by constant, information-free ones."""
    if "video" not in modalities:
        video = torch.zeros_like(video)
    if "audio" not in modalities:
        audio = torch.full_like(audio, silent)
    return video, audio


__all__ = ["preprocess_config", "silent_fbank_value", "blank_modalities"]
