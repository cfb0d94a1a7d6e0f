"""`python -m benchmarks.leaderboard build|--check`: markdown tables (and plots) generated from the result store.

Tables are built from stored results only, never from logs. A dataset's number is the mean of per-fold metrics
(the paper's protocol; micro-expression sets pool their LOSO folds), shown only when every fold is there; the
coverage table names what is missing. The paper's reported numbers stand beside ours with the difference.
Every table names the protocol and version and the date of the newest result it contains, so rebuilding from
the same store gives byte-identical files and `--check` can fail on any difference.

    python -m benchmarks.leaderboard build                          # runs/results -> runs/leaderboards
    python -m benchmarks.leaderboard build --results results --out leaderboards   # the published tables
    python -m benchmarks.leaderboard check --results results --out leaderboards   # CI: committed == generated
"""
from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from .leaderboard_ablations import ablation_tables
from .leaderboard_rows import collect
from .leaderboard_tables import coverage_table, fold_table, main_table, model_zoo, task_table
from .store import ResultStore


def render(store: ResultStore) -> tuple[dict[str, str], list]:
    rows, problems = collect(store)
    files = {"main.md": main_table(rows), "cea.md": task_table(rows, "CEA"), "dea.md": task_table(rows, "DEA"),
             "mer.md": task_table(rows, "MER"), "folds.md": fold_table(rows), "coverage.md": coverage_table(rows),
             "MODEL_ZOO.md": model_zoo()}
    for grid, text in ablation_tables(rows).items():
        files[f"ablations/{grid}.md"] = text
    index = ["# Leaderboards", "", "Generated from the result store; see each table for protocol and date.", ""]
    index += [f"- [{name}]({name})" for name in sorted(files)]
    files["README.md"] = "\n".join(index) + "\n"
    return files, problems


def default_out(store: ResultStore) -> Path:
    return Path(store.root).resolve().parent / "leaderboards"


def build(store: ResultStore | None = None, out: Path | None = None) -> Path:
    store = store or ResultStore()
    out = Path(out) if out else default_out(store)
    files, problems = render(store)
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    for name, text in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
    from .plots import write_plots
    write_plots(collect(store)[0], out)
    return out


def check(store: ResultStore, out: Path) -> list[str]:
    """Differences between the committed markdown in `out` and what the store generates now, and every store
    file that is not a usable result (a truncated JSON must not pass as "up to date")."""
    files, problems = render(store)
    diffs = [f"result store: {p}" for p in problems]
    for name, text in sorted(files.items()):
        path = out / name
        old = path.read_text() if path.is_file() else ""
        if old != text:
            diffs.append("".join(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                      f"committed/{name}", f"generated/{name}")))
    stale = {p.relative_to(out).as_posix() for p in out.rglob("*.md")} - set(files) if out.is_dir() else set()
    diffs += [f"{name}: no longer generated (delete it)" for name in sorted(stale)]
    return diffs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.leaderboard", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["build", "check"], nargs="?", default="build")
    ap.add_argument("--check", action="store_true", help="same as the `check` command")
    ap.add_argument("--results", help="result store (default $AVF_RESULTS_DIR or runs/results)")
    ap.add_argument("--out", type=Path, help="output folder (default: leaderboards/ beside the store)")
    args = ap.parse_args(argv)
    store = ResultStore(args.results)
    out = args.out or default_out(store)
    if args.check or args.command == "check":
        diffs = check(store, out)
        for d in diffs:
            print(d)
        print(f"{out}: {'up to date' if not diffs else f'{len(diffs)} file(s) differ from the store; run build'}")
        return 1 if diffs else 0
    try:
        print(f"wrote {build(store, out)}")
    except OSError as e:  # a read-only folder: one clear message, not a traceback
        print(f"error: cannot write the leaderboards in {out}: {e.strerror or e}"
              f"{f' ({e.filename})' if getattr(e, 'filename', None) else ''}; make it writable or pass --out DIR",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
