"""The package layering (README, "Layout"): avfmae is the lower layer; it imports neither the benchmark suite
nor the top-level `zoo` facade (inside avfmae the zoo is `avfmae.zoo`). Checked on the AST of every module, so a
lazy import inside a function counts too."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"avfmae": ("benchmarks", "zoo")}


def imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in a Python file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name.split(".")[0]) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module.split(".")[0]))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            out.append((node.lineno, str(node.args[0].value).split(".")[0]))
    return out


def violations(package: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, top in imported_packages(path):
            if top in FORBIDDEN[package]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {top}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layer_does_not_import_upper_layers(package):
    assert violations(package) == []


def test_the_suite_hands_training_manifest_sources(tmp_path):
    """DatasetSpec.split_source -> a string avfmae.train parses into the dataset's manifest, root and label space."""
    from avfmae.train.sources import parse_source
    from benchmarks.datasets import registry

    demo = parse_source(registry.get("demo").split_source("fold1", "train", root=tmp_path))
    assert (demo.manifest, demo.root) == (tmp_path / "demo" / "splits" / "fold1" / "train.tsv", tmp_path / "demo")
    assert (demo.name, demo.num_classes, demo.regression) == ("demo", 6, False)   # 6 = 3 faces x 2 voices
    wolf = parse_source(registry.get("werewolf-xl").split_source("fold1", "test", root=tmp_path, name="w"))
    assert (wolf.name, wolf.regression, wolf.num_classes) == ("w", True, 0)
    assert wolf.manifest == tmp_path / "werewolf-xl" / "splits" / "fold1" / "test.tsv"


def test_the_check_sees_lazy_and_from_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import os\ndef f():\n    from benchmarks.datasets import registry\n    import zoo.weights\n"
                 "    importlib.import_module('benchmarks.run')\nfrom . import x\n")
    assert imported_packages(f) == [(1, "os"), (3, "benchmarks"), (4, "zoo"), (5, "benchmarks")]
