"""Bring your own model (avfmae.zoo.adapters): the contract's checks, the run identity, layer decay, and the
late-fusion baseline end to end on the tiny demo set (fine-tuning and probe, inline and in a local subprocess)."""
import hashlib
import os
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from avfmae import zoo
from benchmark_fixtures import tiny_demo, use_env

LATE = "benchmarks.baselines.late_fusion:create_small"
TINY = ["--set", "epochs=1", "--set", "batch_size=8", "--set", "progress=false"]

MODULE = '''
import torch
from torch import nn
from avfmae.zoo import InputContract, adapter

@adapter(InputContract(num_frames=8, img_size=64, num_mel_bins=64, target_length=128))
def create(num_classes, weights=None):
    """A linear model on mean-pooled inputs."""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(4, 8)
            self.head = nn.Linear(8, num_classes) if num_classes else None
        def forward_features(self, video, audio):
            return self.proj(torch.cat([video.mean((2, 3, 4)), audio.mean((1, 2, 3))[:, None]], 1))
        def forward(self, video, audio):
            return self.head(self.forward_features(video, audio)){OUT}
    return M()
'''


def write_module(folder: Path, name: str, out: str = "") -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(MODULE).replace("{OUT}", out))
    return path


@pytest.fixture()
def own(tmp_path, monkeypatch):
    folder = tmp_path / "mods"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]))
    yield folder
    for name in [m for m in sys.modules if m.startswith("byo_")]:
        del sys.modules[name]


# --------------------------------------------------------------------------------------------- the contract
def test_contract_errors_are_clear(own):
    with pytest.raises(zoo.AdapterError, match="package.module:factory"):
        zoo.load_adapter("no_colon_here:")
    with pytest.raises(zoo.AdapterError, match="PYTHONPATH"):
        zoo.load_adapter("byo_not_there:create")
    write_module(own, "byo_ok")
    with pytest.raises(zoo.AdapterError, match="no callable 'make'.*create"):
        zoo.load_adapter("byo_ok:make")
    (own / "byo_nocontract.py").write_text("def create(num_classes):\n    return None\n")
    with pytest.raises(zoo.AdapterError, match="declares no input contract"):
        zoo.load_adapter("byo_nocontract:create")
    # a head of the wrong size: caught on the dummy batch, naming what came back and what was expected
    write_module(own, "byo_badshape", out="[:, :1]")
    with pytest.raises(zoo.AdapterError, match=r"forward\(video \(2, 3, 8, 64, 64\), audio \(2, 1, 128, 64\)\) "
                                               r"returned \(2, 1\); expected .*\(2, 6\)"):
        zoo.create_model("byo_badshape:create", num_classes=6)
    with pytest.raises(zoo.AdapterError, match="img_size=0"):
        zoo.adapters.validate_contract(zoo.InputContract(img_size=0), "x:y")
    m = zoo.create_model("byo_ok:create", num_classes=3)
    assert m.spec.input.img_size == 64 and m.spec.family == "adapter"
    assert zoo.get_spec("byo_ok:create").input.target_length == 128


def test_a_module_or_factory_that_fails_is_named_with_file_and_line(own):
    """A syntax error, an exception at import time, a missing dependency and a factory that raises: each is an
    AdapterError naming the file and line the test wrote (they were tracebacks, and a missing dependency was
    blamed on PYTHONPATH, where the module itself had been found); planning turns it into a RecipeError."""
    from benchmarks.datasets import registry
    from benchmarks.plan import check_adapter
    from benchmarks.recipe import Recipe, RecipeError

    (own / "byo_syntax.py").write_text("import torch\ndef create(:\n    pass\n")
    (own / "byo_zero.py").write_text("import os\n\nRATE = 1 / 0\n")
    (own / "byo_dep.py").write_text("import torch\nimport byo_no_such_dependency\n")
    path = write_module(own, "byo_factory_fails")
    text = path.read_text().replace("    class M(nn.Module):", "    raise RuntimeError('no GPU here')\n    class M(nn.Module):")
    path.write_text(text)
    line = text.splitlines().index("    raise RuntimeError('no GPU here')") + 1
    cases = {"byo_syntax:create": rf"{own / 'byo_syntax.py'}:2: syntax error",
             "byo_zero:create": rf"raised ZeroDivisionError: division by zero \({own / 'byo_zero.py'}:3\)",
             "byo_dep:create": rf"'byo_dep' was found, but importing it failed \({own / 'byo_dep.py'}:2\): No module "
                               r"named 'byo_no_such_dependency'\. Install 'byo_no_such_dependency'",
             "byo_factory_fails:create": rf"create\(6\) raised RuntimeError: no GPU here \({path}:{line}\)"}
    for ref, want in cases.items():
        with pytest.raises(zoo.AdapterError, match=want) as e:
            zoo.create_model(ref, num_classes=6)
        assert "PYTHONPATH" not in str(e.value), ref
        with pytest.raises(RecipeError, match=want):      # what the planner calls (test_plan_fails_early...)
            check_adapter(ref, registry.get("demo"), Recipe(), 6)


