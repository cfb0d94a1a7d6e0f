"""`python -m benchmarks.speed_plan`: how long planning `--suite all` takes, with half the runs already done.

Builds a throw-away data root where all 17 datasets are "prepared" (split files of --clips lines per split) and a
result store holding every other run, then times `plan.plan` (the one planner: recipe resolution, revision
hashes, store look-ups) over --repeat runs. Prints numbers; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.speed_plan", description=__doc__)
    ap.add_argument("--clips", type=int, default=2000, help="manifest lines per split file (default 2000)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    from avfmae.data.manifest import ClipRecord, write_manifest

    from .datasets import registry
    from .plan import plan as make_plan
    from .request import suite_request
    from .store import ResultStore

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        os.environ["AVF_DATA_ROOT"] = str(root)
        names = registry.list_datasets("all")
        for name in names:
            spec = registry.get(name)
            target = (0.5,) * spec.num_classes if spec.regression else 0
            recs = [ClipRecord(f"c{i}", f"v/{i}.mp4", None, target, f"s{i % 7}") for i in range(args.clips)]
            for fold in spec.folds:
                for split in ("train", "test"):
                    write_manifest(spec.split_file(fold, split), recs)
        store = ResultStore(Path(tmp) / "results")
        plan = make_plan(suite_request("all", "avfmae-large", seeds=range(args.seeds)), store)
        for i, r in enumerate(plan.runs):
            if i % 2 == 0:
                store.put(r.key, {"scores": {"uar": 50.0}})
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            plan = make_plan(suite_request("all", "avfmae-large", seeds=range(args.seeds)), store)
            times.append(time.perf_counter() - t0)
        c = plan.counts()
        print(f"plan --suite all: {len(names)} datasets, {len(plan.runs)} runs ({c.get('done', 0)} done, "
              f"{c.get('missing', 0)} to run), {args.clips} clips per split file")
        print(f"  planning time: median {statistics.median(times) * 1e3:.0f} ms, max {max(times) * 1e3:.0f} ms "
              f"over {args.repeat} repeats (target: well under 2000 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
