"""The eval protocol (issue #10 section 1): given weights scored without training, per-fold weights, head checks.

The reproduction test is the proof that eval scores what stage 3 scored: a stage-3 run of this suite exports its
selected model, and an eval run of that file on the same fold gives the very scores (and per-clip probabilities)
the stage-3 run stored. The expected values come from the training run, a different code path."""
import json
import shutil

import pytest

from benchmarks import run
from benchmarks.plan import plan
from benchmarks.recipe import RecipeError
from benchmarks.request import suite_request
from benchmarks.store import ResultStore
from benchmark_fixtures import tiny_demo, use_env

S3_RUN = ["--set", "stages=3", "--set", "epochs=2", "--set", "batch_size=8", "--set", "progress=false",
          "--set", "export_tag=evtest-s3"]
EVAL_RUN = ["--protocol", "eval", "--set", "batch_size=8", "--set", "progress=false"]
MODEL = "avfmae-micro"


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evalproto")
    mp = pytest.MonkeyPatch()
    use_env(mp, tmp)
    tiny_demo(tmp / "data")
    yield tmp
    mp.undo()


@pytest.fixture(scope="module")
def stage3_run(demo_env):
    """A stage-3 run of the demo suite on fold1 (random init, 2 epochs) that exports its selected model."""
    argv = ["--model", MODEL, "--suite", "demo", "--executor", "inline", "--folds", "fold1"] + S3_RUN
    assert run.main(argv) == 0
    store = ResultStore()
    (rec,) = [r for r in store.iter_results() if r["key"].protocol == "paper"]
    work = json.loads((store.work_dir(rec["key"], create=False) / "result.json").read_text())
    assert work["export"], "stage 3 exported nothing"
    return rec, work


def _fine_tuned(path, note: str = ""):
    """A whole avfmae-micro checkpoint with the demo set's head (planning opens eval weights); `note` goes into
    its metadata, so two notes make two files with their own sha256."""
    from safetensors.torch import save_file

    from avfmae import zoo
    from benchmarks.datasets import registry

    state = zoo.create_model(MODEL, num_classes=registry.get("demo").num_classes).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata={"note": note})
    return path


def _eval_records(store, **where):
    return [r for r in store.iter_results() if r["key"].protocol == "eval"
            and all(getattr(r["key"], k) == v for k, v in where.items())]


def test_eval_of_a_stage3_export_reproduces_its_stored_scores_exactly(demo_env, stage3_run):
    s3, s3_work = stage3_run
    argv = ["--model", MODEL, "--suite", "demo", "--executor", "inline", "--folds", "fold1",
            "--weights", "evtest-s3"] + EVAL_RUN
    assert run.main(argv) == 0
    store = ResultStore()
    (ev,) = _eval_records(store, recipe=suite_request("demo", MODEL, weights="evtest-s3", protocol="eval",
                                                      folds=["fold1"], items={"batch_size": 8, "progress": False}
                                                      ).recipes[0])
    assert ev["key"].weights_sha == s3_work["export"]["sha256"][:16]
    assert ev["key"].fold == s3["key"].fold == "fold1"
    assert ev["n_test"] == s3["n_test"] > 0
    assert ev["selected_epoch"] is None and ev["protocol"]["name"] == "eval"
    assert ev["scores"] == s3["scores"]                      # exactly: same views, same metric
    assert ev["confusion"] == s3["confusion"]
    ev_work = json.loads((store.work_dir(ev["key"], create=False) / "result.json").read_text())
    assert ev_work["views"] == s3_work["views"] == 4          # 2 temporal x 2 spatial
    assert ev_work["predictions"]["selected"] == s3_work["predictions"]["selected"]   # per clip, bit for bit
    assert set(ev["configs"]) == {"eval"}                      # nothing was trained


