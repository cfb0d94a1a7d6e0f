"""The 17-dataset catalog and the registry: label spaces, folds, metrics, paper numbers, suites, revisions."""
from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from avfmae.data.manifest import ClipRecord, write_manifest
from benchmarks.datasets import registry
from benchmarks.datasets.sets.mafw import MAFW_11
from benchmarks.datasets.spec import DatasetSpec

ROOT = Path(__file__).resolve().parents[1]

NAMES = ["mafw-11", "mafw-43", "dfew", "mer-multi", "mer24-tv", "crema-d-6", "crema-d-4", "msp-improv", "ravdess",
         "iemocap", "avcaffe", "werewolf-xl", "samm", "casme-ii", "smic", "casme3", "mmew"]
CLASSES = {"mafw-11": 11, "mafw-43": 43, "dfew": 7, "mer-multi": 6, "mer24-tv": 6, "crema-d-6": 6, "crema-d-4": 4,
           "msp-improv": 4, "ravdess": 8, "iemocap": 4, "avcaffe": 5, "werewolf-xl": 3, "samm": 3, "casme-ii": 3,
           "smic": 3, "casme3": 3, "mmew": 6}
FOLDS = {"mafw-11": 5, "mafw-43": 5, "dfew": 5, "mer-multi": 1, "mer24-tv": 5, "crema-d-6": 5, "crema-d-4": 5,
         "msp-improv": 6, "ravdess": 6, "iemocap": 5, "avcaffe": 2, "werewolf-xl": 5, "samm": 28, "casme-ii": 24,
         "smic": 16, "casme3": 87, "mmew": 30}
# The paper's 17 (their facts are pinned below) and every registered dataset, a newly added one included (the
# contract checks: known metrics, paper numbers under zoo model names, usable fold names).
SPECS = tuple(registry.get(name) for name in NAMES)
ALL_SPECS = tuple(registry.suite("all") + registry.suite("demo"))
PAPER_KEY = re.compile(r"^(?P<metric>[a-z0-9]+)(?:_(?P<target>[a-z]+))?(?:@(?P<fold>[\w.]+))?$")


def test_seventeen_specs_in_paper_order():
    assert [s.name for s in SPECS] == NAMES
    assert registry.list_datasets("all")[:17] == NAMES  # a dataset added later comes after the paper's 17
    assert len({s.root or s.name for s in SPECS}) == 17
    assert len({s.root or s.name for s in ALL_SPECS}) == len(ALL_SPECS)


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
def test_every_registered_spec_is_usable(spec: DatasetSpec):
    assert len(set(spec.labels)) == spec.num_classes and spec.folds and len(set(spec.folds)) == len(spec.folds)
    assert all(re.fullmatch(r"[\w.-]+", f) for f in spec.folds)  # usable as folder names
    assert spec.fold_scheme and spec.title
    assert registry.layout_of(spec.name)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_label_space_and_folds(spec: DatasetSpec):
    assert spec.num_classes == CLASSES[spec.name]
    assert len(set(spec.labels)) == spec.num_classes
    assert len(spec.folds) == FOLDS[spec.name] and len(set(spec.folds)) == len(spec.folds)
    assert all(re.fullmatch(r"[\w.-]+", f) for f in spec.folds)  # usable as folder names
    assert spec.fold_scheme and spec.source and spec.title


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
def test_metrics_are_known(spec: DatasetSpec):
    assert set(spec.metrics) <= registry.known_metric_names()
    assert spec.main_metric in spec.metrics
    assert spec.fold_aggregate in ("mean", "pool")


@pytest.fixture(scope="module")
def zoo_models():
    return registry.paper_model_names()


@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if s.name != "demo"], ids=lambda s: s.name)
def test_paper_numbers_present_and_well_formed(spec: DatasetSpec, zoo_models):
    assert any(k.startswith("avfmae-") for k in spec.paper), "every dataset has AVF-MAE++ numbers"
    for model, numbers in spec.paper.items():
        assert model in zoo_models
        assert spec.main_metric in numbers, f"{model} lacks the main metric"
        for key, value in numbers.items():
            m = PAPER_KEY.match(key)
            assert m, key
            assert m["metric"] in spec.metrics, key
            if m["target"]:
                assert spec.regression and m["target"] in spec.labels, key
            if m["fold"]:
                assert m["fold"] in spec.folds, key
            assert 0 < value < 100


