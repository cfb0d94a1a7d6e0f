"""Stream shards as an IterableDataset: per-rank and per-worker shard splitting, a seeded shuffle buffer, exact
resume.

The stream of one epoch, as a function of (seed, epoch, world, workers, batch_size, buffer):
  1. the shards are permuted with numpy default_rng([seed, epoch]) (shuffle_shards=True) or kept in index order;
  2. rank r of world w takes shards r::w of that order; its K = max(workers, 1) lanes take lane k = shards k::K
     of the rank's list (a lane is what one DataLoader worker reads; every shard is read by one lane of one rank,
     so no clip is seen twice in an epoch);
  3. a lane reads its shards in order through a shuffle buffer of `buffer` samples (numpy default_rng([seed,
     epoch, rank, lane]); buffer <= 1 keeps the order). Samples are decoded after the buffer, so the buffer holds
     bytes and a resumed lane can replay it without decoding;
  4. the rank's stream is the lanes' batches of `batch_size` samples taken round robin (lane 0, 1, .., K-1, 0, ..;
     a finished lane drops out). This is exactly the order a torch DataLoader(num_workers=K,
     batch_size=batch_size) yields from this dataset (it assigns batches to live workers in turn, in order).

Resume: the state after `consumed` samples of a rank (a whole number of batches) is (epoch, consumed) plus the
settings above. `resume_point` replays the schedule of step 4 to find how many samples each lane gave and which
lane's batch comes next; the restarted dataset skips those samples in each lane (reading, not decoding) and
rotates the lanes over the workers so that worker 0 serves the next lane: the restarted DataLoader continues with
the same sample, and the interrupted stream + the restarted one equal the uninterrupted stream.
Ranks may get different sample counts (shards are whole): a data-parallel loop runs min over ranks steps.
"""
from __future__ import annotations

import json
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .format import ShardError, read_index

Decode = Callable[[Path, "Path | None", dict], dict]


def decode_views(cfg=None) -> Decode:
    """The default decode: a clip's test views through the manifest path's preprocessing (load_clip_views)."""
    from avfmae.data.views import PreprocessConfig, load_clip_views, stack_views

    cfg = cfg or PreprocessConfig()

    def decode(video: Path, audio: Path | None, meta: dict) -> dict:
        v, a = stack_views(load_clip_views(video, audio, cfg))
        return {"video": v, "audio": a}
    return decode


def read_samples(folder: Path, shard: dict) -> Iterator[dict]:
    """The raw samples of one shard in order: {"key", "meta", "members": {name: bytes}}."""
    path = folder / shard["name"]
    count = 0
    current: dict | None = None
    try:
        with tarfile.open(path, "r|") as tar:
            for info in tar:
                if not info.isfile():
                    continue
                key = info.name.split(".", 1)[0]
                if current is not None and key != current["key"]:
                    count += 1
                    yield _finish(current, path)
                    current = None
                if current is None:
                    current = {"key": key, "members": {}}
                current["members"][info.name] = tar.extractfile(info).read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise ShardError(f"{path}: unreadable shard ({e}). Re-write it: delete it and its .json sidecar, then "
                         "re-run `python -m avfmae.shards write` with the same arguments") from None
    if current is not None:
        count += 1
        yield _finish(current, path)
    if count != shard["samples"]:
        raise ShardError(f"{path}: {count} samples, the index says {shard['samples']}. Re-write the shard (delete "
                         "it and its .json sidecar, re-run the write)")


def _finish(sample: dict, path: Path) -> dict:
    name = f"{sample['key']}.json"
    if name not in sample["members"]:
        raise ShardError(f"{path}: sample {sample['key']!r} has no {name}. Re-write the shard")
    sample["meta"] = json.loads(sample["members"].pop(name))
    return sample


def shuffled(items: Iterator, buffer: int, rng: np.random.Generator) -> Iterator:
    """A shuffle buffer: fill `buffer` items, then each new item replaces a random one, which is yielded."""
    if buffer <= 1:
        yield from items
        return
    pool: list = []
    for item in items:
        if len(pool) < buffer:
            pool.append(item)
            continue
        i = int(rng.integers(len(pool)))
        pool[i], item = item, pool[i]
        yield item
    order = rng.permutation(len(pool))
    for i in order:
        yield pool[int(i)]