def test_per_fold_pattern_and_mapping_give_each_fold_its_own_sha(demo_env, stage3_run, tmp_path):
    from avfmae.zoo.weights import sha256_file

    _, s3_work = stage3_run
    src = s3_work["export"]["path"]
    ck = tmp_path / "ckpts"
    ck.mkdir()
    shutil.copy(src, ck / "m-fold1.safetensors")
    from safetensors.torch import load_file, save_file
    save_file(load_file(src), str(ck / "m-fold2.safetensors"), metadata={"copy": "fold2"})   # another sha
    want = {"fold1": sha256_file(ck / "m-fold1.safetensors")[:16], "fold2": sha256_file(ck / "m-fold2.safetensors")[:16]}
    assert want["fold1"] != want["fold2"]
    (tmp_path / "folds.tsv").write_text("# fold -> weights\nfold1\tckpts/m-fold1.safetensors\n"
                                        "fold2\tckpts/m-fold2.safetensors\n")
    (tmp_path / "folds.json").write_text(json.dumps({"fold1": str(ck / "m-fold1.safetensors"),
                                                     "fold2": "ckpts/m-fold2.safetensors"}))
    for ref in (str(ck / "m-{fold}.safetensors"), str(tmp_path / "folds.tsv"), str(tmp_path / "folds.json")):
        keys = plan(suite_request("demo", MODEL, weights=ref, protocol="eval", folds=["fold1", "fold2"]),
                    ResultStore()).keys
        assert {k.fold: k.weights_sha for k in keys} == want, ref
        assert len({k.config_hash for k in keys}) == 1          # one config hash, one table row over the folds


def test_a_missing_fold_file_is_a_plan_time_error_naming_fold_and_path(demo_env, tmp_path):
    (tmp_path / "m-fold1.safetensors").write_bytes(b"x")
    with pytest.raises(RecipeError, match=r"fold fold2.*" + str(tmp_path / "m-fold2.safetensors")):
        plan(suite_request("demo", MODEL, weights=str(tmp_path / "m-{fold}.safetensors"), protocol="eval",
                           folds=["fold1", "fold2"]), ResultStore())
    (tmp_path / "folds.tsv").write_text("fold1\tm-fold1.safetensors\n")
    with pytest.raises(RecipeError, match=r"fold2.*folds\.tsv|folds\.tsv.*fold2"):
        plan(suite_request("demo", MODEL, weights=str(tmp_path / "folds.tsv"), protocol="eval",
                           folds=["fold1", "fold2"]), ResultStore())


def test_eval_without_weights_is_a_plan_time_error(demo_env, capsys):
    with pytest.raises(RecipeError, match="scores given weights.*--weights"):
        plan(suite_request("demo", MODEL, protocol="eval"), ResultStore())
    assert run.main(["--model", MODEL, "--suite", "demo", "--executor", "inline", "--protocol", "eval"]) == 2
    assert "scores given weights" in capsys.readouterr().err


def test_eval_refuses_training_keys_but_takes_how_to_run(demo_env, tmp_path):
    w = _fine_tuned(tmp_path / "w.safetensors")
    for item in ({"epochs": 3}, {"stages": "1+3"}, {"stage1.epochs": 2}, {"probe.C": 1.0}):
        with pytest.raises(RecipeError, match="trains nothing"):
            plan(suite_request("demo", MODEL, weights=str(w), protocol="eval", items=item), ResultStore())
    keys = plan(suite_request("demo", MODEL, weights=str(w), protocol="eval", items={"num_workers": 3}),
                ResultStore()).keys
    assert keys and all(k.protocol == "eval" for k in keys)


