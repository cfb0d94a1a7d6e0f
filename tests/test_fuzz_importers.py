"""Fuzzing the release importers (issue 13): a release folder of random names (unicode, dot-names, names that
almost match), random label files (random bytes, random columns, wrong encodings, empty files) and symlinks out
of the root ends in a Plan or a DatasetLayoutError / ManifestError naming the file, never another traceback.

Each importer gets trees that are *nearly* its official layout, so the fuzz reaches the label parsing and the
fold assembly instead of stopping at the first missing folder."""
from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from avfmae.data.manifest import ManifestError  # noqa: E402
from benchmarks.datasets.importers import DatasetLayoutError, plan_import  # noqa: E402
from benchmarks.datasets.importers._base import Plan  # noqa: E402
from benchmarks.datasets.sets import casme2, samm  # noqa: E402
from benchmarks.datasets.sets._micro import parse_composite  # noqa: E402
from benchmarks.datasets.sets.mafw import MAFW_11  # noqa: E402

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])

OUTSIDE_ABS = "<absolute path of a file outside the root>"  # build() makes it the test's own tmp file

# ---- pieces of a hostile release ------------------------------------------------------------------------------
_name_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00")
name = st.one_of(st.sampled_from(["...", "..x", ". ", " ", "-", "\u202e", "ñ", "日本語", "a\\..\\b", "~", "ﬁ", "İ"]),
                 st.text(_name_chars, min_size=1, max_size=12)).filter(lambda s: s not in (".", ".."))
bad_bytes = st.sampled_from([b"\xff\xfe", b"\x80", b"\xc3", b"\x00", b"\xed\xa0\x80", b"\r", b'"', b"\xef\xbb\xbf"])
cell = st.one_of(st.text(max_size=8), st.integers(-3, 20).map(str), st.sampled_from(["", " ", '"', "nan", "1.5",
                                                                                      "1e9", "٣", "\t"]))


def encode(text: str, data) -> bytes:
    """Text as bytes, sometimes with an invalid UTF-8 sequence spliced in or in another encoding."""
    raw = text.encode("utf-8", "surrogatepass")
    how = data.draw(st.sampled_from(["utf-8", "utf-8", "splice", "utf-16", "latin-1"]))
    if how == "splice":
        at = data.draw(st.integers(0, len(raw)))
        return raw[:at] + data.draw(bad_bytes) + raw[at:]
    if how == "utf-16":
        return text.encode("utf-16", "surrogatepass")
    if how == "latin-1":
        return text.encode("latin-1", "replace")
    return raw


def lines_file(data, good_line) -> bytes:
    """A label file: mostly lines of the expected shape, some random lines, or random bytes altogether."""
    kind = data.draw(st.sampled_from(["lines", "lines", "lines", "bytes", "empty"]))
    if kind == "bytes":
        return data.draw(st.binary(max_size=120))
    if kind == "empty":
        return b""
    lines = data.draw(st.lists(st.one_of(good_line, good_line, st.text(max_size=30)), max_size=8))
    sep = data.draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return encode(sep.join(lines), data)


def csv_file(data, good_row, header=None) -> bytes:
    """A csv label file: a header (or not), rows of the expected shape and rows of random columns."""
    rows = data.draw(st.lists(st.one_of(good_row, good_row, st.lists(cell, max_size=5)), max_size=8))
    if header is not None and data.draw(st.booleans()):
        rows = [data.draw(st.one_of(st.just(header), st.lists(cell, max_size=4)))] + rows
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    text = buf.getvalue()
    if data.draw(st.integers(0, 9)) == 0:
        return data.draw(st.binary(max_size=120))
    return encode(text, data)