def schedule(lane_lengths: Sequence[int], batch_size: int) -> Iterator[tuple[int, int]]:
    """(lane, samples) of each batch of a rank's stream, in order: the lanes' batches round robin."""
    batches = [-(-n // batch_size) for n in lane_lengths]
    for j in range(max(batches, default=0)):
        for k, n in enumerate(lane_lengths):
            if j < batches[k]:
                yield k, min(batch_size, n - j * batch_size)


def resume_point(lane_lengths: Sequence[int], batch_size: int, consumed: int) -> tuple[list[int], int]:
    """(samples to skip per lane, lane served next) after `consumed` samples of the rank's stream."""
    skip, total = [0] * len(lane_lengths), 0
    for lane, n in schedule(lane_lengths, batch_size):
        if total == consumed:
            return skip, lane
        skip[lane] += n
        total += n
        if total > consumed:
            raise ValueError(f"resume after {consumed} samples is inside a batch (batches of {batch_size} end at "
                             f"{total - n} and {total}): resume at a batch boundary")
    if total != consumed:
        raise ValueError(f"resume after {consumed} samples, but this rank's epoch has only {total}")
    return skip, 0


class ShardDataset(IterableDataset):
    """One rank's samples of a shard folder, decoded with `decode` (None: raw bytes and meta)."""

    def __init__(self, folder: str | os.PathLike, rank: int = 0, world: int = 1, workers: int = 0,
                 batch_size: int = 1, seed: int = 0, epoch: int = 0, buffer: int = 0, consumed: int = 0,
                 shuffle_shards: bool = True, decode: Decode | None | str = "views", tmpdir: str | None = None):
        super().__init__()
        self.folder = Path(folder)
        self.index = read_index(self.folder)
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} outside 0..{world - 1}")
        if batch_size < 1:
            raise ValueError(f"batch_size {batch_size} < 1")
        self.rank, self.world, self.workers, self.batch_size = rank, world, workers, batch_size
        self.seed, self.buffer, self.shuffle_shards, self.tmpdir = seed, buffer, shuffle_shards, tmpdir
        self.decode = decode_views() if decode == "views" else decode
        self.set_epoch(epoch, consumed)

    # ------------------------------------------------------------------------------------------ plan of the epoch
    @property
    def num_lanes(self) -> int:
        return max(self.workers, 1)

    def set_epoch(self, epoch: int, consumed: int = 0) -> None:
        self.epoch, self.consumed = int(epoch), int(consumed)
        self.lanes = self.lanes_of(self.epoch, self.rank)
        self.skip, self.first_lane = resume_point(self.lane_lengths(), self.batch_size, self.consumed)

    def lanes_of(self, epoch: int, rank: int) -> list[list[dict]]:
        """The shards each lane of `rank` reads in `epoch` (steps 1-2 above); changes nothing."""
        shards = self.index["shards"]
        order = (np.random.default_rng([self.seed, int(epoch)]).permutation(len(shards)) if self.shuffle_shards
                 else np.arange(len(shards)))
        mine = [shards[int(i)] for i in order][rank::self.world]
        return [mine[k::self.num_lanes] for k in range(self.num_lanes)]

    def lane_lengths(self) -> list[int]:
        return [sum(s["samples"] for s in lane) for lane in self.lanes]

    def samples(self) -> int:
        """Samples of this rank in this epoch (from the start, not from the resume point)."""
        return sum(self.lane_lengths())

    def state(self, consumed: int) -> dict:
        """The resume state after `consumed` samples of this rank's epoch (count what the loop consumed)."""
        return {"epoch": self.epoch, "consumed": int(consumed), "rank": self.rank, "world": self.world,
                "workers": self.workers, "batch_size": self.batch_size, "seed": self.seed, "buffer": self.buffer,
                "shuffle_shards": self.shuffle_shards}

    @classmethod
    def from_state(cls, folder: str | os.PathLike, state: dict, **kw) -> "ShardDataset":
        return cls(folder, **{**state, **kw})

    # --------------------------------------------------------------------------------------------------- stream
    def raw_lane(self, lane: int) -> Iterator[dict]:
        """The lane's raw samples after the shuffle buffer, from the start of the epoch."""
        def read():
            for shard in self.lanes[lane]:
                yield from read_samples(self.folder, shard)
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, lane])
        return shuffled(read(), self.buffer, rng)

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        workers, wid = (info.num_workers, info.id) if info is not None else (0, 0)
        if max(workers, 1) != self.num_lanes:
            raise ValueError(f"ShardDataset(workers={self.workers}) read by a DataLoader with num_workers="
                             f"{workers}: give the DataLoader's num_workers to the dataset (the stream depends on it)")
        lane = (wid + self.first_lane) % self.num_lanes
        for i, raw in enumerate(self.raw_lane(lane)):
            if i >= self.skip[lane]:
                yield self._decode(raw)

    def _decode(self, raw: dict) -> dict:
        meta = raw["meta"]
        target = meta["target"]
        out = {"clip": meta["clip"], "subject": meta.get("subject") or "",
               "target": torch.tensor(target, dtype=torch.float32 if isinstance(target, list) else torch.long)}
        if self.decode is None:
            return {**out, "meta": meta, "members": raw["members"]}
        with tempfile.TemporaryDirectory(dir=self.tmpdir, prefix="avfmae-shard-") as tmp:
            video, audio = materialise(Path(tmp), meta, raw["members"])
            return {**out, **self.decode(video, audio, meta)}


def materialise(tmp: Path, meta: dict, members: dict) -> tuple[Path, Path | None]:
    """Write a sample's video and audio members under `tmp` (a packed frame folder is unpacked) -> their paths."""
    name = meta["video"]
    if name.endswith(".frames.tar"):
        import io

        video = tmp / "frames"
        video.mkdir()
        with tarfile.open(fileobj=io.BytesIO(members[name]), mode="r:") as inner:
            for info in inner:
                if info.isfile() and "/" not in info.name and not info.name.startswith("."):
                    (video / info.name).write_bytes(inner.extractfile(info).read())
    else:
        video = tmp / name
        video.write_bytes(members[name])
    audio = None
    if meta.get("audio"):
        audio = tmp / meta["audio"]
        audio.write_bytes(members[meta["audio"]])
    return video, audio