def test_specific_facts():
    get = registry.get
    assert get("mafw-11").labels == MAFW_11 and MAFW_11[0] == "anger" and MAFW_11[10] == "disappointment"
    assert get("mafw-43").labels[:11] == MAFW_11
    assert get("dfew").labels == ("happy", "sad", "neutral", "angry", "surprise", "disgust", "fear")
    assert get("crema-d-6").labels == ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
    assert get("crema-d-4").labels == ("ANG", "HAP", "NEU", "SAD")
    assert get("mer24-tv").labels == ("worried", "happy", "neutral", "angry", "surprise", "sad")
    assert get("mer-multi").labels == ("neutral", "angry", "happy", "sad", "worried", "surprise")
    assert get("ravdess").labels[0] == "neutral" and get("ravdess").labels[7] == "surprised"
    huge = get("mafw-11").paper["avfmae-huge"]
    assert (huge["uar"], huge["war"], huge["uar@fold1"]) == (46.05, 60.24, 37.56)
    assert get("msp-improv").paper["avfmae-huge"]["uar@session5"] == 83.51
    assert get("avcaffe").paper["avfmae-huge"]["wf1"] == pytest.approx(48.455)
    assert get("werewolf-xl").regression and get("werewolf-xl").labels == ("arousal", "valence", "dominance")
    assert get("samm").folds[0] == "006" and "008" not in get("samm").folds
    assert "sub10" not in get("casme-ii").folds and "s7" not in get("smic").folds
    assert get("avcaffe").group_pattern and re.match(get("avcaffe").group_pattern, "aiim001_task_3_0007")


def test_validation_policy_only_where_official_code_reads_val():
    assert {s.name for s in SPECS if s.validation == "val"} == {"dfew", "mer-multi", "msp-improv", "iemocap"}


def test_micro_expression_sets_are_video_only_loso_pooled():
    for spec in registry.suite("mer"):
        assert spec.modalities == ("video",) and not spec.has_audio
        assert "silent audio" in spec.notes and "zero" in spec.notes
        assert spec.fold_aggregate == "pool" and spec.metrics[0] == "uf1"
        assert "LOSO" in spec.fold_scheme
    assert all(s.has_audio for s in SPECS if s.task != "MER")


def test_suites():
    def paper(suite):  # the suite's members from the paper's 17 (a dataset added later may join a suite too)
        return [n for n in registry.list_datasets(suite) if n in NAMES]
    assert len(paper("cea")) == 10
    assert paper("dea") == ["avcaffe", "werewolf-xl"]
    assert paper("mer") == ["samm", "casme-ii", "smic", "casme3", "mmew"]
    assert sorted(paper("cea") + paper("dea") + paper("mer")) == sorted(NAMES)
    assert {"all", "cea", "dea", "mer", "demo"} <= set(registry.suite_names())
    assert registry.in_suite("CASME2", "mer") and not registry.in_suite("dfew", "mer")


def test_get_aliases_and_unknown_name():
    assert registry.get("MAFW_11").name == "mafw-11"
    assert registry.get("casme2").name == "casme-ii"
    assert registry.get("MER2023").name == "mer-multi"
    with pytest.raises(KeyError, match="ravdess"):
        registry.get("ravdes")


def test_register_conflict():
    spec = registry.get("dfew")
    registry.register(spec)  # the same spec again is fine
    other = DatasetSpec(name="dfew", title="x", task="CEA", labels=("a",), folds=("f",), fold_scheme="x",
                        metrics=("uar",), main_metric="uar")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(other)