def random_entries(data, folders: list[str], suffixes: list[str]) -> list[tuple[str, object]]:
    """Random files, folders and symlinks (out of the root, dangling, looping) in the given folders."""
    out = []
    for _ in range(data.draw(st.integers(0, 4))):
        where = data.draw(st.sampled_from(folders))
        rel = f"{where}/{data.draw(name)}{data.draw(st.sampled_from(suffixes))}".lstrip("/")
        kind = data.draw(st.sampled_from(["file", "dir", "link"]))
        if kind == "link":
            out.append((rel, ("link", data.draw(st.sampled_from([OUTSIDE_ABS, "../../../outside", "/nonexistent",
                                                                 "../" * 8, ".", rel.split("/")[-1]])))))
        else:
            out.append((rel, "dir" if kind == "dir" else data.draw(st.binary(max_size=20))))
    return out


def build(raw: Path, entries) -> None:
    """Write the tree; a name the file system refuses (too long, a file in the way) is simply left out.

    Links point at files of the test's own temporary folder (OUTSIDE_ABS is the absolute path of `outside`
    beside the root), and nothing is ever written through a link or into a linked folder: these tests run as
    root in CI, and an earlier version wrote a random byte through a link to /etc/passwd."""
    outside = raw.parent / "outside"
    outside.write_text("secret\n")
    raw.mkdir(exist_ok=True)
    for rel, what in entries:
        path = raw / rel
        try:
            folder = path.parent.resolve()
            if path.is_symlink() or (folder != raw.resolve() and raw.resolve() not in folder.parents):
                continue  # a link, or a folder on the way is one: writing there would leave the tree
            path.parent.mkdir(parents=True, exist_ok=True)
            if what == "dir":
                path.mkdir(exist_ok=True)
            elif isinstance(what, tuple):
                if not path.exists():
                    target = str(outside.resolve()) if what[1] == OUTSIDE_ABS else what[1]
                    path.symlink_to(target)
            elif not path.is_dir():
                path.write_bytes(what)
        except (OSError, UnicodeEncodeError):
            pass


def plan_or_named_error(name_: str, raw: Path):
    try:
        plan = plan_import(name_, raw)
    except (DatasetLayoutError, ManifestError) as e:
        assert str(e).strip()
        return None
    assert isinstance(plan, Plan)
    for splits in plan.folds.values():
        for records in splits.values():
            for r in records:
                for p in (r.video, r.audio):
                    if p is not None:
                        assert not os.path.isabs(p) and ".." not in Path(p).parts, p
    return plan


def new_raw(tmp_path_factory) -> Path:
    """One reused folder, emptied before each example (hundreds of kept folders slow pytest's cleanup)."""
    base = tmp_path_factory.getbasetemp() / "fuzz-importers"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir()
    return base / "release"


# ---- one strategy per layout ------------------------------------------------------------------------------------
@FUZZ
@given(st.data())
def test_ravdess(tmp_path_factory, data):
    two = st.sampled_from(["01", "02", "03"])
    code = st.tuples(st.sampled_from(["01", "02", "03", "04"]), st.sampled_from(["01", "01", "02"]),
                     st.sampled_from([f"0{k}" for k in range(10)]), two, two, two,
                     st.integers(0, 30).map(lambda a: f"{a:02d}")).map("-".join)
    entries = []
    for _ in range(data.draw(st.integers(0, 12))):
        folder = data.draw(st.sampled_from(["Actor_01", "Actor_05", "Video_Speech_Actor_01/Actor_01", "", "a/b/c/d"]))
        stem = data.draw(st.one_of(code, code, name))
        entries.append((f"{folder}/{stem}{data.draw(st.sampled_from(['.mp4', '.wav', '.MP4', '']))}".lstrip("/"),
                        data.draw(st.sampled_from([b"", b"x"]))))
    entries += random_entries(data, ["", "Actor_01"], [".mp4", ".wav", ""])
    raw = new_raw(tmp_path_factory)
    build(raw, entries)
    plan_or_named_error("ravdess", raw)


