"""Procedural voiced speech for the synthetic demo set: speaker identity, syllable timeline, additive synthesis.

The sound is a sum of harmonics of a moving pitch f0(t), each weighted by a spectral tilt and by three formant
resonances that change vowel every syllable, gated by a syllable-rate amplitude envelope, with consonant-like
noise bursts, breath noise and pink background noise. No filters with state, so it is exact and fast in numpy.

What the class controls is the vocal *arousal* program (see `synth.py` for the 2x3 design):
    0 low : pitch near the speaker's base (x0.88-1.0), small accents, falling declination, slow syllables
            (3.2-4.4 /s), 6 dB quieter, dark spectrum (steep tilt), little jitter
    1 high: raised pitch (x1.12-1.35), large accents on stressed syllables, flat or rising contour, faster syllables
            (3.7-4.9 /s), louder, bright spectrum, more jitter
Speaker pitch (male ~95-135 Hz, female ~175-235 Hz), vocal-tract length, rate, breathiness, the recording gain
(+-5 dB) and the noise level vary at random, so no single cue (absolute pitch, loudness) names the class alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SR = 16000
CONTROL = 100            # control points per second for pitch, formants and envelope
MAX_HARMONIC_HZ = 5500.0
# F1, F2, F3 (Hz) of a, e, i, o, u for an adult male vocal tract; bandwidths and relative gains
VOWELS = np.array([[730, 1090, 2440], [530, 1840, 2480], [270, 2290, 3010], [570, 840, 2410], [300, 870, 2240]],
                  dtype=np.float64)
BANDWIDTH = np.array([90.0, 110.0, 170.0])
FORMANT_GAIN = np.array([1.0, 0.55, 0.3])


@dataclass(frozen=True)
class Voice:
    f0: float        # base pitch in Hz
    tract: float     # formant scale: a shorter vocal tract has higher formants
    rate: float      # personal speaking-rate factor
    breath: float    # aspiration noise level
    tilt: float      # personal offset of the spectral tilt


def draw_voice(rng: np.random.Generator, female: bool) -> Voice:
    return Voice(
        f0=rng.uniform(175, 235) if female else rng.uniform(95, 135),
        tract=(1.16 if female else 1.0) * rng.uniform(0.95, 1.05),
        rate=rng.uniform(0.9, 1.1),
        breath=rng.uniform(0.02, 0.08),
        tilt=rng.uniform(-0.15, 0.15),
    )


@dataclass(frozen=True)
class _Program:
    f0_mult: tuple[float, float]
    accent: tuple[float, float]
    declination: tuple[float, float]    # fraction of f0 lost from the first to the last syllable
    rate: tuple[float, float]
    level_db: float
    tilt: tuple[float, float]
    jitter: float
    stress_prob: float


PROGRAMS = {
    0: _Program((0.88, 1.0), (0.02, 0.06), (0.08, 0.18), (3.2, 4.4), -6.0, (1.5, 1.8), 0.004, 0.3),
    1: _Program((1.12, 1.35), (0.10, 0.22), (-0.08, 0.02), (3.7, 4.9), 0.0, (0.9, 1.2), 0.010, 0.5),
}


def _syllables(rng: np.random.Generator, seconds: float, rate: float) -> list[tuple[float, float]]:
    """(start, end) of each syllable of one utterance, with at most one short pause."""
    edge = min(0.45, 0.15 * seconds)
    t = rng.uniform(0.05, edge)
    end = seconds - rng.uniform(0.1, edge)
    out, paused = [], False
    while True:
        if not paused and out and t > 0.8 and rng.random() < 0.15:
            t += rng.uniform(0.15, 0.35)
            paused = True
        d = rng.uniform(0.7, 1.3) / rate
        if t + d > end:
            break
        out.append((t, t + d))
        t += d
    return out or [(t, end)]


def synth_voice(rng: np.random.Generator, voice: Voice, arousal: int, seconds: float,
                fps: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """One utterance: int16 samples at 16 kHz, and per video frame how much of it is speech (0..1).

    The second output drives the talking mouth: it marks the utterance and its pause, not single syllables."""
    prog = PROGRAMS[arousal]
    n = int(round(seconds * SR))
    nc = int(round(seconds * CONTROL)) + 1
    tc = np.arange(nc) / CONTROL
    rate = voice.rate * rng.uniform(*prog.rate)
    syl = _syllables(rng, seconds, rate)

    # control tracks: voicing envelope, pitch, formants
    env = np.zeros(nc)
    f0 = np.full(nc, voice.f0 * rng.uniform(*prog.f0_mult))
    first, last = syl[0][0], syl[-1][1]
    decl = rng.uniform(*prog.declination)
    f0 *= 1 - decl * np.clip((tc - first) / (last - first), 0, 1)
    accent = rng.uniform(*prog.accent)
    formants = np.zeros((3, nc))
    centres, vowels = [], []
    bursts = []
    for a, b in syl:
        d = b - a
        cons = rng.random() < 0.6
        on = a + (rng.uniform(0.15, 0.3) * d if cons else 0.0)
        off = b - 0.1 * d
        att, rel = 0.25 * (off - on), 0.35 * (off - on)
        x = np.interp(tc, [on, on + att, off - rel, off], [0, 1, 1, 0], left=0, right=0)
        env = np.maximum(env, np.sin(0.5 * np.pi * x) ** 2)
        if rng.random() < prog.stress_prob:
            mid = 0.5 * (on + off)
            f0 *= 1 + accent * rng.uniform(0.6, 1.4) * np.exp(-0.5 * ((tc - mid) / (0.3 * d)) ** 2)
        if cons:
            bursts.append((a, on))
        centres.append(0.5 * (on + off))
        vowels.append(VOWELS[rng.integers(len(VOWELS))] * voice.tract * rng.uniform(0.95, 1.05))
    vowels = np.array(vowels)
    for j in range(3):
        formants[j] = np.interp(tc, centres, vowels[:, j])
    f0 *= 1 + prog.jitter * rng.standard_normal(nc)
    tilt = rng.uniform(*prog.tilt) + voice.tilt

    # additive synthesis over voiced samples only
    ts = np.arange(n) / SR
    f0_s = np.interp(ts, tc, f0)
    env_s = np.interp(ts, tc, env)
    phase = 2 * np.pi * np.cumsum(f0_s) / SR
    voiced = np.flatnonzero(env_s > 1e-3)
    k = np.arange(1, int(MAX_HARMONIC_HZ // f0.min()) + 1, dtype=np.float64)[:, None]
    freq = k * f0[None, :]                                          # (K, nc)
    amp = k ** -tilt * np.where(freq < MAX_HARMONIC_HZ, 1.0, 0.0)
    resonance = sum(g / (1 + ((freq - formants[j]) / BANDWIDTH[j]) ** 2)
                    for j, g in enumerate(FORMANT_GAIN))
    amp = (amp * (0.05 + resonance)).astype(np.float32)
    pos = ts[voiced] * CONTROL
    i0 = np.minimum(pos.astype(np.int64), nc - 2)
    w = (pos - i0).astype(np.float32)
    amp_s = amp[:, i0] * (1 - w) + amp[:, i0 + 1] * w                # (K, n_voiced)
    harm = np.sin(k.astype(np.float32) * (phase[voiced] % (2 * np.pi)).astype(np.float32)[None, :])
    speech = np.zeros(n)
    speech[voiced] = np.einsum("kn,kn->n", amp_s, harm) * env_s[voiced]

    # breath in the vowels, consonant bursts (high-passed noise), then level, recording gain, background noise
    white = rng.standard_normal(n)
    hiss = np.diff(white, prepend=0.0)
    ref = np.sqrt(np.mean(speech[env_s > 0.5] ** 2)) if np.any(env_s > 0.5) else 1.0
    speech += voice.breath * ref * hiss * env_s
    for a, b in bursts:
        x = np.interp(ts, [a, 0.5 * (a + b), b], [0, 1, 0], left=0, right=0)
        speech += rng.uniform(0.2, 0.5) * ref * hiss * x
    gain_db = prog.level_db + rng.uniform(-5, 5)
    speech *= 0.07 / ref * 10 ** (gain_db / 20)
    spec = np.fft.rfft(rng.standard_normal(n))
    spec /= np.sqrt(np.maximum(np.fft.rfftfreq(n, 1 / SR), 20.0))  # pink: power ~ 1/f
    noise = np.fft.irfft(spec, n)
    noise *= 0.07 * 10 ** (gain_db / 20) / np.sqrt(np.mean(noise ** 2)) * 10 ** (-rng.uniform(12, 30) / 20)
    wave = np.clip(speech + noise, -1.0, 1.0)
    pcm = np.round(wave * 32767).astype(np.int16)

    talk = np.zeros(nc)
    for a, b in syl:
        talk[(tc >= a) & (tc < b)] = 1.0
    kernel = np.hanning(11)
    talk = np.convolve(talk, kernel / kernel.sum(), mode="same")
    frames = int(round(seconds * fps))
    return pcm, np.interp((np.arange(frames) + 0.5) / fps, tc, talk)
