"""Progress output that suits where it goes: a tqdm bar on a terminal, plain lines in a log file.

A SLURM output file or a `> log` redirect gets one line per `every` units (a training epoch, a tenth of a caching
pass) instead of thousands of carriage-return updates:

    stage3: 36/144 step (25%), 41.2 s, loss=1.7021, lr=2.40e-02

    bar = progress.bar(total=144, desc="stage3", unit="step", every=18)   # 18 steps = one epoch
    bar.update(1); bar.set_postfix(loss="1.70"); bar.close()
"""
from __future__ import annotations

import sys
import time
from typing import IO


def interactive(stream: IO | None = None) -> bool:
    stream = stream if stream is not None else sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class LineProgress:
    """The subset of tqdm's interface the project uses, printing one line per `every` units and at the end."""

    def __init__(self, total: int | None, desc: str = "", unit: str = "it", initial: int = 0, every: int | None = None,
                 file: IO | None = None):
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.every = max(1, int(every if every else max(1, (total or 10) // 10)))
        self.file = file if file is not None else sys.stderr
        self.postfix: dict = {}
        self._t0 = time.perf_counter()
        self._printed_at = initial
        self._closed = False

    def update(self, n: int = 1) -> None:
        before, self.n = self.n, self.n + n
        if self.n // self.every > before // self.every:
            self._line()

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **kwargs) -> None:
        self.postfix = {**(ordered_dict or {}), **kwargs}

    def set_description(self, desc: str, refresh: bool = True) -> None:
        self.desc = desc

    def _line(self) -> None:
        if self.n == self._printed_at:
            return
        self._printed_at = self.n
        of = f"/{self.total}" if self.total else ""
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        post = "".join(f", {k}={v}" for k, v in self.postfix.items())
        print(f"{self.desc}: {self.n}{of} {self.unit}{pct}, {time.perf_counter() - self._t0:.1f} s{post}",
              file=self.file, flush=True)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._line()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):  # pragma: no cover - iteration form is not used with a LineProgress
        raise TypeError("wrap the iterable yourself and call update()")


def bar(total: int | None = None, desc: str = "", unit: str = "it", initial: int = 0, every: int | None = None,
        disable: bool = False, file: IO | None = None, **tqdm_kwargs):
    """A tqdm bar when `file` (default stderr) is a terminal, else a LineProgress (one line per `every` units,
    default a tenth of `total`); a no-op LineProgress with every=huge when disabled."""
    file = file if file is not None else sys.stderr
    if disable:
        return LineProgress(total, desc, unit, initial, every=1 << 62, file=_Null())
    if interactive(file):
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, unit=unit, initial=initial, file=file, dynamic_ncols=True,
                    **tqdm_kwargs)
    return LineProgress(total, desc, unit, initial, every=every, file=file)


def iterate(iterable, total: int | None = None, **kwargs):
    """Yield from `iterable`, reporting progress as `bar` would."""
    b = bar(total=total if total is not None else _len(iterable), **kwargs)
    try:
        for item in iterable:
            yield item
            b.update(1)
    finally:
        b.close()


def _len(obj) -> int | None:
    try:
        return len(obj)
    except TypeError:
        return None


class _Null:
    def write(self, *_):
        pass

    def flush(self):
        pass


__all__ = ["bar", "iterate", "interactive", "LineProgress"]