@FUZZ
@given(st.data())
def test_cremad(tmp_path_factory, data):
    stem = st.one_of(st.tuples(st.integers(995, 1095).map(str), st.sampled_from(["DFA", "IEO", "MTI", "X"]),
                               st.sampled_from(["ANG", "DIS", "FEA", "HAP", "NEU", "SAD", "XXX"]),
                               st.sampled_from(["XX", "LO", "HI", "M"])).map("_".join), name)
    entries = [("VideoFlash", "dir")] if data.draw(st.booleans()) else []
    for _ in range(data.draw(st.integers(0, 12))):
        s = data.draw(stem)
        content = data.draw(st.sampled_from([b"", b"flv", b"version https://git-lfs.github.com/spec/v1\n"]))
        entries.append((f"VideoFlash/{s}.flv", content))
        if data.draw(st.booleans()):
            entries.append((f"AudioWAV/{s}.wav", b"wav"))
    entries += random_entries(data, ["VideoFlash", "AudioWAV"], [".flv", ".wav"])
    raw = new_raw(tmp_path_factory)
    build(raw, entries)
    plan_or_named_error(data.draw(st.sampled_from(["crema-d-6", "crema-d-4"])), raw)


@FUZZ
@given(st.data())
def test_mafw(tmp_path_factory, data):
    ids = [f"{k:05d}" for k in range(1, 7)]
    word = st.one_of(st.sampled_from(MAFW_11 + ("anger_disgust", "disgust_anger", "x_y", "ANGER", "anger_")), name)
    line = st.tuples(st.sampled_from(ids + ["../x", "/abs", "00001.mp4.mp4"]), word).map(
        lambda t: f"{t[0]}.mp4 {t[1]}" if not t[0].endswith(".mp4") else f"{t[0]} {t[1]}")
    top = data.draw(st.sampled_from(["Train & Test Set", "Train_Test_Set"]))
    kind = data.draw(st.sampled_from(["single", "compound"]))
    entries = []
    for k in range(1, 6):
        for split in ("train", "test"):
            if data.draw(st.integers(0, 19)):
                entries.append((f"{top}/{kind}/no_caption/set_{k}/{split}.txt", lines_file(data, line)))
    layout = data.draw(st.sampled_from(["clips", "faces", "both"]))
    for i in ids:
        if layout in ("clips", "both") and data.draw(st.booleans()):
            entries.append((f"data/clips/{i}.mp4", b"" if data.draw(st.booleans()) else ("link", OUTSIDE_ABS)))
        if layout in ("faces", "both") and data.draw(st.booleans()):
            entries.append((f"data/frames/{i}", "dir"))
            entries.append((f"data/audio_16k/{i}.wav", b""))
    entries += random_entries(data, ["data/clips", f"{top}/{kind}/no_caption/set_1"], [".mp4", ".txt", ""])
    raw = new_raw(tmp_path_factory)
    build(raw, entries)
    plan_or_named_error("mafw-43" if kind == "compound" else "mafw-11", raw)


@FUZZ
@given(st.data())
def test_dfew(tmp_path_factory, data):
    ids = [str(k) for k in range(1, 7)] + ["00003", " 4", "x"]
    row = st.lists(st.one_of(st.sampled_from(ids), st.integers(-1, 9).map(str), cell), min_size=0, max_size=4)
    good = st.tuples(st.sampled_from(ids), st.integers(0, 8).map(str)).map(list)
    folder = data.draw(st.sampled_from(["(single_labeled)", "(single-labeled)", ""]))
    entries = []
    for split in ("train", "test"):
        for k in range(1, 6):
            if data.draw(st.integers(0, 19)):
                entries.append((f"EmoLabel_DataSplit/{split}{folder}/set_{k}.csv",
                                csv_file(data, st.one_of(good, row), header=["video_name", "label"])))
    for i in range(1, 7):
        if data.draw(st.booleans()):
            entries.append((f"Clip/original/{i:05d}.mp4", b""))
    entries += random_entries(data, ["Clip/original", f"EmoLabel_DataSplit/train{folder}"], [".mp4", ".csv"])
    raw = new_raw(tmp_path_factory)
    build(raw, entries)
    plan_or_named_error("dfew", raw)