def test_a_wrong_class_count_fails_before_any_clip_is_read(demo_env, tmp_path, monkeypatch):
    import torch
    from safetensors.torch import save_file

    from avfmae import zoo
    from avfmae.train import evaluate as ev
    from avfmae.train.config import stage_config
    from avfmae.zoo.checkpoint import CheckpointError
    from benchmarks.datasets import registry

    spec = registry.get("demo")
    wrong = spec.num_classes + 2
    f = tmp_path / "other-task.safetensors"
    save_file({k: v.contiguous() for k, v in zoo.create_model(MODEL, num_classes=wrong).state_dict().items()},
              str(f))

    def no_reading(*a, **k):
        raise AssertionError("a clip list was read before the head check")
    monkeypatch.setattr(ev, "load_entries", no_reading)
    cfg = stage_config("stage3", "cpu", model=MODEL, init=str(f), test=spec.split_source("fold1", "test"),
                       num_classes=spec.num_classes)
    with pytest.raises(CheckpointError) as e:
        ev.evaluate_weights(cfg, tmp_path / "work")
    msg = str(e.value)
    assert str(f) in msg and f"head has {wrong} classes" in msg and f"has {spec.num_classes}" in msg
    # a pre-trained checkpoint (no head) is named as such
    g = tmp_path / "backbone.safetensors"
    save_file({k: v.contiguous() for k, v in zoo.create_model(MODEL).state_dict().items() if not k.startswith("head.")},
              str(g))
    with pytest.raises(CheckpointError, match="no task head"):
        ev.evaluate_weights(cfg.replace(init=str(g)), tmp_path / "work")
    assert torch is not None


def test_a_fold_file_changed_after_planning_refuses_to_run(demo_env, tmp_path):
    from benchmarks.evaluate import resolve_key

    for f in ("fold1", "fold2"):
        _fine_tuned(tmp_path / f"m-{f}.safetensors", note=f)
    keys = plan(suite_request("demo", MODEL, weights=str(tmp_path / "m-{fold}.safetensors"), protocol="eval",
                              folds=["fold1", "fold2"]), ResultStore()).keys
    k1 = next(k for k in keys if k.fold == "fold1")
    resolved = resolve_key(k1, tmp_path / "work")
    assert resolved.configs["eval"].init == str(tmp_path / "m-fold1.safetensors")   # the fold's own file
    import os
    (tmp_path / "m-fold1.safetensors").write_bytes(b"another checkpoint")
    os.utime(tmp_path / "m-fold1.safetensors", ns=(1, 1))
    with pytest.raises(RecipeError, match="fold1.*changed since the run was planned"):
        resolve_key(k1, tmp_path / "work")


