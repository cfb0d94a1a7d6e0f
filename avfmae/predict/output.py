"""Prediction rows, JSON lines / CSV output with resume, and the probabilities-over-time plot.

Rows (one per window, then one per video, written together once the video is done):
    kind "window": video, window, start, end (s), label (the top class; regression: ""), then one value per
                   output name (JSON lines: under "probs" for classification, "values" for regression)
    kind "video":  the same values averaged over the windows, with windows, duration, audio ("ok", "no-audio",
                   "failed"), face ("tracked", "centre"), detected_fraction, detector, model
Resume: a video that already has its "video" row in the output file is skipped; rows of a video whose run was
killed before its "video" row are dropped (the file is rewritten atomically) and the video is done again. A file
written by another model (JSON lines: a video row's "model"; both formats: the output names) is refused.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from avfmae.atomic import atomic_write

__all__ = ["FORMATS", "video_rows", "writable", "OutputFile", "plot_video"]

FORMATS = ("jsonl", "csv")
_BASE = ("video", "kind", "window", "start", "end", "label", "audio", "face")


def _values(names: Sequence[str], values: np.ndarray) -> dict:
    return {n: round(float(v), 6) for n, v in zip(names, values)}


def video_rows(video: str, windows, names: Sequence[str], regression: bool, info: dict) -> list[dict]:
    """The window rows and the video row (see the module docstring)."""
    key = "values" if regression else "probs"
    rows = []
    for w in windows:
        label = "" if regression else names[int(np.argmax(w.values))]
        rows.append({"video": video, "kind": "window", "window": w.index, "start": round(w.start, 3),
                     "end": round(w.end, 3), "label": label, key: _values(names, w.values)})
    mean = np.mean([w.values for w in windows], axis=0)
    rows.append({"video": video, "kind": "video", "windows": len(windows), "start": 0.0,
                 "end": round(max(w.end for w in windows), 3),
                 "label": "" if regression else names[int(np.argmax(mean))], key: _values(names, mean), **info})
    return rows


def writable(path: Path, option: str) -> None:
    """Stop early (ValueError naming `option`) when `path` cannot be written: its folder is created and the
    file opened for appending (a file this check creates is removed again)."""
    existed = path.exists()
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "it is a folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
        if not existed:
            path.unlink()
    except OSError as exc:
        why = "a file stands where its folder should be" if isinstance(exc, (FileExistsError, NotADirectoryError)) \
            else exc.strerror or str(exc)
        raise ValueError(f"{option} {path}: cannot write there ({why}); choose a writable file") from None


def model_key(model: str) -> tuple:
    """A row's "model" field ("name" or "name (weights)") with the weights file resolved, so ft.safetensors and
    ./ft.safetensors or its absolute path name the same model."""
    name, _, weights = model.partition(" (")
    weights = weights[:-1] if weights.endswith(")") else weights
    if weights and Path(weights).expanduser().exists():
        weights = str(Path(weights).expanduser().resolve())
    return name, weights


class OutputFile:
    """Append-only JSON lines or CSV output; `done` holds the videos already finished in it."""

    def __init__(self, path: str | os.PathLike | None, fmt: str, names: Sequence[str], model: str | None = None):
        if fmt not in FORMATS:
            raise ValueError(f"--format must be one of {FORMATS}, not {fmt!r}")
        self.path = Path(path) if path else None
        self.fmt, self.names, self.model = fmt, tuple(names), model
        self.columns = _BASE + self.names
        self.done: set[str] = set()
        if self.path is not None:
            writable(self.path, "--out")
            if self.path.is_file() and self.path.stat().st_size:
                self._resume()

    def _resume(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{self.path}: not a UTF-8 {self.fmt} file of predictions ({exc.reason} at byte "
                             f"{exc.start}); write to a new --out file") from None
        whole = text if text.endswith("\n") else text[:text.rfind("\n") + 1]  # a half-written last line is dropped
        rows = []
        if not whole.strip():   # killed while writing the first video (or the CSV header)
            pass
        elif self.fmt == "jsonl":
            for i, line in enumerate(whole.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    raise ValueError(f"{self.path} line {i}: not JSON; write to a new --out file") from None
        else:
            reader = csv.DictReader(io.StringIO(whole))
            if tuple(reader.fieldnames or ()) != self.columns:
                raise ValueError(f"{self.path}: its columns {reader.fieldnames} are not this model's "
                                 f"{list(self.columns)}; write to a new --out file")
            rows = list(reader)
        self._same_model(rows)
        self.done = {r["video"] for r in rows if r.get("kind") == "video"}
        keep = [r for r in rows if r.get("video") in self.done]
        if len(keep) != len(rows) or not text.endswith("\n"):
            atomic_write(self.path, lambda f: f.write(self._encode(keep, header=self.fmt == "csv")), binary=False)

    def _same_model(self, rows: Sequence[dict]) -> None:
        """Resuming skips the videos in the file: only right when the same model (and outputs) wrote them.
        JSON lines record both in each video row (CSV: the columns, checked above)."""
        for r in rows:
            if r.get("kind") != "video":
                continue
            outputs = r.get("probs") or r.get("values")
            if self.model is not None and "model" in r and model_key(r["model"]) != model_key(self.model):
                why = f"{r['video']} was predicted by {r['model']}, not {self.model}"
            elif isinstance(outputs, dict) and tuple(outputs) != self.names:
                why = f"its outputs {list(outputs)} are not this model's {list(self.names)}"
            else:
                continue
            raise ValueError(f"{self.path}: {why}; resuming would skip its videos: write to a new --out file")

    def _encode(self, rows: Sequence[dict], header: bool = False) -> str:
        if self.fmt == "jsonl":
            return "".join(json.dumps(r, sort_keys=False) + "\n" for r in rows)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.columns, extrasaction="ignore", lineterminator="\n")
        if header:
            w.writeheader()
        for r in rows:
            flat = {**r, **(r.get("probs") or r.get("values") or {})}
            w.writerow(flat)
        return buf.getvalue()

    def write(self, rows: Sequence[dict], stream=None) -> None:
        """Append one video's rows in a single write (to the file, or `stream` when there is no file)."""
        if self.path is None:
            header = self.fmt == "csv" and not getattr(self, "_header_written", False)
            self._header_written = True
            stream.write(self._encode(rows, header))
            stream.flush()
            return
        new = not self.path.is_file() or self.path.stat().st_size == 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(self._encode(rows, header=new and self.fmt == "csv"))
            f.flush()
            os.fsync(f.fileno())
        self.done.add(rows[-1]["video"])