@FUZZ
@given(st.data())
def test_mer2024(tmp_path_factory, data):
    names = ["sample_1", "sample_2", "a.b", "日本", "../up"]
    good = st.tuples(st.sampled_from(names), st.sampled_from(["worried", "happy", "neutral", "angry", "surprise",
                                                              "sad", "HAPPY ", "joy", ""])).map(list)
    header = data.draw(st.sampled_from([["name", "discrete"], ["discrete", "name", "valence"], ["Name", "Emotion"]]))
    entries = [(data.draw(st.sampled_from(["label-disdim.csv", "video-labeled/label-disdim.csv"])),
                csv_file(data, good, header=header))]
    for n in names:
        if data.draw(st.booleans()):
            entries.append((f"video-labeled/{n}{data.draw(st.sampled_from(['.mp4', '.avi', '']))}", b""))
    entries += random_entries(data, ["video-labeled", ""], [".mp4", ".csv"])
    raw = new_raw(tmp_path_factory)
    build(raw, entries)
    plan_or_named_error("mer24-tv", raw)


def _coding_file(data, rows_good) -> tuple[str, object]:
    """A coding spreadsheet: random bytes named .xlsx, a real workbook of random cells, or a csv."""
    kind = data.draw(st.sampled_from(["xlsx", "xlsx", "bytes", "csv", "zip"]))
    header = data.draw(st.sampled_from([["Subject", "Filename", "Estimated Emotion"], ["Subject", "Filename"],
                                        ["subject", "x", "Emotion", "Filename"]]))
    rows = [header] + data.draw(st.lists(st.one_of(rows_good, st.lists(cell, max_size=4)), max_size=6))
    if kind == "bytes":
        return ".xlsx", data.draw(st.binary(max_size=80))
    if kind == "zip":  # a zip that is not a workbook
        import zipfile
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(data.draw(st.sampled_from(["x.txt", "[Content_Types].xml"])), data.draw(st.binary(max_size=40)))
        return ".xlsx", buf.getvalue()
    if kind == "csv":
        buf = io.StringIO()
        csv.writer(buf).writerows(rows)
        return ".csv", encode(buf.getvalue(), data)
    from openpyxl import Workbook
    book = Workbook()
    for row in rows:
        book.active.append([c if not isinstance(c, str) else "".join(ch for ch in c if ch.isprintable())
                            for c in row])
    buf = io.BytesIO()
    book.save(buf)
    return ".xlsx", buf.getvalue()


@FUZZ
@given(st.data())
def test_casme2_coding(tmp_path_factory, data):
    table = parse_composite(casme2.COMPOSITE)
    root = data.draw(st.sampled_from(["CASME2_RAW_selected", "Cropped"]))
    entries = [(f"{root}/{s}/{c}", "dir") for s, c in table]
    subj = st.one_of(st.sampled_from(["1", "01", "1.0", "sub01", "", " ", "x", "1e400", "nan", "inf"]), cell)
    good = st.tuples(subj, st.sampled_from(["EP02_01f", "EP19_05f", "x"]),
                     st.sampled_from(["happiness", "disgust", "others", "", "Surprise"])).map(list)
    suffix, content = _coding_file(data, good)
    entries.append((f"CASME2-coding-20140508{suffix}", content))
    raw = new_raw(tmp_path_factory)
    build(raw, entries)
    plan_or_named_error("casme-ii", raw)