def test_demo_suite_does_not_need_the_generator():
    """The demo spec lives in its dataset module: listing it never imports the media generator (synth)."""
    code = ("import sys; from benchmarks.datasets import registry; "
            "assert registry.list_datasets('demo') == ['demo'] and registry.importer_of('demo') is None; "
            "assert 'benchmarks.datasets.synth' not in sys.modules, 'registry imported the generator'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


# ------------------------------------------------------------------------------------ discovery of dataset modules
TOY = """
from benchmarks.datasets.importers._base import Plan
from benchmarks.datasets.spec import DatasetSpec

ORDER = {order}
SPECS = (DatasetSpec(name="{name}", title="Toy", task="DEA", labels=("a", "b"), folds=("fold1",),
                     fold_scheme="one fold", metrics={metrics}, main_metric="{main}"),)
ALIASES = {{"{name}x": "{name}"}}
LAYOUT = "<Toy>/clips/*.mp4"


def import_release(spec, raw, source="auto"):
    return Plan(spec, raw, {{}})
"""


@pytest.fixture()
def fresh_registry(tmp_path, monkeypatch):
    """An empty registry whose dataset package is tmp_path/toysets (write modules there, then call _discover)."""
    package = tmp_path / "toysets"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "toysets" or m.startswith("toysets.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(registry, "_REGISTRY", {})
    monkeypatch.setattr(registry, "_SUITES", {"all": [], "cea": [], "dea": [], "mer": [], "demo": []})
    monkeypatch.setattr(registry, "_ALIASES", {})
    monkeypatch.setattr(registry, "_MODULES", {})
    monkeypatch.setattr(registry, "_sets_package", importlib.import_module("toysets"))
    return package


def test_one_new_file_adds_a_dataset(fresh_registry):
    (fresh_registry / "toy.py").write_text(TOY.format(order=2, name="toy", metrics=("ccc",), main="ccc"))
    (fresh_registry / "zfirst.py").write_text(TOY.format(order=1, name="first", metrics=("uar",), main="uar"))
    (fresh_registry / "_helpers.py").write_text("X = 1\n")  # shared helpers: skipped
    registry._discover()
    assert registry.list_datasets("all") == ["first", "toy"]  # ORDER, not file name order
    assert registry.list_datasets("dea") == ["first", "toy"] and registry.list_datasets("cea") == []
    assert registry.get("TOYX").name == "toy"  # the module's aliases
    assert registry.layout_of("toy") == "<Toy>/clips/*.mp4"
    assert registry.importer_of("toy") is registry.module_of("toy").import_release


def test_unknown_metric_in_a_dataset_file_names_the_file(fresh_registry):
    (fresh_registry / "toy.py").write_text(TOY.format(order=1, name="toy", metrics=("uar", "acuracy"),
                                                        main="uar"))
    with pytest.raises(registry.DatasetModuleError, match=r"toysets/toy\.py: dataset 'toy' lists unknown "
                                                          r"metric\(s\) 'acuracy'; known metrics: .*uar"):
        registry._discover()


def test_module_contract_errors_name_the_file(fresh_registry):
    (fresh_registry / "nospecs.py").write_text("ORDER = 1\n")
    with pytest.raises(registry.DatasetModuleError, match=r"toysets/nospecs\.py: a dataset module must define SPECS"):
        registry._discover()
    (fresh_registry / "nospecs.py").unlink()
    (fresh_registry / "nolayout.py").write_text(TOY.format(order=1, name="toy", metrics=("uar",), main="uar")
                                                .replace('LAYOUT = "<Toy>/clips/*.mp4"', ""))
    with pytest.raises(registry.DatasetModuleError, match=r"toysets/nolayout\.py: .*must define LAYOUT"):
        registry._discover()


def test_every_catalog_metric_is_in_the_metrics_registry():
    from avfmae import metrics
    assert registry.known_metric_names() == set(metrics.METRICS)
    for spec in SPECS:
        for name in spec.metrics:
            assert metrics.canonical(name) == name


def test_revision_changes_with_split_files(tmp_path):
    spec = registry.get("mer-multi")
    assert spec.revision(tmp_path) == "absent"
    rec = [ClipRecord("a", "train/a.mp4", None, 0, None)]
    for split in ("train", "val", "test"):
        write_manifest(spec.split_file("official", split, tmp_path), rec)
    first = spec.revision(tmp_path)
    assert first != "absent" and len(first) == 12
    assert spec.revision(tmp_path) == first
    write_manifest(spec.split_file("official", "test", tmp_path), rec + [ClipRecord("b", "test1/b.mp4", None, 2, None)])
    assert spec.revision(tmp_path) != first
