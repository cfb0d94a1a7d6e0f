"""`python -m benchmarks.soak [--kills N]`: kill a pipeline run with SIGKILL at random points, resume, compare.

The run is the README's main job, made tiny and cut to its three-stage arm: `benchmarks.run --model avfmae-micro
--suite demo --folds fold1 --set stages=1+2+3` (one run: stages 1+2+3 on the fold, two epochs each by default, a
36-clip synthetic set), inline, in a subprocess of its own session.
First it runs once uninterrupted (the reference). Then, in a fresh store, it is started again and again and each start is
killed (SIGKILL, the whole process group) after a random delay between 0 and the reference's duration, until
a start finishes; a cycle that finishes before N kills are reached is followed by another fresh cycle. After each
cycle:

  * the stored result (scores, last-epoch scores, confusion, history, selected epoch, test count, config hash)
    equals the reference's exactly, and so does every tensor of every exported weight file in the zoo;
  * no temp file of avfmae.atomic's pattern is left anywhere under the soak folder;
  * no lock file is held (each one can be taken at once);
  * no file is half-written: every .json parses, every .safetensors / .pt / .npz loads, the store has no problems.

Prints one line per kill and a summary; writes `<dir>/soak.json`; exit status 1 when any check fails.
`tests/test_soak.py` (marker `soak`, not in the default run) and CI run it with a small N.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from avfmae.atomic import TEMP_PATTERN, LockTimeout, file_lock

FIXED_ARGS = ["--set", "batch_size=8", "--set", "stage1.batch_size=8", "--set", "stage2.batch_size=8",
              "--set", "progress=false", "--set", "stage1.progress=false", "--set", "stage2.progress=false"]


def stage_args(epochs: int) -> list[str]:
    return [a for s in ("", "stage1.", "stage2.") for a in ("--set", f"{s}epochs={epochs}")] + FIXED_ARGS
COMPARED = ("scores", "scores_last", "confusion", "history", "selected_epoch", "n_test", "config_hash", "skipped")


def command(results: Path, epochs: int) -> list[str]:
    return [sys.executable, "-m", "benchmarks.run", "--model", "avfmae-micro", "--suite", "demo", "--folds",
            "fold1", "--executor", "inline", "--results", str(results), "--set", "stages=1+2+3"] + stage_args(epochs)


def environment(data: Path, base: Path) -> dict:
    env = dict(os.environ)
    env.update({"AVF_DATA_ROOT": str(data), "AVF_ZOO_DIR": str(base / "zoo"), "AVF_RESULTS_DIR": str(base / "results"),
                "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])})
    env.pop("SLURM_JOB_ID", None)
    return env


def start(base: Path, data: Path, attempt: int, epochs: int) -> subprocess.Popen:
    log = open(base / f"attempt-{attempt:03d}.log", "wb")
    try:
        return subprocess.Popen(command(base / "results", epochs), env=environment(data, base), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, cwd=base)
    finally:
        log.close()


def make_data(root: Path) -> Path:
    from .datasets import synth

    return synth.generate(root / "demo", subjects=3, clips_per_class=2, seconds=2.6, size=64, workers=1,
                          progress=False)


# ----------------------------------------------------------------------------------------------- checks
def stored(base: Path) -> dict:
    from .store import ResultStore

    results, problems = ResultStore(base / "results").scan()
    if problems or len(results) != 1:
        raise AssertionError(f"{base}: expected one valid result, found {len(results)} and problems {problems}")
    return {k: results[0].get(k) for k in COMPARED}


def weights(base: Path) -> dict:
    """Every exported tensor under the zoo folder, by (relative file, tensor name)."""
    from safetensors.torch import load_file

    out = {}
    for f in sorted((base / "zoo").rglob("*.safetensors")):
        for name, t in load_file(str(f)).items():
            out[(str(f.relative_to(base / "zoo")), name)] = t
    return out


def compare(ref: Path, soak: Path) -> list[str]:
    import torch

    diffs = []
    a, b = stored(ref), stored(soak)
    diffs += [f"result field {k!r}: reference {a[k]!r:.200} != resumed {b[k]!r:.200}" for k in COMPARED
              if a[k] != b[k]]
    wa, wb = weights(ref), weights(soak)
    if set(wa) != set(wb):
        diffs.append(f"exported tensors differ in name: {sorted(set(wa) ^ set(wb))[:5]}")
    if not wa:
        diffs.append("no exported weights in the reference zoo")
    diffs += [f"exported tensor {f}:{n} differs" for (f, n) in sorted(set(wa) & set(wb))
              if not (wa[f, n].dtype == wb[f, n].dtype and torch.equal(wa[f, n], wb[f, n]))]
    return diffs


def leftovers(base: Path) -> list[str]:
    """Temp files, held locks and files that do not load, anywhere under `base`."""
    import numpy as np
    import torch
    from safetensors import safe_open

    bad = []
    for p in sorted(base.rglob("*")):
        if not p.is_file() or p.name.endswith(".log"):
            continue
        if TEMP_PATTERN.match(p.name):
            bad.append(f"temp file left: {p}")
            continue
        try:
            if p.name.endswith(".lock") or p.name == ".lock":
                with file_lock(p, timeout=0):
                    pass
            elif p.suffix == ".json":
                json.loads(p.read_text(encoding="utf-8"))
            elif p.suffix == ".jsonl":
                [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
            elif p.suffix == ".safetensors":
                with safe_open(str(p), "pt") as f:
                    [f.get_tensor(k) for k in f.keys()]
            elif p.suffix in (".pt", ".pth"):
                torch.load(p, map_location="cpu", weights_only=True)
            elif p.suffix == ".npz":
                with np.load(p, allow_pickle=False) as z:
                    [z[k] for k in z.files]
        except LockTimeout as e:
            bad.append(f"lock still held: {e}")
        except Exception as e:  # noqa: BLE001 - any reader's error means a half-written file
            bad.append(f"half-written or unreadable: {p}: {type(e).__name__}: {str(e)[:200]}")
    return bad


# ----------------------------------------------------------------------------------------------- the soak
def soak(kills: int, seed: int, folder: Path, epochs: int = 2, say=print) -> dict:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    data = folder / "data"
    make_data(data)
    ref = folder / "reference"
    ref.mkdir(exist_ok=True)
    t = time.time()
    p = start(ref, data, 0, epochs)
    if p.wait() != 0:
        raise RuntimeError(f"the reference run failed; see {ref}/attempt-000.log")
    t_ref = time.time() - t
    say(f"[soak] reference run: {t_ref:.1f} s")
    report = {"kills_asked": kills, "seed": seed, "epochs": epochs, "reference_s": round(t_ref, 1), "cycles": [],
              "problems": []}
    done_kills = 0
    cycle = 0
    while done_kills < kills or cycle == 0:
        cycle += 1
        base = folder / f"cycle-{cycle:02d}"
        base.mkdir(exist_ok=True)
        delays, attempt = [], 0
        while True:
            attempt += 1
            delay = rng.uniform(0.0, t_ref) if done_kills < kills else None
            p = start(base, data, attempt, epochs)
            try:
                rc = p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                done_kills += 1
                delays.append(round(delay, 2))
                say(f"[soak] cycle {cycle} start {attempt}: SIGKILL after {delay:.1f} s (kill {done_kills}/{kills})")
                continue
            if rc != 0:
                raise RuntimeError(f"cycle {cycle} start {attempt} failed (exit {rc}); see "
                                   f"{base}/attempt-{attempt:03d}.log")
            break
        problems = compare(ref, base) + leftovers(base)
        report["cycles"].append({"cycle": cycle, "kills": delays, "starts": attempt, "problems": problems})
        report["problems"] += problems
        say(f"[soak] cycle {cycle}: {len(delays)} kills, finished on start {attempt}: "
            + ("identical to the reference, nothing left over" if not problems else f"{len(problems)} problems"))
        for line in problems:
            say(f"[soak]   {line}")
        report["kills"] = done_kills
        (folder / "soak.json").write_text(json.dumps(report, indent=1) + "\n")   # so far
    report["problems"] += leftovers(ref)
    report["kills"] = done_kills
    report["wall_s"] = round(time.time() - t0, 1)
    (folder / "soak.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=int(os.environ.get("AVF_SOAK_KILLS", 20)),
                    help="SIGKILLs in all (default 20, or $AVF_SOAK_KILLS)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    ap.add_argument("--epochs", type=int, default=2, help="epochs of each stage (default 2: kills land mid-stage)")
    ap.add_argument("--dir", type=Path, help="work folder (default: a new temp folder, kept)")
    args = ap.parse_args(argv)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="avf-soak-"))
    report = soak(args.kills, args.seed, folder, args.epochs, say=lambda m: print(m, flush=True))
    print(f"[soak] {report['kills']} kills in {len(report['cycles'])} cycles, {report['wall_s']} s "
          f"(reference {report['reference_s']} s): "
          + ("PASS: every resumed run equals the reference bit for bit; no temp file, held lock or "
             "half-written file" if not report["problems"] else f"FAIL: {len(report['problems'])} problems")
          + f"; report {folder / 'soak.json'}")
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
