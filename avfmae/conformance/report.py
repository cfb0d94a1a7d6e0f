"""One line per compared tensor: name, max |ours - golden|, tolerance, verdict."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Comparison:
    name: str
    max_abs_diff: float
    atol: float
    rtol: float = 0.0
    ok: bool = True
    note: str = ""

    def line(self) -> str:
        verdict = "ok  " if self.ok else "FAIL"
        tol = f"atol {self.atol:g}" + (f" rtol {self.rtol:g}" if self.rtol else "")
        note = f"  ({self.note})" if self.note else ""
        return f"{verdict} {self.name:<62} max|diff| {self.max_abs_diff:.3e}  {tol}{note}"


def compare(name: str, ours, golden, atol: float, rtol: float = 0.0, exact: bool = False) -> Comparison:
    """Compare two arrays/tensors. `exact` for masks, booleans and integers."""
    a = np.asarray(ours.detach().cpu().numpy() if hasattr(ours, "detach") else ours)
    b = np.asarray(golden.detach().cpu().numpy() if hasattr(golden, "detach") else golden)
    if a.shape != b.shape:
        return Comparison(name, float("inf"), atol, rtol, False, f"shape {a.shape} != golden {b.shape}")
    if exact or a.dtype == bool or np.issubdtype(a.dtype, np.integer):
        diff = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) if a.size else 0.0
        return Comparison(name, diff, 0.0, 0.0, diff == 0.0, "exact")
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    diff = np.abs(a64 - b64)
    worst = float(diff.max()) if diff.size else 0.0
    ok = bool(np.all(diff <= atol + rtol * np.abs(b64))) and bool(np.all(np.isfinite(a64)))
    return Comparison(name, worst, atol, rtol, ok)


def print_report(title: str, results: list[Comparison]) -> bool:
    print(f"== {title}")
    for r in results:
        print(r.line())
    failed = [r for r in results if not r.ok]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return not failed
