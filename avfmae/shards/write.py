"""Write a split manifest as tar shards: parallel over shards, atomic per shard, resumable.

Shard i holds manifest records [i*N, (i+1)*N). A shard is finished when its tar and its sidecar json exist (both
written atomically, the tar first); a resumed write checks a finished shard's sidecar against the manifest slice
(same clip ids) and skips it, so a killed write loses at most the shards in flight. The index is written last.
"""
from __future__ import annotations

import io
import json
import os
import sys
import tarfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

from avfmae.atomic import atomic_path, atomic_write_text, remove_stale
from avfmae.data.manifest import ClipRecord, read_manifest, resolve
from avfmae.data.readers import IMAGE_EXTENSIONS

from .format import FORMAT, INDEX_NAME, ShardError, sample_key, sha256_file, shard_name, sidecar_name, tar_member


def _frames_tar(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for p in sorted(q for q in folder.iterdir() if q.suffix.lower() in IMAGE_EXTENSIONS and q.is_file()):
            tar.addfile(*tar_member(p.name, p.read_bytes()))
    return buf.getvalue()


def _read_member(path: Path, record: ClipRecord, column: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ShardError(f"{record.where or record.clip}: {column} {path} of clip {record.clip!r} cannot be read "
                         f"({e.strerror or e}). Fix the manifest or drop the clip") from None


def sample_members(record: ClipRecord, root: Path) -> list[tuple[str, bytes]]:
    """The (name, bytes) members of one clip, json first."""
    key = sample_key(record.clip)
    video = resolve(root, record.video)
    if video.is_dir():
        video_name, video_bytes = f"{key}.frames.tar", _frames_tar(video)
    else:
        suffix = video.suffix.lower().lstrip(".") or "video"
        video_name, video_bytes = f"{key}.{suffix}", _read_member(video, record, "video")
    members = [(video_name, video_bytes)]
    audio_name = None
    if record.audio:
        audio = resolve(root, record.audio)
        audio_name = f"{key}.{audio.suffix.lower().lstrip('.') or 'audio'}"
        if audio_name == video_name:
            audio_name = f"{key}.audio.{audio.suffix.lower().lstrip('.') or 'bin'}"
        members.append((audio_name, _read_member(audio, record, "audio")))
    target = list(record.target) if isinstance(record.target, tuple) else record.target
    meta = {"clip": record.clip, "target": target, "subject": record.subject, "video": video_name,
            "audio": audio_name}
    return [(f"{key}.json", json.dumps(meta, sort_keys=True).encode())] + members


def _write_one(args) -> dict:
    i, records, root, out = args
    t0 = time.perf_counter()
    path = out / shard_name(i)
    with atomic_path(path) as tmp:
        with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
            for r in records:
                for name, data in sample_members(r, root):
                    tar.addfile(*tar_member(name, data))
    entry = {"name": shard_name(i), "samples": len(records), "bytes": path.stat().st_size,
             "sha256": sha256_file(path), "clips": [r.clip for r in records]}
    atomic_write_text(out / sidecar_name(i), json.dumps(entry))
    entry["seconds"] = time.perf_counter() - t0
    return entry


def _finished(out: Path, i: int, records: Sequence[ClipRecord]) -> dict | None:
    side, tar = out / sidecar_name(i), out / shard_name(i)
    if not (side.is_file() and tar.is_file()):
        return None
    try:
        entry = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None            # a torn sidecar cannot exist (atomic), but a hand-edited one is rewritten
    if entry.get("clips") != [r.clip for r in records]:
        raise ShardError(f"{side}: shard {i} holds other clips than the manifest's records {i * len(records)}.. "
                         f"(the manifest or --clips-per-shard changed). Write to a new --out folder")
    if entry.get("bytes") != tar.stat().st_size:
        return None
    return entry


def write_shards(manifest: str | os.PathLike, root: str | os.PathLike, out: str | os.PathLike,
                 clips_per_shard: int = 1000, workers: int = 1, log=None) -> dict:
    """Write (or finish) the shards of `manifest` into `out`; returns the index (with a "report" of this run)."""
    if clips_per_shard < 1 or workers < 1:
        raise ShardError(f"--clips-per-shard ({clips_per_shard}) and --workers ({workers}) must be at least 1")
    records = read_manifest(manifest)
    if not records:
        raise ShardError(f"{manifest}: no clips to write")
    root, out = Path(root), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale(out)
    chunks = [records[s:s + clips_per_shard] for s in range(0, len(records), clips_per_shard)]
    entries: list[dict | None] = [_finished(out, i, c) for i, c in enumerate(chunks)]
    todo = [(i, c, root, out) for i, c in enumerate(chunks) if entries[i] is None]
    skipped = len(chunks) - len(todo)
    t0 = time.perf_counter()
    if workers == 1 or len(todo) <= 1:
        done = map(_write_one, todo)
        pool = None
    else:
        pool = ProcessPoolExecutor(max_workers=workers)
        done = pool.map(_write_one, todo)
    try:
        for (i, *_), entry in zip(todo, done):
            entries[i] = entry
            if log:
                log(f"{entry['name']}: {entry['samples']} clips, {entry['bytes'] / 2**20:.1f} MiB, "
                    f"{entry['samples'] / max(entry['seconds'], 1e-9):.1f} clips/s")
    finally:
        if pool is not None:
            pool.shutdown()
    seconds = time.perf_counter() - t0
    shards = [{k: e[k] for k in ("name", "samples", "bytes", "sha256", "clips")} for e in entries]
    index = {"format": FORMAT, "manifest": str(Path(manifest).resolve()), "root": str(root.resolve()),
             "clips_per_shard": clips_per_shard, "samples": len(records), "shards": shards}
    atomic_write_text(out / INDEX_NAME, json.dumps(index, indent=1))
    written = sum(len(c) for _, c, *_ in todo)
    sizes = [s["bytes"] for s in shards]
    index["report"] = {"shards": len(shards), "written": len(todo), "skipped": skipped, "clips_written": written,
                       "seconds": seconds, "clips_per_s": written / seconds if written and seconds > 0 else 0.0,
                       "bytes": sum(sizes), "min_bytes": min(sizes), "max_bytes": max(sizes)}
    return index


def format_report(index: dict, out) -> str:
    r = index["report"]
    return (f"{out}: {r['shards']} shards ({r['written']} written, {r['skipped']} already finished), "
            f"{index['samples']} clips, {r['bytes'] / 2**20:.1f} MiB (shard {r['min_bytes'] / 2**20:.1f}.."
            f"{r['max_bytes'] / 2**20:.1f} MiB); {r['clips_written']} clips in {r['seconds']:.1f} s = "
            f"{r['clips_per_s']:.1f} clips/s")


def _print(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