@FUZZ
@given(st.data())
def test_samm_coding(tmp_path_factory, data):
    table = parse_composite(samm.COMPOSITE)
    entries = [(f"SAMM/{s}/{c}", "dir") for s, c in table]
    subj = st.one_of(st.sampled_from(["6", "006", "6.0", "", " ", "x", "-1", "1e400", "nan", "inf"]), cell)
    good = st.tuples(subj, st.sampled_from(["006_1_2", "007_6_1", "x"]),
                     st.sampled_from(["anger", "happiness", "other", "", "Surprise"])).map(list)
    suffix, content = _coding_file(data, good)
    entries.append((f"SAMM_Micro_FACS_Codes_v2{suffix}", content))
    raw = new_raw(tmp_path_factory)
    build(raw, entries)
    plan_or_named_error("samm", raw)


@FUZZ
@given(st.data())
def test_iemocap(tmp_path_factory, data):
    utt = st.one_of(st.tuples(st.sampled_from(["Ses01F", "Ses02M", "Ses05F", "Ses1F"]),
                              st.sampled_from(["impro01", "script01_1", "x"]),
                              st.sampled_from(["F000", "M001", "", "F_", "日"])).map("_".join), name)
    time = st.one_of(st.floats(0, 100).map(lambda f: f"{f:.4f}"), st.sampled_from(["1.2.3", ".", "..", "1."]))
    turn = st.tuples(time, time, utt, st.sampled_from(["ang", "hap", "exc", "neu", "sad", "xxx", "fru"])).map(
        lambda t: f"[{t[0]} - {t[1]}]\t{t[2]}\t{t[3]}\t[2.5, 2.5, 2.5]")
    entries = []
    for k in range(1, 6):
        base = f"Session{k}/dialog"
        if data.draw(st.integers(0, 29)):
            entries.append((f"{base}/EmoEvaluation", "dir"))
        if data.draw(st.booleans()):
            dialog = data.draw(st.sampled_from(["Ses01F_impro01", "x"]))
            lines = data.draw(st.lists(turn, max_size=4))
            entries.append((f"{base}/EmoEvaluation/{dialog}.txt", lines_file(data, st.sampled_from(lines or [""]))))
            for line in lines:
                u = line.split("\t")[1]
                if data.draw(st.booleans()) and "/" not in u:
                    entries.append((f"Session{k}/sentences/wav/{dialog}/{u}.wav", b""))
            if data.draw(st.booleans()):
                entries.append((f"{base}/avi/DivX/{dialog}.avi", b""))
    entries += random_entries(data, ["Session1/dialog/EmoEvaluation"], [".txt", ""])
    raw = new_raw(tmp_path_factory)
    build(raw, entries)
    plan_or_named_error("iemocap", raw)


@FUZZ
@given(st.data())
def test_avcaffe(tmp_path_factory, data):
    keys = ["aiim001_task_1", "aiim003_task_2", "aiim013_task_1", "aiim1_task_1", "x"]
    words = ["excited", "wide-awake", "Neutral", "calm", "pleasant", "unpleasant", "4", "5", "", "1.0"]
    line = st.tuples(st.sampled_from(keys), st.sampled_from(words)).map(lambda t: f"{t[0]}, {t[1]}")
    entries = []
    for attr in ("arousal", "valence"):
        if data.draw(st.integers(0, 19)):
            entries.append((f"ground_truths/{attr}.txt", lines_file(data, line)))
    if data.draw(st.booleans()):
        entries.append(("info/no_audio_files.txt", lines_file(data, st.sampled_from(["aiim001_task_1_1.avi", "x"]))))
    for key in keys[:3]:
        pid, _, task = key.partition("_")
        for j in range(data.draw(st.integers(0, 2))):
            entries.append((f"videos/shorter_segments/{pid}/{task}/{data.draw(st.sampled_from([str(j), key + '_1']))}"
                            ".avi", b""))
    entries += random_entries(data, ["videos/shorter_segments", "videos/shorter_segments/aiim001"],
                              ["", ".avi", "/task_1"])
    raw = new_raw(tmp_path_factory)
    build(raw, entries)
    plan_or_named_error("avcaffe", raw)
