"""What `benchmarks.run` says after a cancel or a failure: one short FAILED line with the log path, and the same
failed count as `benchmarks.status` (one source of truth: jobstatus.run_status)."""
import json

from benchmarks import jobstatus as S
from benchmarks import run as R
from benchmarks.plan import PlannedRun, RunPlan
from benchmarks.runkey import RunKey
from benchmarks.store import ResultStore

BAR = "".join(f"\rtrain epoch 1: {p:3d}%|{'#' * (p // 10):<10}| {p}/100 [00:0{p % 10}<00:10, 9.8it/s]"
              for p in range(0, 101, 2))
CANCEL = "slurmstepd: error: *** JOB 4242 ON node1 CANCELLED AT 2026-11-29T10:00:00 ***"


def make_key(seed=0):
    return RunKey(model="test-model", weights_sha="00ff00ff", dataset="demo", dataset_revision="r1",
                  protocol="paper", protocol_version="1", fold="1", seed=seed)


class FakeHandle:
    def __init__(self, key, exc, stderr, job_id="4242_0"):
        self.key, self._exc, self.stderr, self.job_id = key, exc, stderr, job_id

    def wait(self, timeout=None):
        pass

    def exception(self, timeout=None):
        return self._exc


def submitit_like_error():
    """The shape of submitit's UncompletedJobError for a cancelled job: its message embeds the whole stderr."""
    stderr = ("submitit INFO (2026-11-29 10:00:00) Starting with JobEnvironment(job_id=4242_0)\n" + BAR * 12 +
              "\n" + CANCEL + "\nsubmitit WARNING (2026-11-29 10:00:01) Bypassing signal SIGTERM\n")
    return RuntimeError("Job 4242_0 (task: 0) with path /x/4242_0_result.pkl\nhas not produced any output "
                        "(state: CANCELLED by 0)\nError stream produced:\n----------------------------------------\n"
                        + stderr)


def test_last_error_line_drops_progress_bars_and_prefers_the_error():
    err = submitit_like_error()
    assert len(str(err)) > 5000
    assert S.last_error_line(str(err)) == CANCEL
    tb = "Traceback (most recent call last):\n  File \"x.py\", line 3, in f\n    g()\nValueError: bad label 9\n"
    assert S.last_error_line(tb + BAR) == "ValueError: bad label 9"
    assert S.last_error_line("\n\n  just words  \n") == "just words"
    assert S.last_error_line("") == ""


def test_failed_line_is_short_names_the_log_and_leaves_a_record(tmp_path, capsys, monkeypatch):
    store = ResultStore(tmp_path / "results")
    key = make_key()
    log = tmp_path / "logs" / "4242_0_log.err"
    monkeypatch.setattr(R, "_rebuild", lambda store: None)
    assert R.finish([FakeHandle(key, submitit_like_error(), log)], store) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0] == f"FAILED {key.name}: {CANCEL} (log: {log})"
    assert len(err[0]) < 400
    # the cancel left a failure record, so the store, status and the next plan all say failed
    assert store.status(key) == "failed"
    assert CANCEL in store.failure(key)["error"]
    assert [s.state for s in S.run_status([key], store)] == ["failed"]
    R.print_plan(RunPlan([PlannedRun(key, store.status(key))]), "inline", store)
    assert "1 runs: 0 done, 1 failed before, 1 to run" in capsys.readouterr().out


