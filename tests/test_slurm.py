"""The SLURM executor against a real cluster (``bash .ci/slurm.sh start``; ``eval "$(bash .ci/slurm.sh env)"``).

Marked ``slurm``. Without a reachable cluster these tests skip with the reason, except under ``$CI``, where a
missing cluster is a failure: CI must exercise them.
"""
import json
import os
import shutil
import subprocess
import sys
import time

import cloudpickle
import pytest

from benchmarks.executors import submit_runs
from benchmarks.jobstatus import run_status, slurm_states
from benchmarks.runkey import RunKey
from avfmae.atomic import atomic_write_text
from benchmarks.store import ResultStore

pytestmark = pytest.mark.slurm

# the job functions below travel by value, so the jobs need not import this test module
cloudpickle.register_pickle_by_value(sys.modules[__name__])

START_HINT = 'start the local one: bash .ci/slurm.sh start && eval "$(bash .ci/slurm.sh env)"'


def _cluster_problem() -> str | None:
    if not shutil.which("sbatch"):
        return f"no SLURM: sbatch is not on PATH ({START_HINT})"
    try:
        p = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as e:
        return f"sinfo failed: {e} ({START_HINT})"
    if p.returncode != 0:
        conf = os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf")
        return f"sbatch is on PATH but no controller answers (SLURM_CONF={conf}): {p.stderr.strip()[:300]} ({START_HINT})"
    if not any(s.strip().rstrip("*~#") in ("idle", "mixed", "allocated") for s in p.stdout.split()):
        return f"the cluster has no usable node: sinfo says {p.stdout.split()} ({START_HINT})"
    return None


@pytest.fixture(scope="module")
def slurm_cluster():
    problem = _cluster_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI requires a running SLURM cluster: {problem}", pytrace=False)
        pytest.skip(problem)
    return True


def make_key(seed, protocol="paper"):
    return RunKey(model="test-model", weights_sha="00ff00ff", dataset="demo", dataset_revision="r1",
                  protocol=protocol, protocol_version="1", fold="1", seed=seed)


def quick(key):
    return {"scores": {"uar": 20.0 + key.seed},
            "env": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "SLURM_CPUS_PER_TASK", "SLURM_ARRAY_JOB_ID")}}


STEPS, STEP_S = 40, 0.25


def progressive(key):
    """A resumable 10 s run: its progress lives in its work dir; every (re)start resumes from there."""
    prog = ResultStore().work_dir(key) / "progress.json"
    state = json.loads(prog.read_text()) if prog.exists() else {"step": 0, "starts": []}
    state["starts"].append({"step": state["step"], "restart_count": os.environ.get("SLURM_RESTART_COUNT", "0")})
    atomic_write_text(prog, json.dumps(state))
    while state["step"] < STEPS:
        time.sleep(STEP_S)
        state["step"] += 1
        atomic_write_text(prog, json.dumps(state))
    return {"scores": {"uar": 42.0}, "starts": state["starts"]}


def _wait_states(job_ids, want="COMPLETED", timeout=30):
    """Accounting lags results by a second or two: poll."""
    end = time.time() + timeout
    while True:
        states = slurm_states(job_ids)
        if all(states.get(j) == want for j in job_ids) or time.time() > end:
            return states
        time.sleep(1)


def test_array_of_three_runs(slurm_cluster, tmp_path):
    store = ResultStore(tmp_path / "results")
    keys = [make_key(s) for s in range(3)]
    handles = submit_runs(quick, keys, "slurm", store=store, folder=tmp_path / "logs", name="ci-array",
                          resources={"cpus_per_task": 1, "timeout_min": 5}, array_parallelism=3)
    ids = [h.job_id for h in handles]
    assert len({i.split("_")[0] for i in ids}) == 1 and all("_" in i for i in ids), ids  # one array
    for k, h in zip(keys, handles):
        rec = h.result(timeout=90)
        assert rec["scores"] == {"uar": 20.0 + k.seed}
        assert rec["env"]["OMP_NUM_THREADS"] == rec["env"]["SLURM_CPUS_PER_TASK"] == "1"
        assert store.is_done(k) and store.get(k)["job"]["slurm_array_job_id"] == ids[0].split("_")[0]
    states = _wait_states(ids)
    assert all(states.get(i) == "COMPLETED" for i in ids), states
    statuses = run_status(keys, store, tmp_path / "logs")
    assert [s.state for s in statuses] == ["done"] * 3
    assert [s.job_id for s in statuses] == ids and all(os.path.exists(s.stdout) for s in statuses)

    # resubmitting the same grid submits nothing: every key is done
    again = submit_runs(quick, keys, "slurm", store=store, folder=tmp_path / "logs")
    assert [h.executor for h in again] == ["store"] * 3 and all(h.job_id is None for h in again)


@pytest.mark.parametrize("how", ["scontrol-requeue", "submitit-checkpoint"])
def test_requeued_job_resumes_and_stores_once(slurm_cluster, tmp_path, how):
    """``scontrol requeue`` restarts the job from its original submission; USR2 (what SLURM sends before a
    timeout or preemption) makes submitit call ``RunJob.checkpoint`` and requeue that. Either way the run
    resumes from its work dir and exactly one result lands in the store."""
    store = ResultStore(tmp_path / "results")
    key = make_key(7, protocol="linear")
    [h] = submit_runs(progressive, [key], "slurm", store=store, folder=tmp_path / "logs", name="ci-requeue",
                      resources={"cpus_per_task": 1, "timeout_min": 5})
    prog = store.work_dir(key) / "progress.json"
    end = time.time() + 60
    while not (prog.exists() and json.loads(prog.read_text())["step"] >= 4):
        assert time.time() < end, f"job {h.job_id} did not start: {slurm_states([h.job_id])}"
        time.sleep(0.2)
    cmd = ["scontrol", "requeue", h.job_id] if how == "scontrol-requeue" else ["scancel", "--signal=USR2", h.job_id]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=30)

    rec = h.result(timeout=120)
    starts = rec["starts"]
    assert len(starts) == 2, starts
    assert starts[0] == {"step": 0, "restart_count": "0"}
    assert starts[1]["restart_count"] == "1" and 4 <= starts[1]["step"] < STEPS, starts  # resumed, not redone
    assert rec["job"]["slurm_restart_count"] == "1"
    files = [p for p in store.root.rglob("*.json")]
    assert files == [store.path(key)], files  # exactly one result, no failure record, no temp file
    assert _wait_states([h.job_id]).get(h.job_id) == "COMPLETED"
    assert [s.state for s in run_status([key], store, tmp_path / "logs")] == ["done"]
    if how == "submitit-checkpoint":
        # the requeued submission is what RunJob.checkpoint returned: the RunKey and nothing else
        with open(h.job.paths.submitted_pickle, "rb") as f:
            delayed = cloudpickle.load(f)
        assert delayed.args == (key,) and delayed.kwargs == {}
        assert set(vars(delayed.function)) == {"fn", "store_root"}  # no run state rides along
        assert delayed.function.fn.__name__ == "progressive" and delayed.function.store_root == str(store.root)
        assert "timed-out" in h.job.paths.stderr.read_text() or "preempted" in h.job.paths.stderr.read_text()
