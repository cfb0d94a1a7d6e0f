"""Stage-1 pre-training from a shard folder (avfmae.shards): the data source "shards:DIR[|buffer=N]".

What a shards source is:
  * one per stage-1 config, alone in `data` (not mixed with manifest sources); `eval_data` stays manifests;
  * the view cache is not used (cache=True is ignored with a log line): samples are decoded as they stream;
  * on_error=skip is refused (a sample that fails to decode stops the run, naming the clip);
  * `buffer=N` is the per-lane shuffle buffer in samples (default 256; 0 keeps the shard order).

Views: every sample gets the same training view and augmentation as the manifest path (ClipSet "train": a random
temporal window, the multiscale crop, the random audio gain), from a per-sample seed drawn from (seed, epoch, clip
id), so a clip's view does not depend on where the stream puts it.

Batches: rank r of w reads ShardDataset(rank=r, world=w, workers=num_workers, batch_size, seed, epoch, buffer)
through a DataLoader with the same num_workers and batch_size; every optimiser step takes accum_steps full batches.
A lane's last batch can be short: it is read but not trained on (its samples count as consumed), so every
micro-batch has batch_size clips. Steps per epoch = the fewest full batches of any rank in any epoch // accum_steps
(shards are whole, so ranks and epochs differ a little; the rest of an epoch is dropped, as drop_last).

Resume: the samples a rank consumed before step s are a pure function of s (the ends of its full batches), so a
resumed run restarts the stream at exactly that sample (ShardDataset(consumed=...)). The checkpoint's extra dict
carries {"shards": {"digest", "state"}}: a resume refuses other shards (digest of names, sizes, sha256), another
process count, worker count or batch size, since the stream depends on them.
"""
from __future__ import annotations

import hashlib
import json
import logging
import zlib
from pathlib import Path
from typing import Iterator

import torch

from avfmae.data.manifest import ClipRecord
from avfmae.shards import ShardDataset, ShardError
from avfmae.shards.stream import schedule

from .clips import ClipSet, TrainAug, collate
from .sampling import sample_seed
from .sources import Entry, SourceError

log = logging.getLogger("avfmae.train")

PREFIX = "shards:"
DEFAULT_BUFFER = 256


def is_shards(text: str) -> bool:
    return isinstance(text, str) and text.startswith(PREFIX)


def parse_shards(text: str) -> tuple[Path, int]:
    """"shards:DIR[|buffer=N]" -> (DIR, buffer)."""
    head, *opts = [p.strip() for p in text[len(PREFIX):].split("|")]
    buffer = DEFAULT_BUFFER
    for o in opts:
        k, _, v = o.partition("=")
        if k.strip() != "buffer" or not v.strip().isdigit():
            raise SourceError(f"source {text!r}: a shards source takes only buffer=N (samples, N >= 0), not {o!r}")
        buffer = int(v)
    if not head:
        raise SourceError(f"source {text!r}: write shards:DIR, DIR a folder written by `python -m avfmae.shards "
                          "write`")
    return Path(head).expanduser(), buffer


def check_folder(folder: Path) -> dict:
    """The index of a shard folder whose shards all exist with the indexed sizes; ShardError naming the file."""
    from avfmae.shards import read_index

    if not folder.is_dir():
        raise ShardError(f"{folder}: no such shard folder. Write it with `python -m avfmae.shards write "
                         f"--manifest SPLIT.tsv --out {folder}`")
    index = read_index(folder)
    if not index["shards"]:
        raise ShardError(f"{folder / 'index.json'}: lists no shards. Re-run `python -m avfmae.shards write`")
    for s in index["shards"]:
        path = folder / s["name"]
        if not path.is_file() or path.stat().st_size != s["bytes"]:
            what = "missing" if not path.is_file() else f"{path.stat().st_size} bytes, the index says {s['bytes']}"
            raise ShardError(f"{path}: {what}. Re-write it: delete it and its .json sidecar, then re-run "
                             "`python -m avfmae.shards write` with the same arguments")
    return index


def digest(index: dict) -> str:
    rows = [(s["name"], s["samples"], s["bytes"], s["sha256"]) for s in index["shards"]]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


class TrainViewDecode:
    """ShardDataset decode: a materialised sample -> the manifest path's training view (picklable for workers)."""

    def __init__(self, pcfg, aug: TrainAug, seed: int, epoch: int):
        self.pcfg, self.aug, self.seed, self.epoch = pcfg, aug, seed, epoch
        self._set: ClipSet | None = None

    def __call__(self, video: Path, audio: Path | None, meta: dict) -> dict:
        record = ClipRecord(meta["clip"], video.name, audio.name if audio is not None else None, 0,
                            meta.get("subject"))
        if self._set is None:
            self._set = ClipSet([], self.pcfg, "train", self.aug)
        self._set.entries = [Entry(video.parent, record, 0)]
        seed = sample_seed(self.seed, self.epoch, zlib.crc32(str(meta["clip"]).encode()))
        item = self._set._train_item(0, seed)
        return {"video": item["video"], "audio": item["audio"]}


