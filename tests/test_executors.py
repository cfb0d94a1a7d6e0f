"""Executors without a cluster: inline, submitit's LocalExecutor, the job wrapper, status, cluster profiles."""
import json
import os
import pickle
import sys
import time
from pathlib import Path

import cloudpickle
import pytest

from benchmarks import cluster as C
from benchmarks import executors as E
from benchmarks import jobstatus as S
from benchmarks import runhandle as H
from benchmarks import runjob as J
from benchmarks.runkey import RunKey
from benchmarks.store import ResultStore

# submitit pickles the job function; by value, so the subprocesses need not import this test module
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def make_key(seed=0, **kw):
    base = dict(model="test-model", weights_sha="00ff00ff", dataset="demo", dataset_revision="r1",
                protocol="paper", protocol_version="1", fold="1", seed=seed)
    base.update(kw)
    return RunKey(**base)


def trivial(key):
    """Counts its calls in the run's work dir, fails for seed 13."""
    work = ResultStore().work_dir(key)
    with open(work / "calls", "a") as f:
        f.write(f"{os.getpid()}\n")
    if key.seed == 13:
        raise ValueError(f"unlucky seed in {key.name}")
    started = time.time()
    time.sleep(0.3)
    return {"scores": {"uar": 10.0 + key.seed}, "pid": os.getpid(), "started": started, "ended": time.time()}


def calls(store, key):
    path = store.work_dir(key) / "calls"
    return len(path.read_text().split()) if path.exists() else 0


# ----------------------------------------------------------------------------------------------- choosing
def test_resolve_executor(monkeypatch):
    monkeypatch.setattr(E.shutil, "which", lambda name: "/usr/bin/sbatch" if name == "sbatch" else None)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setattr(E, "cluster_answers", lambda: True)
    assert E.resolve_executor("auto") == "slurm"
    monkeypatch.setattr(E, "cluster_answers", lambda: False)  # a slurm client with no cluster behind it
    assert E.resolve_executor("auto") == "inline"
    monkeypatch.setattr(E, "cluster_answers", lambda: True)
    monkeypatch.setenv("SLURM_JOB_ID", "12")  # already inside an allocation: run there
    assert E.resolve_executor("auto") == "inline"
    monkeypatch.delenv("SLURM_JOB_ID")
    monkeypatch.setattr(E.shutil, "which", lambda name: None)
    assert E.resolve_executor("auto") == "inline"
    assert E.resolve_executor("local") == "local"
    with pytest.raises(ValueError, match="executor must be one of"):
        E.resolve_executor("kubernetes")


# ----------------------------------------------------------------------------------------------- inline
def test_inline_captures_failures_and_continues(tmp_path):
    store = ResultStore(tmp_path / "results")
    keys = [make_key(0), make_key(13), make_key(2)]
    handles = E.submit_runs(trivial, keys, "inline", store=store)
    assert [h.key for h in handles] == keys
    assert [h.state for h in handles] == ["DONE", "FAILED", "DONE"]
    assert handles[0].result()["scores"] == {"uar": 10.0}
    assert handles[2].result()["key"] == keys[2]
    assert isinstance(handles[1].exception(), ValueError)
    with pytest.raises(ValueError, match="unlucky"):
        handles[1].result()
    assert store.status(keys[1]) == "failed" and "unlucky seed" in store.failure(keys[1])["error"]
    rec = store.get(keys[0])
    assert rec["pid"] == os.getpid() and rec["timings"]["wall_s"] >= 0
    assert os.environ.get("AVF_RESULTS_DIR") != str(store.root)  # restored after the run

    # resubmitting: done keys are not run again, the failed one is retried
    again = E.submit_runs(trivial, keys + [keys[0]], "inline", store=store)
    assert len(again) == 4 and again[0] is again[3]
    assert [h.executor for h in again[:3]] == ["store", "inline", "store"]
    assert calls(store, keys[0]) == 1 and calls(store, keys[1]) == 2


def test_runjob_checks_store_first_and_checkpoint_carries_only_the_key(tmp_path):
    store = ResultStore(tmp_path / "results")
    key = make_key(5)
    job = J.RunJob(trivial, store.root)
    first = job(key)
    second = job(key)  # a duplicate or a requeue after success: returns the stored result
    assert first["scores"] == second["scores"] and calls(store, key) == 1
    delayed = job.checkpoint(key)
    assert delayed.args == (key,) and delayed.kwargs == {}
    assert isinstance(delayed.function, J.RunJob) and delayed.function is not job
    assert vars(delayed.function) == {"fn": trivial, "store_root": str(store.root)}
    assert len(cloudpickle.dumps(delayed)) < 20_000  # no model, data or results inside


