"""Deterministic sharded sampling: which clips (and sample seeds) each optimiser step and process gets.

Determinism (what makes a resumed run and a 2-process run equal to an uninterrupted single-process one): every
random choice is a pure function of (seed, step or epoch, position), never of a global RNG stream:
    * the epoch's order is a permutation drawn from (seed, epoch);
    * each sample's augmentation (window, crop, flip, RandAugment, erasing, gain) from (seed, epoch, position);
    * each micro-batch's randomness in the training step (masks, mixup, drop path) from (seed, step, shard),
      shard = rank * accum_steps + micro-step, so 1 process x 2 micro-batches == 2 processes x 1 micro-batch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch

from .clips import ClipSet, collate


def sample_seed(seed: int, epoch: int, position: int) -> int:
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 11, int(epoch), int(position)]).generate_state(1)[0]
               & 0x7FFFFFFF)


def shard_seed(seed: int, step: int, shard: int, salt: int = 0) -> int:
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 13, int(step), int(shard), int(salt)])
               .generate_state(1)[0] & 0x7FFFFFFF)


@dataclass(frozen=True)
class Layout:
    """How a global batch is cut: per-shard batch, accumulation, processes, this process's rank."""
    batch_size: int
    accum_steps: int = 1
    world_size: int = 1
    rank: int = 0

    @property
    def shards(self) -> int:
        return self.accum_steps * self.world_size

    @property
    def global_batch(self) -> int:
        return self.batch_size * self.shards

    def my_shards(self) -> list[int]:
        return [self.rank * self.accum_steps + m for m in range(self.accum_steps)]


def steps_per_epoch(n: int, layout: Layout) -> int:
    """Optimiser steps per epoch (drop_last, as the official loaders); at least 1."""
    return max(1, n // layout.global_batch)


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, 7, int(epoch)]).permutation(n)


def step_keys(n: int, layout: Layout, seed: int, step: int, spe: int) -> list[list[tuple[int, int]]]:
    """For optimiser step `step`: this rank's micro-batches as lists of (entry index, sample seed)."""
    epoch, pos = divmod(step, spe)
    order = epoch_order(n, seed, epoch)
    g = layout.global_batch
    if n < g:  # tiny sets: wrap around so a step always has a full global batch
        order = np.resize(order, g * (pos + 1))
    out = []
    for shard in layout.my_shards():
        lo = pos * g + shard * layout.batch_size
        out.append([(int(order[j]), sample_seed(seed, epoch, j)) for j in range(lo, lo + layout.batch_size)])
    return out


def uniform_keys(n: int, layout: Layout, seed: int, spe: int):
    """keys_fn(step) for plain shuffled epochs over n entries (see step_keys)."""
    return lambda step: step_keys(n, layout, seed, step, spe)


def mixture_keys(sizes: Sequence[int], weights: Sequence[float], layout: Layout, seed: int, total_steps: int):
    """keys_fn(step) for source-homogeneous batches: every optimiser step draws ONE source (probability
    proportional to `weights`) for its whole global batch, and takes the next global batch of that source's own
    stream of shuffled epochs. Entry indices are offsets into the concatenation of the sources, in order.
    Pure in (seed, step): the source choices for all steps are drawn up front from (seed)."""
    sizes = [int(x) for x in sizes]
    p = np.asarray(weights, dtype=np.float64)
    p = p / p.sum()
    choices = np.random.default_rng([int(seed) & 0xFFFFFFFF, 19]).choice(len(sizes), size=max(total_steps, 1), p=p)
    ordinal = np.zeros_like(choices)
    seen = np.zeros(len(sizes), dtype=np.int64)
    for t, c in enumerate(choices):
        ordinal[t] = seen[c]
        seen[c] += 1
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    g = layout.global_batch

    def keys(step: int) -> list[list[tuple[int, int]]]:
        src = int(choices[step])
        n, base = sizes[src], int(offsets[src])
        out = []
        for shard in layout.my_shards():
            batch = []
            for j in range(ordinal[step] * g + shard * layout.batch_size,
                           ordinal[step] * g + (shard + 1) * layout.batch_size):
                epoch, pos = divmod(j, n)
                order = epoch_order(n, seed * 1000 + src, epoch)
                batch.append((base + int(order[pos]), sample_seed(seed * 1000 + src, epoch, j)))
            out.append(batch)
        return out

    keys.choices = choices
    return keys


class _StepSampler(torch.utils.data.Sampler):
    def __init__(self, keys_fn, start, stop, accum):
        self.keys_fn, self.start, self.stop, self.accum = keys_fn, start, stop, accum

    def __iter__(self):
        for step in range(self.start, self.stop):
            yield from self.keys_fn(step)

    def __len__(self):
        return (self.stop - self.start) * self.accum


def iterate_steps(ds: ClipSet, keys_fn, start: int, stop: int, accum_steps: int = 1, num_workers: int = 0
                  ) -> Iterator[tuple[int, list[dict]]]:
    """(step, [micro-batches of this rank]) for steps start..stop-1, loaded in order (with prefetching workers).
    `keys_fn(step)` gives this rank's micro-batches as lists of (entry index, sample seed)."""
    loader = torch.utils.data.DataLoader(ds, batch_sampler=_StepSampler(keys_fn, start, stop, accum_steps),
                                         num_workers=num_workers, collate_fn=collate, persistent_workers=False,
                                         prefetch_factor=2 if num_workers else None)
    it = iter(loader)
    for step in range(start, stop):
        yield step, [next(it) for _ in range(accum_steps)]


def eval_batches(ds: ClipSet, batch_size: int, rank: int = 0, world_size: int = 1, num_workers: int = 0
                 ) -> Iterator[dict]:
    """Evaluation batches of this rank's contiguous share of the set (no padding, no duplicates)."""
    n = len(ds)
    per = math.ceil(n / world_size)
    idx = list(range(rank * per, min(n, (rank + 1) * per)))
    if not idx:
        return iter(())
    sampler = [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
    return iter(torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=num_workers, collate_fn=collate))


__all__ = ["sample_seed", "shard_seed", "Layout", "steps_per_epoch", "epoch_order", "step_keys", "uniform_keys",
           "mixture_keys", "iterate_steps", "eval_batches"]