def test_plan_counts_a_cancelled_job_as_failed_like_status(tmp_path, capsys, monkeypatch):
    """A job cancelled while nobody waited (--no-wait): no failure record, the scheduler says CANCELLED."""
    store = ResultStore(tmp_path / "results")
    key, running = make_key(0), make_key(1)
    folder = store.root.parent / "submitit" / "demo"
    folder.mkdir(parents=True)
    with open(folder / S.RECORDS, "w") as f:
        for k, jid in ((key, "77_0"), (running, "77_1")):
            f.write(json.dumps({"job_id": jid, "signature": k.signature, "name": k.name, "key": k.to_dict(),
                                "executor": "slurm", "folder": str(folder), "submitted_at": "2026"}) + "\n")
    monkeypatch.setattr(S, "slurm_states", lambda ids: {"77_0": "CANCELLED", "77_1": "RUNNING"})
    assert store.failure(key) is None and store.status(key) == "missing"
    assert [s.state for s in S.run_status([key, running], store)] == ["failed", "running"]
    the_plan = RunPlan([PlannedRun(key, store.status(key)), PlannedRun(running, store.status(running))])
    R.print_plan(the_plan, "slurm", store)
    out = capsys.readouterr().out
    assert "2 runs: 0 done, 1 failed before, 1 running or pending in jobs" in out
    assert "2 to run" in out


def test_a_multi_line_error_keeps_its_details_in_the_failed_line(tmp_path, capsys, monkeypatch):
    """A CheckpointError whose first line is a heading ('f does not fit M:') and whose next, indented lines name
    the keys: the FAILED line must carry those keys (an inline run has no log to look in)."""
    from avfmae.zoo.checkpoint import CheckpointError

    store = ResultStore(tmp_path / "results")
    exc = CheckpointError("w.safetensors does not fit AVFMAEClassifier:\n  missing (1): ['encoder.blocks.0.kv.weight']"
                          "\n  unexpected (1): ['extra.weight']")
    monkeypatch.setattr(R, "_rebuild", lambda store: None)
    assert R.finish([FakeHandle(make_key(), exc, None, job_id=None)], store) == 1
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert err.endswith("CheckpointError: w.safetensors does not fit AVFMAEClassifier: missing (1): "
                        "['encoder.blocks.0.kv.weight'] unexpected (1): ['extra.weight'] (log: inline)"), err
    # a traceback's own File lines are not a continuation; the last error wins as before
    tb = "Traceback (most recent call last):\n  File \"x.py\", line 3, in f\n    g()\nValueError: bad label 9\n" \
         "submitit WARNING (x) Bypassing signal SIGTERM\n"
    assert S.last_error_line(tb) == "ValueError: bad label 9"


def test_every_option_of_the_run_status_and_grid_commands_is_explained_with_its_default():
    """`--help`: each option has a text, and where it has a default (a value, or a behaviour when left out) the
    text says 'default'. --seeds had no text at all; --weights, --folds, --limit, --parallel, --results did not
    say what happens without them."""
    import argparse

    from benchmarks import grid, status

    for parser in (R.build_parser(), status.build_parser(), grid.build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction) or action.required:
                continue
            name = "/".join(action.option_strings) or action.dest
            assert action.help, f"{parser.prog} {name}: no help text"
            if isinstance(action, argparse._StoreTrueAction) or action.dest in ("name", "overrides", "models",
                                                                                "datasets", "cpu"):
                continue        # a switch, or the grid's own values replaced ('replace the grid's models')
            assert "default" in action.help.lower(), f"{parser.prog} {name}: help does not say its default"


def test_ctrl_c_ends_a_command_with_one_line_and_status_130():
    """A long command interrupted with Ctrl-C (a real SIGINT to the process) prints that it resumes when run again
    and exits 130, without a traceback (avfmae.cli.run_main, used by the long-running entry points)."""
    import subprocess
    import sys

    code = ("import os, signal\nfrom avfmae.cli import run_main\n"
            "def main():\n    os.kill(os.getpid(), signal.SIGINT)\n    return 0\nrun_main(main)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130
    assert "interrupted (Ctrl-C)" in done.stderr and "same command again" in done.stderr
    assert "Traceback" not in done.stderr
    ok = subprocess.run([sys.executable, "-c", "from avfmae.cli import run_main\nrun_main(lambda: 3)\n"],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 3 and ok.stderr == ""
