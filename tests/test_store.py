"""RunKey identity and the result store: atomic writes, corrupt files, concurrent writers."""
import json
import logging
import multiprocessing as mp
import os

import pytest

from benchmarks.recipe import Recipe
from benchmarks.runkey import RunKey
from benchmarks.store import ResultStore, default_root


def make_key(**kw):
    base = dict(model="avfmae-tiny", weights_sha="ab12cd34ef56", dataset="demo", dataset_revision="3f2e1a9b8c7d",
                protocol="paper", protocol_version="1", fold=1, seed=0)
    base.update(kw)
    return RunKey(**base)


# ----------------------------------------------------------------------------------------------- RunKey
def test_runkey_name_and_golden_signature():
    key = make_key()
    assert key.name == "avfmae-tiny@ab12cd/demo@3f2e1a/paper-v1/fold1/seed0"
    assert key.fold == "1"
    # golden: a change here changes every stored file name; bump it only on purpose (last: the typed recipe and
    # the config hash replaced the overrides dict, issue #9). It is sha256 of the canonical JSON below, [:12]
    # (computed with hashlib outside the code under test).
    assert key.canonical_json() == (
        '{"config_hash":"","dataset":"demo","dataset_revision":"3f2e1a9b8c7d","fold":"1","model":"avfmae-tiny",'
        '"protocol":"paper","protocol_version":"1","recipe":{},"seed":0,"weights_sha":"ab12cd34ef56"}')
    assert key.signature == "db1142dd87a6"
    assert len(key.signature) == 12


def test_runkey_recipe_sorted_hashable_and_named():
    a = make_key(recipe={"stage3.blr": 0.001, "epochs": 3, "arch.taps": [1, 2]}, config_hash="9c0f3e21aa00")
    b = make_key(recipe=Recipe(stage3=(("epochs", 3), ("blr", 0.001)), arch={"taps": (1, 2)}),
                 config_hash="9c0f3e21aa00")
    assert a == b and hash(a) == hash(b) and a.signature == b.signature
    assert a.recipe.stage3 == (("blr", 0.001), ("epochs", 3)) and a.recipe.arch == (("taps", (1, 2)),)
    assert a.name.endswith("/seed0/cfg=9c0f3e,arch.taps=1+2,stage3.blr=0.001,stage3.epochs=3")
    assert a.signature != make_key().signature
    assert a.signature != a.replace(config_hash="000000000000").signature
    with pytest.raises(ValueError, match="JSON scalar"):
        make_key(recipe={"x": {"nested": 1}})
    with pytest.raises(ValueError, match="stages"):
        make_key(recipe={"stages": "2+3"})


def test_runkey_roundtrip_and_safety():
    key = make_key(model="weird name/x", fold="fold 2", recipe={"arch.a": True, "b": None, "stages": "1+3"})
    back = RunKey.from_dict(json.loads(json.dumps(key.to_dict())))
    assert back == key and back.signature == key.signature
    for part in key.name.split("/"):
        assert part and all(c.isalnum() or c in "._=,+-@" for c in part), part
    assert "/" not in key.slug
    assert key.replace(seed=3).seed == 3 and key.replace(seed=3).signature != key.signature
    with pytest.raises(ValueError, match="unknown fields"):
        RunKey.from_dict({**key.to_dict(), "extra": 1})


# ----------------------------------------------------------------------------------------------- store basics
def test_put_get_layout_and_provenance(tmp_path):
    store = ResultStore(tmp_path / "results")
    key = make_key()
    assert not store.is_done(key) and store.get(key) is None and store.status(key) == "missing"
    path = store.put(key, {"scores": {"uar": 61.5, "war": float("nan")}, "confusion": [[1, 0], [0, 1]],
                           "timings": {"train_s": 3.0}, "best_epoch": 7})
    assert path == tmp_path / "results" / "demo" / "avfmae-tiny" / f"{key.signature}.json"
    assert store.is_done(key) and store.status(key) == "done"
    rec = store.get(key)
    assert rec["key"] == key and rec["name"] == key.name
    assert rec["scores"] == {"uar": 61.5, "war": None}  # NaN stored as null (strict JSON)
    assert rec["best_epoch"] == 7 and rec["confusion"] == [[1, 0], [0, 1]]
    for field in ("versions", "git", "host", "created_at", "timings", "job"):
        assert field in rec
    assert rec["versions"]["python"] and "numpy" in rec["versions"]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind
    json.loads(path.read_text())  # plain JSON on disk
    assert store.work_dir(key) == tmp_path / "work" / key.signature and store.work_dir(key).is_dir()


