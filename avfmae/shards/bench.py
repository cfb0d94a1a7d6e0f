"""Throughput of the data path: clips/s (per worker) decoding the same clips from local shards and from the
per-clip manifest, through the same preprocessing (test views). Prints numbers; asserts nothing about speed."""
from __future__ import annotations

import time
from pathlib import Path

from torch.utils.data import DataLoader, Dataset

from avfmae.data.manifest import read_manifest, resolve

from .stream import ShardDataset, decode_views


class _ManifestClips(Dataset):
    def __init__(self, records, root, decode):
        self.records, self.root, self.decode = records, Path(root), decode

    def __len__(self):
        return len(self.records)

    def __getitem__(self, i):
        r = self.records[i]
        return self.decode(resolve(self.root, r.video), resolve(self.root, r.audio) if r.audio else None, {})


def _time(loader, limit: int) -> tuple[int, float]:
    n, t0 = 0, time.perf_counter()
    for _ in loader:
        n += 1
        if n >= limit:
            break
    return n, time.perf_counter() - t0


def bench(shards: str, manifest: str, root: str, workers: int = 1, limit: int = 0) -> dict:
    decode = decode_views()
    records = read_manifest(manifest)
    limit = limit or len(records)
    kw = dict(batch_size=None, num_workers=workers)
    out = {"workers": workers}
    sds = ShardDataset(shards, workers=workers, decode=decode, shuffle_shards=False)
    n, s = _time(DataLoader(sds, **kw), limit)
    out["shards"] = {"clips": n, "seconds": s, "clips_per_s": n / s, "per_worker": n / s / max(workers, 1)}
    n, s = _time(DataLoader(_ManifestClips(records[:limit], root, decode), **kw), limit)
    out["manifest"] = {"clips": n, "seconds": s, "clips_per_s": n / s, "per_worker": n / s / max(workers, 1)}
    return out


def format_bench(result: dict) -> str:
    lines = [f"workers {result['workers']} (wall clock; on a shared machine the numbers vary with its load)"]
    for k in ("shards", "manifest"):
        r = result[k]
        lines.append(f"  {k:8s}: {r['clips']} clips in {r['seconds']:.2f} s = {r['clips_per_s']:.2f} clips/s, "
                     f"{r['per_worker']:.2f} clips/s per worker")
    return "\n".join(lines)
