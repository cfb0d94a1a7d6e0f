"""Stores that cannot be written: found before any training, named, and never hiding the run's own error.

As root, chmod does not stop a write, so these tests make folders unwritable in a way that fails for root too: the
folder lies under a regular file (every create there fails with ENOTDIR). A chmod test runs for other users.
"""
import os

import pytest

from benchmarks import leaderboard, run
from benchmarks.preflight import NotWritable, check_writable, writable_problem
from benchmarks.runjob import RunJob
from benchmarks.runkey import RunKey
from benchmarks.store import ResultStore
from benchmark_fixtures import TINY_RUN, tiny_demo, use_env


def make_key(seed=0):
    return RunKey(model="test-model", weights_sha="00ff00ff", dataset="demo", dataset_revision="r1",
                  protocol="paper", protocol_version="1", fold="1", seed=seed)


def blocked(tmp_path, name="blocker"):
    """A folder path no one (root included) can create: it lies under a regular file."""
    f = tmp_path / name
    f.write_text("a file, not a folder\n")
    return f / "sub"


def test_writable_problem_really_fails_as_root(tmp_path):
    assert writable_problem(tmp_path / "fresh" / "deep") is None
    assert (tmp_path / "fresh" / "deep").is_dir() and not list((tmp_path / "fresh" / "deep").iterdir())
    assert writable_problem(blocked(tmp_path)) is not None


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_writable_problem_chmod(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        assert "Permission denied" in writable_problem(d)
    finally:
        d.chmod(0o700)


def test_check_writable_names_each_folder_and_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("AVF_ZOO_DIR", str(tmp_path / "zoo"))
    check_writable(ResultStore(tmp_path / "runs" / "results"))     # all fine
    with pytest.raises(NotWritable) as e:
        check_writable(ResultStore(blocked(tmp_path) / "results"))
    msg = str(e.value)
    assert f"result store {blocked(tmp_path) / 'results'} is not writable" in msg
    assert "--results" in msg and "Nothing was trained" in msg
    monkeypatch.setenv("AVF_ZOO_DIR", str(blocked(tmp_path, "zoofile")))
    with pytest.raises(NotWritable, match=r"zoo folder \(weight tags\) .*zoofile/sub is not writable.*AVF_ZOO_DIR"):
        check_writable(ResultStore(tmp_path / "runs" / "results"))


def test_run_refuses_before_training_when_the_store_is_not_writable(tmp_path, monkeypatch, capsys):
    use_env(monkeypatch, tmp_path)
    tiny_demo(tmp_path / "data")
    trained = []
    monkeypatch.setattr("benchmarks.evaluate.evaluate_run", lambda key: trained.append(key))
    results = blocked(tmp_path) / "results"
    code = run.main(["--model", "avfmae-micro", "--suite", "demo", "--folds", "fold1", "--executor", "inline",
                     "--results", str(results)] + TINY_RUN)
    err = capsys.readouterr().err
    assert code == 2 and trained == []
    assert f"the result store {results} is not writable" in err and "Traceback" not in err


def test_evaluate_run_checks_before_anything_else(tmp_path, monkeypatch):
    from benchmarks.evaluate import evaluate_run

    monkeypatch.setenv("AVF_RESULTS_DIR", str(blocked(tmp_path) / "results"))
    with pytest.raises(NotWritable, match="result store .* is not writable"):
        evaluate_run(make_key())   # the key's dataset revision is never even looked at


def failing(key):
    raise ValueError("the run's own error: bad label 9 in demo/train.tsv:4")


def test_unwritable_failure_record_keeps_the_original_error(tmp_path, capsys):
    store = ResultStore(tmp_path / "results")
    key = make_key()
    store.root.mkdir(parents=True)
    (store.root / "demo").write_text("a file where the dataset folder should be\n")   # records cannot be written
    with pytest.raises(ValueError, match="the run's own error") as e:
        RunJob(failing, store.root)(key)
    assert any("failure record could not be written" in n for n in getattr(e.value, "__notes__", []))
    assert "could not be written" in capsys.readouterr().err


def test_leaderboard_rebuild_in_an_unwritable_folder_is_a_message(tmp_path, capsys):
    store = ResultStore(tmp_path / "runs" / "results")
    store.put(make_key(), {"scores": {"uar": 50.0}})
    out = blocked(tmp_path)
    assert leaderboard.main(["build", "--results", str(store.root), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write the leaderboards in {out}" in err and "Traceback" not in err
    (tmp_path / "runs" / "leaderboards").write_text("a file where the leaderboards go\n")
    assert run._rebuild(store) is False
    assert "the leaderboards could not be written" in capsys.readouterr().err