def test_default_root_env(monkeypatch, tmp_path):
    monkeypatch.setenv("AVF_RESULTS_DIR", str(tmp_path / "r"))
    assert default_root() == tmp_path / "r" and ResultStore().root == tmp_path / "r"
    monkeypatch.delenv("AVF_RESULTS_DIR")
    assert default_root().parts[-2:] == ("runs", "results")


def test_put_rejects_results_without_scores(tmp_path):
    with pytest.raises(ValueError, match="scores"):
        ResultStore(tmp_path).put(make_key(), {"uar": 1.0})


def test_failure_record_and_later_success(tmp_path):
    store = ResultStore(tmp_path)
    key = make_key()
    try:
        raise RuntimeError("boom in fold 1")
    except RuntimeError as e:
        store.put_failure(key, e)
    assert store.status(key) == "failed"
    assert "boom in fold 1" in store.failure(key)["error"]
    store.put(key, {"scores": {"uar": 1.0}})
    assert store.status(key) == "done" and store.failure(key) is None


# ----------------------------------------------------------------------------------------------- corrupt files
@pytest.mark.parametrize("content", ['{"key": {"model": "avfmae-tiny", "weights_sha"', "", "[1, 2]",
                                     '{"scores": {"uar": 1}}'])
def test_corrupt_file_is_reported_and_not_done(tmp_path, caplog, content):
    store = ResultStore(tmp_path)
    good, bad = make_key(seed=1), make_key(seed=2)
    store.put(good, {"scores": {"uar": 50.0}})
    path = store.path(bad)
    path.write_text(content)
    with caplog.at_level(logging.WARNING, logger="benchmarks.store"):
        assert not store.is_done(bad)
        results = list(store.iter_results())
    assert [r["key"] for r in results] == [good]
    assert any(p.path == path for p in store.problems)
    assert str(path) in caplog.text
    _, problems = store.scan()
    assert [p.path for p in problems] == [path]


def test_hand_edited_key_is_reported(tmp_path):
    store = ResultStore(tmp_path)
    key = make_key()
    path = store.put(key, {"scores": {"uar": 50.0}})
    rec = json.loads(path.read_text())
    rec["key"]["seed"] = 5  # the file name no longer matches its key
    path.write_text(json.dumps(rec))
    assert not store.is_done(key)
    assert "signature" in store.problems[-1].reason


def test_iter_results_filters(tmp_path):
    store = ResultStore(tmp_path)
    keys = [make_key(dataset=d, fold=f, seed=s) for d in ("demo", "mafw-11") for f in (1, 2) for s in (0, 1)]
    for i, k in enumerate(keys):
        store.put(k, {"scores": {"uar": float(i)}})
    assert len(list(store.iter_results())) == 8
    assert {r["key"].dataset for r in store.iter_results(dataset="mafw-11")} == {"mafw-11"}
    assert len(list(store.iter_results(dataset="demo", fold=[1]))) == 2
    assert len(list(store.iter_results(seed=1, where=lambda r: r["scores"]["uar"] > 3))) == 2
    assert list(store.iter_results(dataset="absent")) == []
    with pytest.raises(TypeError, match="unknown filters"):
        list(store.iter_results(colour="red"))
    assert list(ResultStore(tmp_path / "nothing").iter_results()) == []


# ----------------------------------------------------------------------------------------------- concurrency
def _writer(root, wid, n):
    store = ResultStore(root)
    key = make_key()
    blob = "x" * 200_000  # large enough that a non-atomic write would be seen half-done
    for i in range(n):
        store.put(key, {"scores": {"uar": float(wid), "war": float(i)}, "blob": blob, "writer": wid})


def _reader(root, stop, bad):
    store = ResultStore(root)
    key = make_key()
    path = store.path(key)
    while not stop.is_set():
        try:
            text = path.read_text()
        except FileNotFoundError:
            continue
        try:
            rec = json.loads(text)
            assert rec["scores"]["uar"] == rec["writer"]
        except Exception:  # noqa: BLE001
            bad.value += 1