def plot_video(path: str | os.PathLike, windows, names: Sequence[str], regression: bool, frames,
               fps: float, title: str = "", thumbs: int = 8) -> Path:
    """Outputs over time (one line per class, at each window's centre) with face thumbnails along the time
    axis. `frames`: the video's face-crop FrameSource."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.array([(w.start + w.end) / 2 for w in windows])
    vals = np.stack([w.values for w in windows])
    duration = max(w.end for w in windows)
    fig = plt.figure(figsize=(11, 5.2))
    ax = fig.add_axes([0.07, 0.36, 0.72, 0.56])
    for j, name in enumerate(names):
        ax.plot(t, vals[:, j], marker="o", ms=3, label=name)
    ax.set_xlim(0, duration)
    ax.set_ylabel("value" if regression else "probability")
    if not regression:
        ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_xticklabels([])
    n = frames.num_frames
    k = max(1, min(thumbs, n))
    ids = [int(round(x)) for x in np.linspace(0, n - 1, k)]
    imgs = frames.get_frames(ids)
    width = 0.72 / k
    for i, (fid, img) in enumerate(zip(ids, imgs)):
        sub = fig.add_axes([0.07 + i * width, 0.08, width * 0.95, 0.24])
        sub.imshow(img)
        sub.set_xticks([])
        sub.set_yticks([])
        sub.set_xlabel(f"{fid / fps:.1f}s", fontsize=7)
    fig.text(0.43, 0.01, "time (s); face crops below", ha="center", fontsize=8)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