def test_fn_that_stores_itself(tmp_path):
    store = ResultStore(tmp_path / "results")

    def writes_itself(key):
        ResultStore().put(key, {"scores": {"war": 1.0}})  # $AVF_RESULTS_DIR points at the submitting store

    def forgets(key):
        return None

    [h] = E.submit_runs(writes_itself, [make_key(1)], "inline", store=store)
    assert h.result()["scores"] == {"war": 1.0}
    [h] = E.submit_runs(forgets, [make_key(2)], "inline", store=store)
    assert h.state == "FAILED" and "no valid result" in str(h.exception())


# ----------------------------------------------------------------------------------------------- local
def test_local_executor_bounded_parallelism(tmp_path):
    store = ResultStore(tmp_path / "results")
    keys = [make_key(s) for s in (0, 1, 2, 13)]
    folder = tmp_path / "logs"
    t0 = time.time()
    handles = E.submit_runs(trivial, keys, "local", store=store, folder=folder, array_parallelism=2,
                            resources={"timeout_min": 5})
    H.wait(handles, timeout=120)
    assert time.time() - t0 < 120
    assert [h.executor for h in handles] == ["local"] * 4
    for k, h in zip(keys[:3], handles[:3]):
        assert h.result()["scores"] == {"uar": 10.0 + k.seed}
        assert store.get(k)["pid"] != os.getpid()  # ran in a subprocess
    with pytest.raises(Exception, match="unlucky seed"):
        handles[3].result()
    records = [json.loads(line) for line in (folder / "jobs.jsonl").read_text().splitlines()]
    assert sorted(r["signature"] for r in records) == sorted(k.signature for k in keys)
    assert all(r["executor"] == "local" and r["job_id"] and Path(r["stdout"]).name.endswith("_log.out")
               for r in records)
    statuses = S.run_status(keys + [make_key(99)], store, folder)
    assert [s.state for s in statuses] == ["done", "done", "done", "failed", "missing"]
    assert "unlucky seed" in statuses[3].detail and statuses[3].stderr
    assert S.summarize(statuses) == {"done": 3, "running": 0, "pending": 0, "failed": 1, "missing": 1}
    # never more than 2 at once: no instant lies inside 2 other runs' [start, end]
    spans = [(store.get(k)["started"], store.get(k)["ended"]) for k in keys[:3]]
    for t in [s for s, _ in spans]:
        assert sum(a <= t <= b for a, b in spans) <= 2


# ----------------------------------------------------------------------------------------------- status
def test_status_maps_scheduler_states(tmp_path, monkeypatch):
    store = ResultStore(tmp_path / "results")
    folder = tmp_path / "grid"
    folder.mkdir()
    keys = [make_key(s) for s in range(6)]
    store.put(keys[0], {"scores": {"uar": 1.0}})
    lines = [{"job_id": f"7_{i}", "signature": k.signature, "executor": "slurm", "stdout": f"/l/7_{i}.out",
              "stderr": f"/l/7_{i}.err", "submitted_at": "2026-01-01T00:00:00"} for i, k in enumerate(keys[:5])]
    lines.append({"job_id": "6_4", "signature": keys[4].signature, "executor": "slurm", "submitted_at": "2025"})
    (folder / "jobs.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\nnot json\n")
    fake = {"7_0": "COMPLETED", "7_1": "PENDING", "7_2": "RUNNING", "7_3": "TIMEOUT"}
    monkeypatch.setattr(S, "slurm_states", lambda ids: {i: fake[i] for i in ids if i in fake})
    st = {s.key.seed: s for s in S.run_status(keys, store, folder)}
    assert [st[i].state for i in range(6)] == ["done", "pending", "running", "failed", "missing", "missing"]
    assert st[1].job_id == "7_1" and st[1].stdout == "/l/7_1.out" and st[1].scheduler_state == "PENDING"
    assert "timeout" in st[3].detail
    assert st[4].job_id == "7_4"  # the latest record wins
    assert st[5].job_id is None