class ShardStage1:
    """The stage-1 batches of a shards source for this rank: steps per epoch and batches(start, stop)."""

    def __init__(self, cfg, ctx, text: str, aug: TrainAug):
        self.folder, self.buffer = parse_shards(text)
        self.index = check_folder(self.folder)
        self.digest = digest(self.index)
        self.cfg, self.ctx, self.aug = cfg, ctx, aug
        if cfg.on_error != "raise":
            raise ValueError(f"source {text!r}: on_error={cfg.on_error} is not supported with shards (a sample "
                             "that fails to decode cannot be replaced in the stream): use on_error=raise")
        if cfg.cache:
            log.info("shards source %s: the view cache is not used (samples are decoded as they stream)", text)
        info = ctx.info
        self.rank, self.world, self.workers = info.rank, info.world_size, cfg.num_workers
        self._planner = self._dataset(0, 0, decode=None)
        self._ends: dict[tuple[int, int], list[int]] = {}
        per = [len(self.full_ends(e, r)) // cfg.accum_steps for e in range(cfg.epochs) for r in range(self.world)]
        self.spe = min(per)
        if self.spe < 1:
            raise ShardError(f"{self.folder}: a rank gets fewer than {cfg.accum_steps} full batches of "
                             f"{cfg.batch_size} samples in an epoch ({self.index.get('samples')} samples in "
                             f"{len(self.index['shards'])} shards, {self.world} processes, {max(self.workers, 1)} "
                             "lanes each). Write smaller shards (--clips-per-shard) or lower batch_size/num_workers")
        self.samples = self.spe * cfg.accum_steps * cfg.batch_size * self.world   # trained on per epoch

    def _dataset(self, epoch: int, consumed: int, decode) -> ShardDataset:
        return ShardDataset(self.folder, rank=self.rank, world=self.world, workers=self.workers,
                            batch_size=self.cfg.batch_size, seed=self.cfg.seed, epoch=epoch, buffer=self.buffer,
                            consumed=consumed, decode=decode)

    def full_ends(self, epoch: int, rank: int) -> list[int]:
        """Samples of `rank`'s stream in `epoch` consumed after each of its full batches."""
        key = (epoch, rank)
        if key not in self._ends:
            lengths = [sum(s["samples"] for s in lane) for lane in self._planner.lanes_of(epoch, rank)]
            ends, total = [], 0
            for _, n in schedule(lengths, self.cfg.batch_size):
                total += n
                if n == self.cfg.batch_size:
                    ends.append(total)
            self._ends[key] = ends
        return self._ends[key]

    def state(self, epoch: int, consumed: int) -> dict:
        return {"digest": self.digest, "state": {**self._planner.state(consumed), "epoch": epoch}}

    def check_resume(self, extra: dict, path) -> None:
        """Refuse a checkpoint written from other shards or with another stream layout."""
        saved = extra.get("shards")
        if not saved:
            return
        if saved["digest"] != self.digest:
            raise ShardError(f"{path} was written while training on other shards than {self.folder} (the index "
                             "changed). Resume with the same shards, or start over with resume=never")
        now = self._planner.state(0)
        for k in ("world", "workers", "batch_size", "seed", "buffer"):
            if saved["state"].get(k) != now[k]:
                raise ValueError(f"{path}: the shard stream was read with {k}={saved['state'].get(k)}, this run has "
                                 f"{k}={now[k]}; the stream depends on it. Resume with {k}={saved['state'].get(k)}, "
                                 "or start over with resume=never")

    def batches(self, start: int, stop: int, extra: dict) -> Iterator[tuple[int, list[dict]]]:
        """(step, [accum_steps micro-batches]) for steps start..stop-1; extra["shards"] is kept at the state after
        the step it yields (what a checkpoint written after that step needs)."""
        cfg, spe, accum = self.cfg, self.spe, self.cfg.accum_steps
        step = start
        while step < stop:
            epoch, pos = divmod(step, spe)
            epoch_stop = min(stop, (epoch + 1) * spe)
            ends = self.full_ends(epoch, self.rank)
            k = pos * accum
            ds = self._dataset(epoch, ends[k - 1] if k else 0,
                               TrainViewDecode(self.ctx.pcfg, self.aug, cfg.seed, epoch))
            loader = torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, num_workers=self.workers,
                                                 collate_fn=collate, prefetch_factor=2 if self.workers else None)
            it = iter(loader)
            for step in range(step, epoch_stop):
                micro = []
                while len(micro) < accum:
                    batch = next(it)
                    if len(batch["clip"]) == cfg.batch_size:    # a lane's short last batch is not trained on
                        micro.append(batch)
                k += accum
                extra["shards"] = self.state(epoch, ends[k - 1])
                yield step, micro
            step = epoch_stop
            del it, loader


__all__ = ["PREFIX", "is_shards", "parse_shards", "check_folder", "ShardStage1", "TrainViewDecode"]
