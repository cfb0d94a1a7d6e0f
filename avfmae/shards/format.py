"""The shard layout: tar files of samples, webdataset naming, and the index that lists them.

A shard `shard-000000.tar` holds, per clip and in manifest order, members named `<key>.<ext>`:
    <key>.json        {"clip", "target", "subject", "video", "audio"}: the manifest fields; "video"/"audio"
                      name the sibling members (audio null when the clip uses the video's own track)
    <key>.mp4         the video file as is (any container: the original suffix is kept), or
    <key>.frames.tar  a frame folder packed as one uncompressed tar of its image files
    <key>.wav         the audio file as is (original suffix kept), when the manifest gives one
`key` is the clip id when it is made of [A-Za-z0-9_-] only, else a sanitised id plus a hash (the true id is in
the json). Members carry mtime 0 and no owner, so the same manifest gives byte-identical shards.

`index.json` lists every shard: name, samples, bytes, sha256 and the clip ids, plus the manifest it came from.
Each finished shard also has a sidecar `shard-000000.json` with the same entry: a resumed write skips shards whose
sidecar matches the manifest slice.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from pathlib import Path

INDEX_NAME = "index.json"
FORMAT = "avfmae-shards/1"
_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


class ShardError(ValueError):
    """A shard folder or shard that cannot be used; the message names the file and what to do."""


def shard_name(i: int) -> str:
    return f"shard-{i:06d}.tar"


def sidecar_name(i: int) -> str:
    return f"shard-{i:06d}.json"


def sample_key(clip: str) -> str:
    if _SAFE.match(clip):
        return clip
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", clip)[:80]
    return f"{safe}_{hashlib.sha1(clip.encode()).hexdigest()[:10]}"


def tar_member(name: str, data: bytes) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info, io.BytesIO(data)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                return h.hexdigest()
            h.update(block)


def read_index(folder: str | os.PathLike) -> dict:
    """The index of a shard folder; raises ShardError naming the file when it is missing or unreadable."""
    path = Path(folder) / INDEX_NAME
    if not path.is_file():
        raise ShardError(f"{path}: no shard index. Write the shards with `python -m avfmae.shards write "
                         f"--manifest SPLIT.tsv --out {folder}` (a resumed write finishes the index)")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ShardError(f"{path}: unreadable shard index ({e}). Re-run `python -m avfmae.shards write`") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT or not isinstance(index.get("shards"), list):
        raise ShardError(f"{path}: not an {FORMAT} index. Re-run `python -m avfmae.shards write`")
    return index
