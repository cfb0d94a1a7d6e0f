"""Placing a plan's media under the data root and writing its split manifests.

Three modes, all giving the same relative paths (the release's own layout) inside the dataset folder:
- link:     `$AVF_DATA_ROOT/<name>/` is a real folder of hard links to the release files (no extra disk space;
            needs the release and the data root on one filesystem).
- copy:     the same folder, with copies.
- in-place: the manifests go into the release folder itself (`<raw>/splits/`) and `$AVF_DATA_ROOT/<name>`
            becomes a symlink to it.
Symlinks to single files are never used: the readers refuse paths that resolve outside the dataset root.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

from avfmae.data.manifest import read_manifest, write_manifest

from ._base import DatasetLayoutError, Plan

MODES = ("link", "copy", "in-place")


class PlacementError(OSError):
    """Media could not be placed under the data root (cross-device link, existing folder in the way)."""


def place_file(src: Path, dst: Path, mode: str) -> None:
    if dst.exists():
        try:
            if os.path.samefile(src, dst):
                return
        except OSError:
            pass
        if mode == "copy" and dst.stat().st_size == src.stat().st_size:
            return
        dst.unlink()
    dst.parent.mkdir(parents=True, exist_ok=True)
    if mode == "copy":
        shutil.copy2(src, dst)
        return
    try:
        os.link(src, dst)
    except OSError as err:
        if err.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise PlacementError(
                f"cannot hard-link {src} to {dst} ({os.strerror(err.errno)}). The release folder and the data "
                "root must be on one filesystem for --link; use --copy, or --in-place to write the split files "
                "into the release folder itself") from None
        raise


def place(src: Path, dst: Path, mode: str) -> int:
    """Link or copy a file, or a folder's files recursively; returns the number of files placed."""
    if src.is_dir():
        n = 0
        for dirpath, _, filenames in os.walk(src):
            sub = Path(dirpath).relative_to(src)
            (dst / sub).mkdir(parents=True, exist_ok=True)
            for name in filenames:
                place_file(Path(dirpath) / name, dst / sub / name, mode)
                n += 1
        return n
    place_file(src, dst, mode)
    return 1


def _dataset_dir(plan: Plan, dest: Path, mode: str) -> Path:
    """The real folder that will hold the media and splits/ for this mode."""
    raw = plan.raw.resolve()
    if mode == "in-place":
        if dest.is_symlink():
            dest.unlink()
        elif dest.exists():
            if dest.resolve() == raw:
                return raw
            raise PlacementError(
                f"{dest} already exists as a folder (prepared with --link or --copy?). Remove it first, or "
                "prepare with --link/--copy again")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.symlink_to(raw, target_is_directory=True)
        return raw
    if dest.is_symlink():
        dest.unlink()
    if dest.exists() and dest.resolve() == raw:
        raise PlacementError(f"the release folder {raw} is the dataset folder itself: use --in-place")
    dest.mkdir(parents=True, exist_ok=True)
    return dest


def materialize(plan: Plan, dest: Path, mode: str, log=print) -> Path:
    """Place media, build derived media, write splits/ and splits/import.json. Returns the dataset folder."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    raw = plan.raw.resolve()
    folder = _dataset_dir(plan, dest, mode)
    if folder != raw:
        missing = []
        placed = 0
        for rel in sorted(plan.media()):
            src = raw / rel
            if not src.exists():
                missing.append(rel)
                continue
            placed += place(src, folder / rel, mode)
        if missing:
            raise DatasetLayoutError(plan.spec.name, raw / missing[0],
                                     f"{len(missing)} media paths named by the labels are missing, the first")
        log(f"  placed {placed} files ({'hard links' if mode == 'link' else 'copies'}) under {folder}")
    built = 0
    for rel, build in sorted(plan.derived.items()):
        target = folder / rel
        if target.exists() and (target.is_file() or any(target.iterdir())):
            continue
        build(raw, target, "copy" if mode == "copy" else "link")
        built += 1
    if plan.derived:
        log(f"  built {built} derived clips ({len(plan.derived) - built} already there)")
    write_splits(plan, folder)
    return folder


def write_splits(plan: Plan, folder: Path) -> None:
    """Write splits/<fold>/<split>.tsv into a fresh folder, validate it, then swap it in for the old one."""
    spec = plan.spec
    new = folder / f".splits.new-{os.getpid()}"
    if new.exists():
        shutil.rmtree(new)
    for fold, splits in plan.folds.items():
        for split, records in splits.items():
            path = write_manifest(new / fold / f"{split}.tsv", records)
            read_manifest(path, num_classes=None if spec.regression else spec.num_classes,
                          num_targets=spec.num_classes if spec.regression else None)
    info = {
        "dataset": spec.name, "importer_source": plan.source, "release": str(plan.raw.resolve()),
        "labels": list(spec.labels), "folds": {f: {s: len(r) for s, r in sp.items()} for f, sp in plan.folds.items()},
        "notes": plan.notes,
    }
    (new / "import.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    final = folder / "splits"
    old = folder / f".splits.old-{os.getpid()}"
    if final.exists():
        os.replace(final, old)
    os.replace(new, final)
    if old.exists():
        shutil.rmtree(old)