# ----------------------------------------------------------------------------------------------- cluster profiles
def test_builtin_profile_and_submitit_parameters(monkeypatch):
    monkeypatch.delenv("AVF_CLUSTER_PROFILE", raising=False)
    prof = C.load_profile()
    assert prof.name == "default"
    res = prof.resources("paper")
    assert res.timeout_min == 1440 and res.gpus_per_node == 0
    params = res.merged(partition="debug", cpus_per_task=2).to_submitit("slurm")
    assert params["slurm_partition"] == "debug" and params["cpus_per_task"] == 2
    assert params["slurm_setup"][0] == "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}"
    assert "slurm_partition" not in res.to_submitit("local") and "cpus_per_task" not in res.to_submitit("local")


def test_profile_file_toml_and_json(tmp_path, monkeypatch):
    toml = tmp_path / "clusters.toml"
    toml.write_text("""
default = "big"
[profiles.big]
partition = "gpu"
account = "affect"
gpus_per_node = 1
cpus_per_task = 10
mem_gb = 64
setup = ["module load cuda"]
additional = { requeue = true }
[profiles.big.protocols.paper]
gpus_per_node = 4
timeout_min = 1440
[profiles.small]
cpus_per_task = 2
""")
    monkeypatch.setenv("AVF_CLUSTER_PROFILE", str(toml))
    prof = C.load_profile()
    assert prof.name == "big" and prof.source == str(toml)
    paper = prof.resources("paper")
    assert (paper.partition, paper.gpus_per_node, paper.cpus_per_task, paper.timeout_min) == ("gpu", 4, 10, 1440)
    assert prof.resources("linear").gpus_per_node == 1
    params = paper.to_submitit("slurm")
    assert params["slurm_account"] == "affect" and params["slurm_additional_parameters"] == {"requeue": True}
    assert params["slurm_setup"][1:] == ["module load cuda"] and params["mem_gb"] == 64
    monkeypatch.setenv("AVF_CLUSTER", "small")
    assert C.load_profile().resources().cpus_per_task == 2
    js = tmp_path / "p.json"
    js.write_text(json.dumps({"partition": "a100", "protocols": {"linear": {"timeout_min": 30}}}))
    prof = C.load_profile(js)
    assert prof.name == "p" and prof.resources("linear").timeout_min == 30


def test_profile_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("partition = 'x'\ngpu = 1\n")
    with pytest.raises(ValueError, match=r"bad\.toml.*unknown keys \['gpu'\]"):
        C.load_profile(bad)
    bad.write_text("[protocols.paper]\ncpus_per_task = 0\n")
    with pytest.raises(ValueError, match="bad.toml"):
        C.load_profile(bad)
    with pytest.raises(FileNotFoundError):
        C.load_profile(tmp_path / "absent.toml")


def test_local_result_pickle_roundtrip_is_plain(tmp_path):
    # run_status reads LocalExecutor result pickles; make sure an "error" outcome is reported, not raised
    rec = {"job_id": "999999999", "folder": str(tmp_path)}
    with open(tmp_path / "999999999_0_result.pkl", "wb") as f:
        pickle.dump(("error", "Traceback...\nValueError: nope"), f)
    assert S._local_state(rec) == ("failed", "ValueError: nope")
    (tmp_path / "999999999_0_result.pkl").write_bytes(b"garbage")
    assert S._local_state(rec)[0] == "failed"


# ----------------------------------------------------------------------------------------------- one run at a time
def slow_counted(key):
    """Records each training in the work dir, then takes long enough for a second process to arrive."""
    work = ResultStore().work_dir(key)
    with open(work / "trained", "a") as f:
        f.write(f"{os.getpid()}\n")
    time.sleep(1.5)
    return {"scores": {"uar": 1.0}, "pid": os.getpid()}


def _run_in_child(root, key, queue):
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rec = J.RunJob(slow_counted, root)(key)
    queue.put((os.getpid(), rec["pid"], rec["created_at"], err.getvalue()))


