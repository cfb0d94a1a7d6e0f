"""Fuzzing the split-manifest readers (issue 13): whatever the bytes, reading ends in records or a ManifestError
naming the file (and line), never another traceback. Also the sources of training sets and path resolution."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from avfmae.data.manifest import COLUMNS, ManifestError, read_manifest, resolve  # noqa: E402

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])
HEADER = "\t".join(COLUMNS)

# pieces a hostile or broken manifest is made of
path_part = st.one_of(st.sampled_from(["..", ".", "", "/", "/etc/passwd", "a/../../b", "clips/x.mp4", "C:\\x",
                                       "\\\\server\\share", "~", "a\\..\\..\\b", "out/link/x.mp4"]),
                      st.text(max_size=12))
target = st.one_of(st.integers(-5, 20).map(str), st.sampled_from(["", "nan", "inf", "1e999", "0.5,", ",", "1,2,3",
                                                                   "0x1", " 3 ", "1.0,nan", "-0", "٣"]),
                   st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=4)
                   .map(lambda v: ",".join(map(repr, v))), st.text(max_size=6))
field = st.one_of(path_part, st.text(max_size=20), st.sampled_from(['"', '""', '"a\tb"', "\r", "\x00", "\ufeff"]))
row = st.one_of(st.tuples(st.text(max_size=8), path_part, path_part, target, st.text(max_size=5)).map(list),
                st.lists(field, max_size=8))


def _line(cols: list[str]) -> str:
    return "\t".join(cols)


@st.composite
def manifest_text(draw) -> str:
    header = draw(st.one_of(st.just(HEADER), st.just(HEADER.upper()), st.just("\ufeff" + HEADER),
                            st.lists(st.text(max_size=8), max_size=6).map(_line)))
    body = draw(st.lists(row.map(_line), max_size=8))
    sep = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return sep.join([header, *body]) + draw(st.sampled_from(["", "\n"]))


def _read_ok_or_named(path: Path, **kw):
    try:
        records = read_manifest(path, **kw)
    except ManifestError as e:
        assert str(path) in str(e) and e.problem
        return None
    for r in records:  # what was accepted keeps its promises
        for p in (r.video, r.audio):
            if p is not None:
                assert not os.path.isabs(p) and ".." not in Path(p).parts and "\\" not in p and p
        assert r.manifest == str(path) and r.line >= 2
    return records


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(tmp_path, data):
    m = tmp_path / "m.tsv"
    m.write_bytes(data)
    _read_ok_or_named(m)


@FUZZ
@given(manifest_text(), st.sampled_from([None, 6]), st.sampled_from([None, 2]))
def test_random_columns_unicode_and_paths(tmp_path, text, num_classes, num_targets):
    m = tmp_path / "m.tsv"
    m.write_bytes(text.encode("utf-8", "surrogatepass"))  # lone surrogates make invalid UTF-8, also a case
    _read_ok_or_named(m, num_classes=num_classes, num_targets=num_targets)


@FUZZ
@given(st.integers(1, 3), st.sampled_from([1 << 10, 200_000, 2_000_000]), st.sampled_from(["clip", "video", "target"]))
def test_huge_lines(tmp_path, line_count, size, column):
    cols = {"clip": "c", "video": "v.mp4", "audio": "", "target": "0", "subject": "s"}
    cols[column] = ("1," * (size // 2)).rstrip(",") if column == "target" else "x" * size
    m = tmp_path / "m.tsv"
    m.write_text("\n".join([HEADER] + ["\t".join(cols[c] if i == 0 else cols[c].replace("c", f"c{i}", 1)
                                                  for c in COLUMNS) for i in range(line_count)]) + "\n")
    _read_ok_or_named(m)


@pytest.fixture()
def escape_root(tmp_path):
    """root/ with a symlink `out` to a folder outside it, and a file link `clips/away.mp4` to a file outside."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "clips").mkdir(parents=True)
    outside.mkdir()
    (outside / "x.mp4").write_bytes(b"")
    (root / "out").symlink_to(outside, target_is_directory=True)
    (root / "clips" / "away.mp4").symlink_to(outside / "x.mp4")
    (root / "clips" / "ok.mp4").write_bytes(b"")
    return root


@FUZZ
@given(st.one_of(path_part, st.sampled_from(["out/x.mp4", "clips/away.mp4", "clips/ok.mp4", "out", "clips/../out/x.mp4"])))
def test_resolve_never_leaves_the_root(escape_root, relative):
    m = escape_root / "m.tsv"
    m.write_bytes(f"{HEADER}\nc\t{relative}\t\t0\ts\n".encode("utf-8", "surrogatepass"))
    records = _read_ok_or_named(m)
    if not records:
        return
    try:
        full = resolve(escape_root, records[0].video)
    except ManifestError as e:
        assert "outside the data root" in str(e)
        return
    assert escape_root.resolve() in (full, *full.parents)


option = st.one_of(st.tuples(st.sampled_from(["name", "map", "weight", "classes", "head", ""]),
                             st.one_of(st.sampled_from(["0,0,1", "-1,0", "", "2", "-3", "nan", "1e9", "0,x", ",,"]),
                                       st.text(max_size=8))).map("=".join), st.text(max_size=10))


@FUZZ
@given(st.lists(option, max_size=4), st.sampled_from(["", "@root", "@missing", "@"]), st.text(max_size=12))
def test_training_source_strings(tmp_path, options, at, name):
    """A source string (`manifest.tsv@root|name=..|map=..|weight=..|classes=..`) parses and loads, or says what is
    wrong in a ValueError of ours (ManifestError for the file's content)."""
    from avfmae.train.sources import SourceError, load_entries, parse_source
    root = tmp_path / "root"
    m = root / "splits" / "f1" / "train.tsv"
    if not m.is_file():
        m.parent.mkdir(parents=True)
        m.write_text(f"{HEADER}\na\tv/a.mp4\t\t0\ts1\nb\tv/b.mp4\t\t3\ts2\nc\tv/c.mp4\t\t5\ts3\n")
    head = (str(m) if at == "" else f"{m}{at.replace('root', str(root))}") if name == "" else f"{tmp_path}/{name}.tsv"
    text = "|".join([head, *options])
    try:
        entries = load_entries([parse_source(text)])
    except ManifestError as e:
        assert e.problem
        return
    except SourceError as e:
        assert repr(text) in str(e)  # the message quotes the source
        return
    assert entries and all(isinstance(e.target, int) and e.target >= 0 for e in entries)
    assert all((e.root / e.record.video).name in ("a.mp4", "b.mp4", "c.mp4") for e in entries)