def test_plan_fails_early_on_a_broken_model(own, tmp_path, monkeypatch):
    from benchmarks.plan import Request, plan
    from benchmarks.recipe import RecipeError

    use_env(monkeypatch, tmp_path)
    tiny_demo(tmp_path / "data")
    write_module(own, "byo_plan_bad", out="[:, :1]")
    from benchmarks.recipe import Recipe
    with pytest.raises(RecipeError, match="byo_plan_bad:create on demo.*returned \\(2, 1\\)"):
        plan(Request(models=("byo_plan_bad:create",), datasets=("demo",), recipes=(Recipe(preset="cpu"),)))
    with pytest.raises(RecipeError, match="pre-training .* AVF-MAE\\+\\+ zoo models"):
        plan(Request(models=("byo_plan_bad:create",), datasets=("demo",), recipes=(Recipe(stages="1+3"),)))
    with pytest.raises(RecipeError, match="PYTHONPATH"):
        plan(Request(models=("byo_absent:create",), datasets=("demo",), recipes=(Recipe(preset="cpu"),)))


def test_changed_source_makes_a_new_key_and_the_old_key_refuses_to_run(own, tmp_path, monkeypatch):
    from benchmarks.evaluate import resolve_key
    from benchmarks.plan import Request, plan
    from benchmarks.recipe import Recipe, RecipeError

    use_env(monkeypatch, tmp_path)
    tiny_demo(tmp_path / "data")
    path = write_module(own, "byo_src")
    req = Request(models=("byo_src:create",), datasets=("demo",), recipes=(Recipe(preset="cpu"),), folds=("fold1",))
    first = plan(req).keys[0]
    again = plan(req).keys[0]
    assert first == again and first.model == "byo_src:create"
    # the identity records the sha256 of the module file (computed here independently)
    ident = resolve_key(first, tmp_path / "w").identity()["adapter"]
    assert ident["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    path.write_text(path.read_text() + "\n# a changed line\n")
    changed = plan(req).keys[0]
    assert changed.config_hash != first.config_hash and changed.signature != first.signature
    with pytest.raises(RecipeError, match="plan again"):
        resolve_key(first, tmp_path / "w")


# --------------------------------------------------------------------------------------------- layer decay
def test_layer_decay_uses_exposed_layer_ids_and_is_off_otherwise(own):
    from avfmae.train.optim import param_groups

    model = zoo.create_model(LATE, num_classes=4)
    groups = param_groups(model, 0.05, layer_decay=0.5)
    scale = {n: g["lr_scale"] for g in groups for n in g["names"]}
    # num_layers = 2: stage k -> id k -> 0.5 ** (3 - k); norms and heads -> id 3 -> 1
    assert scale["video.0.0.weight"] == 0.125 and scale["audio.0.0.weight"] == 0.125
    assert scale["video.1.0.weight"] == 0.25 and scale["audio.2.1.bias"] == 0.5
    assert scale["head_video.weight"] == 1.0 and scale["norm_audio.weight"] == 1.0
    write_module(own, "byo_plain")
    plain = zoo.create_model("byo_plain:create", num_classes=4)
    assert {g["lr_scale"] for g in param_groups(plain, 0.05, layer_decay=0.5)} == {1.0}


# --------------------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("byo")
    mp = pytest.MonkeyPatch()
    use_env(mp, tmp)
    tiny_demo(tmp / "data")
    yield tmp
    mp.undo()


def test_late_fusion_fine_tunes_and_probes_inline_and_shows_in_the_leaderboards(demo):
    from benchmarks import leaderboard, run
    from benchmarks.store import ResultStore

    base = ["--suite", "demo", "--folds", "fold1", "--executor", "inline"]
    assert run.main(["--model", LATE] + base + TINY) == 0
    assert run.main(["--model", LATE, "--protocol", "probe"] + base) == 0
    assert run.main(["--model", "avfmae-micro", "--set", "stages=3"] + base + TINY) == 0
    store = ResultStore()
    recs = {(r["key"].model, r["key"].protocol): r for r in store.iter_results()}
    assert set(recs) == {(LATE, "paper"), (LATE, "probe"), ("avfmae-micro", "paper")}
    src = Path(__file__).resolve().parents[1] / "benchmarks" / "baselines" / "late_fusion.py"
    for proto in ("paper", "probe"):
        rec = recs[LATE, proto]
        assert rec["configs"]["adapter"]["source_sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
        assert rec["n_test"] > 0 and 0 <= rec["scores"]["uar"] <= 100
    assert recs[LATE, "paper"]["configs"]["stage3"]["model"] == LATE
    main = (leaderboard.default_out(store) / "main.md").read_text()
    header = next(line for line in main.splitlines() if line.startswith("| dataset"))
    assert LATE in header and "avfmae-micro" in header and "paper avfmae-base" in header
    demo_row = next(line for line in main.splitlines() if line.startswith("| Synthetic AV demo"))
    cells = [c.strip() for c in demo_row.strip("|").split("|")]
    assert cells[3:7] == ["–"] * 4                         # no paper numbers for the demo set
    assert cells[7 + sorted([LATE, "avfmae-micro"]).index(LATE)] == "(1 fold)"
    assert LATE in (leaderboard.default_out(store) / "cea.md").read_text()


def test_eval_protocol_scores_the_weights_of_a_model_of_your_own(demo, own, tmp_path):
    """--protocol eval with a model of your own whose head is called `fc` (not the zoo's `head`): its factory
    loads the file, and the run scores it (it failed: 'no task head (head.weight)'). The weights make every clip
    class 2 (zero weights, bias one-hot), so WAR is the share of class-2 clips among the first 6 of fold1's test
    split, counted here from the manifest."""
    from avfmae.data.manifest import read_manifest
    from benchmarks import run
    from benchmarks.datasets import registry
    from benchmarks.store import ResultStore

    (own / "byo_fc.py").write_text(textwrap.dedent('''
        import torch
        from torch import nn
        from avfmae.zoo import InputContract, adapter

        class M(nn.Module):
            def __init__(self, n):
                super().__init__()
                self.proj = nn.Linear(4, 8)
                self.fc = nn.Linear(8, n) if n else None
            def forward_features(self, video, audio):
                return self.proj(torch.cat([video.mean((2, 3, 4)), audio.mean((1, 2, 3))[:, None]], 1))
            def forward(self, video, audio):
                return self.fc(self.forward_features(video, audio))

        @adapter(InputContract(num_frames=8, img_size=64, num_mel_bins=64, target_length=128))
        def create(num_classes, weights=None):
            m = M(num_classes)
            if weights:
                m.load_state_dict(torch.load(weights, weights_only=True))
            return m
        '''))
    import byo_fc
    spec = registry.get("demo")
    m = byo_fc.M(spec.num_classes)
    with torch.no_grad():
        m.fc.weight.zero_()
        m.fc.bias.copy_(torch.nn.functional.one_hot(torch.tensor(2), spec.num_classes).float() * 5)
    torch.save(m.state_dict(), tmp_path / "fc.pth")
    argv = ["--model", "byo_fc:create", "--weights", str(tmp_path / "fc.pth"), "--protocol", "eval", "--suite",
            "demo", "--folds", "fold1", "--limit", "6", "--executor", "inline", "--set", "progress=false"]
    assert run.main(argv) == 0
    (rec,) = [r for r in ResultStore().iter_results() if r["key"].model == "byo_fc:create"]
    targets = [r.target for r in read_manifest(spec.split_file("fold1", "test"))[:6]]
    assert rec["n_test"] == 6 and rec["scores"]["war"] == pytest.approx(100 * targets.count(2) / 6)
    # per-fold weights ('fc-{fold}.pth'): planning built the model from the fold's file, not from the pattern
    (tmp_path / "fc-fold1.pth").write_bytes((tmp_path / "fc.pth").read_bytes())
    argv[argv.index("--weights") + 1] = str(tmp_path / "fc-{fold}.pth")
    assert run.main(argv) == 0
    recs = [r for r in ResultStore().iter_results() if r["key"].model == "byo_fc:create"]
    assert len(recs) == 2 and {r["scores"]["war"] for r in recs} == {rec["scores"]["war"]}


def test_a_local_subprocess_imports_a_model_from_pythonpath(demo, own):
    from benchmarks import run
    from benchmarks.store import ResultStore

    write_module(own, "byo_local")
    base = ["--model", "byo_local:create", "--suite", "demo", "--folds", "fold2", "--protocol", "probe"]
    assert run.main(base + ["--executor", "local"]) == 0
    recs = [r for r in ResultStore().iter_results() if r["key"].model == "byo_local:create"]
    assert len(recs) == 1 and recs[0]["key"].fold == "fold2"
    log = next((ResultStore().root.parent / "submitit").rglob("*_log.out"), None)
    assert log is not None    # it ran in a submitit subprocess, which imported byo_local from PYTHONPATH
