"""50 SLURM array tasks write their results into one store at once: every result readable, none lost, none
twice (marker `slurm`; a real cluster: bash .ci/slurm.sh start && eval "$(bash .ci/slurm.sh env)")."""
import json
import os
import sys

import cloudpickle
import pytest

from benchmarks.executors import submit_runs
from benchmarks.jobstatus import run_status
from benchmarks.runkey import RunKey
from benchmarks.store import ResultStore
from test_slurm import slurm_cluster  # noqa: F401  (the fixture: skip, or fail under $CI, without a cluster)

pytestmark = pytest.mark.slurm
cloudpickle.register_pickle_by_value(sys.modules[__name__])

N = 50


def stamped(key):
    """Counts its calls in the run's work dir; a result big enough that a torn write would not parse."""
    with open(ResultStore().work_dir(key) / "calls", "a") as f:
        f.write(f"{os.environ.get('SLURM_ARRAY_TASK_ID')}\n")
    return {"scores": {"uar": float(key.seed)}, "payload": [key.seed] * 20000,
            "task": os.environ.get("SLURM_ARRAY_TASK_ID")}


def test_fifty_array_tasks_write_one_store(slurm_cluster, tmp_path):  # noqa: F811
    store = ResultStore(tmp_path / "results")
    keys = [RunKey(model="test-model", weights_sha="00ff00ff", dataset="demo", dataset_revision="r1",
                   protocol="paper", protocol_version="1", fold="1", seed=s) for s in range(N)]
    handles = submit_runs(stamped, keys, "slurm", store=store, folder=tmp_path / "logs", name="ci-fifty",
                          resources={"cpus_per_task": 1, "timeout_min": 10}, array_parallelism=N)
    assert len({h.job_id.split("_")[0] for h in handles}) == 1           # one array of 50 tasks
    for h in handles:
        h.result(timeout=600)
    files = sorted(p for p in store.root.rglob("*") if p.is_file())
    assert len(files) == N, [p.name for p in files]                       # no failure record, no temp file
    results, problems = store.scan()
    assert problems == []
    assert sorted(r["key"].seed for r in results) == list(range(N))      # none lost, none twice
    for k in keys:
        rec = json.loads(store.path(k).read_text())                        # every file readable as written
        assert rec["scores"] == {"uar": float(k.seed)} and rec["payload"] == [k.seed] * 20000
        assert len((store.work_dir(k) / "calls").read_text().split()) == 1  # trained once
    assert [s.state for s in run_status(keys, store, tmp_path / "logs")] == ["done"] * N