def test_concurrent_writers_never_corrupt(tmp_path):
    ctx = mp.get_context("fork")
    stop, bad = ctx.Event(), ctx.Value("i", 0)
    reader = ctx.Process(target=_reader, args=(tmp_path, stop, bad))
    reader.start()
    writers = [ctx.Process(target=_writer, args=(tmp_path, w, 25)) for w in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(120)
        assert w.exitcode == 0
    stop.set()
    reader.join(30)
    assert bad.value == 0
    store = ResultStore(tmp_path)
    rec = store.get(make_key())
    assert rec is not None and rec["writer"] in range(4) and rec["scores"]["war"] == 24.0
    leftovers = [p.name for p in store.path(make_key()).parent.iterdir()]
    assert leftovers == [store.path(make_key()).name], leftovers
    assert not store.problems
    assert os.path.getsize(store.path(make_key())) > 200_000


def test_a_run_with_other_runtime_fields_finds_the_stored_result(tmp_path, caplog):
    """The identity leaves out the runtime fields (progress, threads, memory switches; test_planner), so a command
    re-run with `--set progress=true` must find the result stored by the `progress=false` run: done, not missing,
    and no 'signature collision' warning."""
    store = ResultStore(tmp_path / "results")
    quiet = make_key(recipe={"progress": False, "num_workers": 3, "epochs": 2})
    loud = make_key(recipe={"progress": True, "epochs": 2})
    other = make_key(recipe={"epochs": 3})
    assert quiet != loud and quiet.signature == loud.signature != other.signature
    store.put(quiet, {"scores": {"uar": 50.0}})
    with caplog.at_level(logging.WARNING):
        assert store.status(loud) == "done" and store.get(loud)["scores"] == {"uar": 50.0}
        assert store.status(other) == "missing"
    assert store.problems == [] and "collision" not in caplog.text
    store.put(loud, {"scores": {"uar": 51.0}, "key": quiet})   # the carried key is the same run


def test_a_result_stored_under_the_weights_path_signature_still_counts(tmp_path):
    """Results stored when the weights path was part of the identity (the signature over the canonical JSON with
    the recipe's `weights`, computed here with hashlib) are still found, listed and not reported as problems."""
    import hashlib

    key = make_key(recipe={"weights": "ckpts/ft.safetensors", "progress": False}, config_hash="c0ffee000000")
    d = key.to_dict()
    d["recipe"] = {"weights": "ckpts/ft.safetensors"}       # the old identity: runtime fields out, path in
    old = hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]
    assert old != key.signature
    store = ResultStore(tmp_path / "results")
    path = store.path(key).with_name(f"{old}.json")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"key": key.to_dict(), "scores": {"uar": 12.5}}))
    assert store.status(key) == "done" and store.get(key)["scores"] == {"uar": 12.5}
    assert [r["scores"] for r in store.iter_results()] == [{"uar": 12.5}] and store.problems == []
    # the same file named by another path, another fold: one leaderboard row over both folds
    from benchmarks.leaderboard_rows import collect

    fold2 = make_key(fold=2, recipe={"weights": "/abs/ckpts/ft.safetensors"}, config_hash="c0ffee000000")
    store.put(fold2, {"scores": {"uar": 37.5}})
    rows, problems = collect(store)
    assert problems == [] and len(rows) == 1 and sorted(rows[0].runs) == [("1", 0), ("2", 0)]


def test_an_eval_run_with_another_batch_size_is_the_same_run(tmp_path):
    """The eval protocol trains nothing: its batch size says how the test runs, not what it computes (its config
    hash leaves it out), so `--set batch_size=4` finds the result of batch_size=8; a result stored before (under
    the signature with the batch size, computed here with hashlib) is found by the same command. A training
    protocol keeps the batch size in the identity."""
    import hashlib

    eight = make_key(protocol="eval", recipe={"stage3.batch_size": 8}, config_hash="e0e0e0e0e0e0")
    four = make_key(protocol="eval", recipe={"stage3.batch_size": 4}, config_hash="e0e0e0e0e0e0")
    assert eight.signature == four.signature == make_key(protocol="eval", config_hash="e0e0e0e0e0e0").signature
    assert make_key(recipe={"stage3.batch_size": 8}).signature != make_key(recipe={"stage3.batch_size": 4}).signature
    d = eight.to_dict()
    old = hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]
    store = ResultStore(tmp_path / "results")
    path = store.path(eight).with_name(f"{old}.json")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"key": eight.to_dict(), "scores": {"uar": 20.0}}))
    assert store.status(eight) == "done" and store.get(eight)["scores"] == {"uar": 20.0} and store.problems == []
    fresh = ResultStore(tmp_path / "fresh")
    fresh.put(eight, {"scores": {"uar": 21.0}})
    assert fresh.status(four) == "done" and fresh.get(four)["scores"] == {"uar": 21.0} and fresh.problems == []
