"""Before any training: the folders a run writes must be writable, or the run fails at once naming the folder.

A run writes its result into the store (`<store>/<dataset>/<model>/`), its checkpoints into the work folder
(`<store>/../work/<signature>/`), pipeline weights into `<store>/../pipeline/` and their zoo tags into the zoo
folder (`$AVF_ZOO_DIR`). Without this check a read-only store is found only when the result is written, after
hours of training. `check_writable` really writes (and removes) a small temp file in each folder, so it finds
every cause the OS has (permissions, a read-only mount, a full disk, a path under a regular file), as root too
(root ignores permission bits, not a read-only mount).
"""
from __future__ import annotations

import os
from pathlib import Path

from avfmae.atomic import temp_for

from .store import RESULTS_ENV, ResultStore


class NotWritable(OSError):
    """A folder a run must write cannot be written; the message names the folder and what to do."""


def writable_problem(folder: str | os.PathLike) -> str | None:
    """None when a file can be created in `folder` (made if missing), else the OS's reason."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = temp_for(folder / ".write-check")
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, b"ok\n")
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
    except OSError as e:
        return e.strerror or str(e)
    return None


def run_folders(store: ResultStore) -> list[tuple[str, Path, str]]:
    """(what, folder, how to change it) for every folder a run writes."""
    from avfmae.zoo.weights import zoo_dir

    base = Path(store.root).expanduser().resolve().parent
    where = f"pass --results or set ${RESULTS_ENV} to a writable folder"
    return [("result store", Path(store.root), where),
            ("work folder (checkpoints, beside the store)", base / "work", where),
            ("pipeline folder (trained starting weights, beside the store)", base / "pipeline", where),
            ("zoo folder (weight tags)", zoo_dir(), "set $AVF_ZOO_DIR to a writable folder")]


def check_writable(store: ResultStore, need_zoo: bool = True) -> None:
    """Raise NotWritable naming every folder of `run_folders` that cannot be written and what to do."""
    bad = []
    for what, folder, fix in run_folders(store):
        if not need_zoo and what.startswith("zoo"):
            continue
        reason = writable_problem(folder)
        if reason is not None:
            bad.append(f"the {what} {folder} is not writable ({reason}): make it writable, or {fix}")
    if bad:
        raise NotWritable("cannot run: " + "; ".join(bad) + ". Nothing was trained.")