def test_same_key_in_two_processes_trains_once_and_the_second_reuses(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    store = ResultStore(tmp_path / "results")
    key = make_key(5)
    queue = ctx.Queue()
    first = ctx.Process(target=_run_in_child, args=(str(store.root), key, queue))
    first.start()
    trained = store.work_dir(key) / "trained"
    deadline = time.time() + 30
    while not trained.exists() and time.time() < deadline:  # the first one holds the lock and trains
        time.sleep(0.02)
    second = ctx.Process(target=_run_in_child, args=(str(store.root), key, queue))
    second.start()
    outs = {}
    for _ in range(2):
        child, trainer, created, err = queue.get(timeout=60)
        outs[child] = (trainer, created, err)
    first.join(10)
    second.join(10)
    assert len(trained.read_text().split()) == 1                      # trained exactly once
    assert outs[first.pid][:2] == outs[second.pid][:2]                 # the second returns the first's result
    assert outs[second.pid][0] == first.pid
    assert "already running in another process" in outs[second.pid][2]
    assert f"(pid {first.pid})" in outs[second.pid][2]
    assert "reused the result of the other process" in outs[second.pid][2]


def test_non_zero_ranks_do_not_take_the_run_lock(tmp_path, monkeypatch):
    from avfmae.atomic import file_lock

    store = ResultStore(tmp_path / "results")
    key = make_key(6)
    with file_lock(store.work_dir(key) / J.RUN_LOCK):        # rank 0 (here: this test) holds the run
        monkeypatch.setenv("RANK", "1")
        monkeypatch.setenv("WORLD_SIZE", "2")
        assert not J.is_rank_zero()
        rec = J.RunJob(trivial, store.root)(key)            # would wait forever if it took the lock
        assert rec["scores"] == {"uar": 16.0}
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("SLURM_PROCID", "2")
    assert not J.is_rank_zero()
    monkeypatch.setenv("SLURM_PROCID", "0")
    assert J.is_rank_zero()


def test_profile_stage_tables_and_one_task_per_gpu():
    from benchmarks.cluster import Resources, parse_profile

    prof = parse_profile({"gpus_per_node": 1, "timeout_min": 60, "protocols": {"paper": {"timeout_min": 600}},
                          "stages": {"stage1": {"nodes": 2, "gpus_per_node": 4, "timeout_min": 2880},
                                     "stage3": {"gpus_per_node": 1}}}, source="site.toml")
    s1 = prof.resources("paper", stage="stage1")
    assert (s1.nodes, s1.gpus_per_node, s1.tasks_per_node, s1.timeout_min) == (2, 4, 4, 2880)
    s3 = prof.resources("paper", stage="stage3")
    assert (s3.nodes, s3.gpus_per_node, s3.tasks_per_node, s3.timeout_min) == (1, 1, 1, 600)
    # 4 GPUs and the default single task: one task per GPU is derived, not a run on cuda:0 only
    assert Resources(gpus_per_node=4).tasks_per_node == 4
    assert Resources(gpus_per_node=4).merged(gpus_per_node=2).tasks_per_node == 2
    with pytest.raises(ValueError, match="tasks_per_node = 2 with gpus_per_node = 4"):
        Resources(gpus_per_node=4, tasks_per_node=2)
    with pytest.raises(ValueError, match=r"site.toml: \[stages.stage9\]"):
        parse_profile({"stages": {"stage9": {"nodes": 2}}}, source="site.toml")
    with pytest.raises(ValueError, match=r"\[stages.stage1\].*unknown keys \['gpus'\]"):
        parse_profile({"stages": {"stage1": {"gpus": 2}}}, source="site.toml")


def two_rank_sum(key):
    """Joins the job's process group (gloo) and sums the ranks: 0 + 1 = 1 when both tasks form one group."""
    import torch
    from avfmae.train.distributed import all_reduce_sum, init_distributed

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    info = init_distributed("cpu", 1, 60)
    total = all_reduce_sum(info, torch.tensor([float(info.rank)]))
    return {"scores": {"uar": float(total.item())}, "world": info.world_size, "pid": os.getpid()}


def test_local_executor_two_tasks_train_as_one_group_and_rank0_stores(tmp_path):
    store = ResultStore(tmp_path / "results")
    key = make_key(5)
    [h] = E.submit_runs(two_rank_sum, [key], "local", store=store, folder=tmp_path / "logs",
                        resources={"timeout_min": 5, "tasks_per_node": 2})
    H.wait([h], timeout=180)
    rec = store.get(key)
    assert rec["scores"] == {"uar": 1.0} and rec["world"] == 2        # one group of 2, not 2 groups of 1
    assert h.result()["scores"] == {"uar": 1.0}