def test_unusable_weights_stop_the_command_when_it_is_planned(demo_env, tmp_path, monkeypatch, capsys):
    """A file that is not there, a pre-trained (headless) file, another task's head, a truncated file and a pickle
    that is not data-only: each is a planning error naming the file (and the fold, per fold), before any job; a
    missing file used to be a traceback, the others failed in every fold's job."""
    import torch
    from safetensors.torch import save_file

    from avfmae import zoo
    from benchmarks.datasets import registry

    classes = registry.get("demo").num_classes
    state = {k: v.contiguous() for k, v in zoo.create_model(MODEL, num_classes=classes).state_dict().items()}
    save_file(state, str(tmp_path / "good.safetensors"))
    save_file({k: v for k, v in state.items() if not k.startswith("head.")}, str(tmp_path / "backbone.safetensors"))
    other = zoo.create_model(MODEL, num_classes=classes + 3).state_dict()
    save_file({k: v.contiguous() for k, v in other.items()}, str(tmp_path / "other-task.safetensors"))
    (tmp_path / "cut.safetensors").write_bytes((tmp_path / "good.safetensors").read_bytes()[:500])
    torch.save({"model": state, "hook": print}, tmp_path / "code.pth")

    def refuse(*a, **k):
        raise AssertionError("nothing may be submitted after a planning error")
    monkeypatch.setattr("benchmarks.run.submit_runs", refuse)
    cases = {"absent.safetensors": "not a registered tag, not a file|not a file",
             "backbone.safetensors": "no task head", "other-task.safetensors": f"head has {classes + 3} classes.*"
             f"has {classes}", "cut.safetensors": "not a readable safetensors file", "code.pth": "refused to unpickle"}
    for name, why in cases.items():
        with pytest.raises(RecipeError, match=f"{name}.*({why})"):
            plan(suite_request("demo", MODEL, weights=str(tmp_path / name), protocol="eval"), ResultStore())
        assert run.main(["--model", MODEL, "--suite", "demo", "--executor", "inline", "--protocol", "eval",
                         "--weights", str(tmp_path / name)]) == 2
        assert name in capsys.readouterr().err
    # keys that do not fit the model (found on a meta-device model, before any job): named with the file
    first = next(k for k in state if k.startswith("encoder.blocks.0."))
    save_file({k: v for k, v in state.items() if k != first}, str(tmp_path / "lacks.safetensors"))
    save_file({**state, "extra.weight": torch.zeros(3)}, str(tmp_path / "extra.safetensors"))
    widened = {k: (torch.zeros(*v.shape[:-1], v.shape[-1] + 1) if k == first else v) for k, v in state.items()}
    save_file(widened, str(tmp_path / "widened.safetensors"))
    fits = {"lacks.safetensors": rf"missing \(1\): \['{first}'\]", "extra.safetensors": r"unexpected \(1\): \['extra.weight'\]",
            "widened.safetensors": rf"wrong shape \(1\): \['{first}: checkpoint"}
    for name, why in fits.items():
        with pytest.raises(RecipeError, match=rf"(?s){name} does not fit .*{why}"):
            plan(suite_request("demo", MODEL, weights=str(tmp_path / name), protocol="eval"), ResultStore())
    # per fold: the fold is named
    (tmp_path / "m-fold1.safetensors").write_bytes((tmp_path / "good.safetensors").read_bytes())
    (tmp_path / "m-fold2.safetensors").write_bytes((tmp_path / "backbone.safetensors").read_bytes())
    with pytest.raises(RecipeError, match="fold fold2.*m-fold2.safetensors.*no task head"):
        plan(suite_request("demo", MODEL, weights=str(tmp_path / "m-{fold}.safetensors"), protocol="eval",
                           folds=["fold1", "fold2"]), ResultStore())
    assert len(plan(suite_request("demo", MODEL, weights=str(tmp_path / "good.safetensors"), protocol="eval"),
                    ResultStore()).keys) == 3


def test_one_file_named_by_another_path_is_the_same_run(demo_env, tmp_path, monkeypatch):
    """The identity of a weights file is its sha256 (the RunKey's weights_sha), not the path it was named by:
    'w.safetensors' from its folder, its absolute path and a copy elsewhere plan the same keys, and a result
    stored by one is found by the others; another file (other bytes) makes other keys."""
    import shutil

    from benchmarks.store import ResultStore

    w = _fine_tuned(tmp_path / "w.safetensors", note="a")
    (tmp_path / "copy").mkdir()
    shutil.copy(w, tmp_path / "copy" / "same bytes.safetensors")
    other = _fine_tuned(tmp_path / "other.safetensors", note="b")
    monkeypatch.chdir(tmp_path)

    def keys(ref):
        return plan(suite_request("demo", MODEL, weights=ref, protocol="eval", folds=["fold1"]), ResultStore()).keys
    absolute, relative, copy, different = (keys(r) for r in (str(w), "w.safetensors",
                                                             str(tmp_path / "copy" / "same bytes.safetensors"),
                                                             str(other)))
    assert absolute[0].recipe.weights != relative[0].recipe.weights
    assert [k.signature for k in absolute] == [k.signature for k in relative] == [k.signature for k in copy]
    assert [k.signature for k in different] != [k.signature for k in absolute]
    store = ResultStore(tmp_path / "results")
    store.put(absolute[0], {"scores": {"uar": 40.0}})
    assert store.status(relative[0]) == store.status(copy[0]) == "done" and store.status(different[0]) == "missing"
