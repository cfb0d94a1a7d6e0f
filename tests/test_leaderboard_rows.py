"""Leaderboard rows (issue #9): the main table shows the complete run, variants are labelled, `check` sees
corrupt store files."""
import pytest

from benchmarks import leaderboard, leaderboard_ablations, leaderboard_rows
from benchmarks.plan import plan
from benchmarks.request import suite_request
from benchmarks.store import ResultStore
from benchmark_fixtures import tiny_demo, use_env


@pytest.fixture()
def store(tmp_path, monkeypatch):
    use_env(monkeypatch, tmp_path)
    tiny_demo(tmp_path / "data")
    return ResultStore()


def _put(store, keys, uars, created):
    for key, uar in zip(keys, uars):
        store.put(key, {"scores": {"uar": float(uar), "war": float(uar), "wf1": float(uar)},
                        "created_at": created})


def _main_cell(files, model="avfmae-micro"):
    lines = [ln for ln in files["main.md"].splitlines() if ln.startswith("| Synthetic")]
    assert len(lines) == 1
    head = [h.strip() for h in files["main.md"].split("\n|")[0].split("|")]
    header = next(ln for ln in files["main.md"].splitlines() if ln.startswith("| dataset"))
    cols = [c.strip() for c in header.strip("|").split("|")]
    cells = [c.strip() for c in lines[0].strip("|").split("|")]
    assert head
    return cells[cols.index(model)]


def test_main_table_shows_the_complete_full_data_row_not_the_first_or_newest(store):
    def keys(**kw):
        items = {"stages": "3", **kw.pop("items", {})}
        return plan(suite_request("demo", "avfmae-micro", items=items, **kw), store).keys
    full = keys()                                   # 3 folds, all clips
    quick = keys(limit=6)                           # 3 folds, 6 clips
    partial = keys(items={"epochs": 2})[:1]         # 1 fold
    # the quick look and the partial row are newer, and the quick look sorts first by name
    _put(store, full, [40, 50, 60], "2026-01-01T00:00:00+00:00")
    _put(store, quick, [90, 91, 92], "2026-06-01T00:00:00+00:00")
    _put(store, partial, [99], "2026-07-01T00:00:00+00:00")
    files, problems = leaderboard.render(store)
    assert problems == []
    cell = _main_cell(files)
    mean = sum([40, 50, 60]) / 3        # the full row's per-fold UAR, averaged by hand
    assert cell.startswith(f"{mean:.2f}"), cell
    # the rows of the variants can be told apart in the per-task and per-fold tables
    rows = [ln for ln in files["cea.md"].splitlines() if ln.startswith("| Synthetic")]
    assert len(rows) == 3
    variants = {ln.split("|")[3].strip() for ln in rows}
    assert len(variants) == 3, variants
    assert any("first 6 clips" in v for v in variants) and any("stage3.epochs=2" in v for v in variants)
    # the main table says which row each cell shows
    assert "avfmae-micro on demo" in files["main.md"] and "first 6 clips" not in files["main.md"].split(
        "avfmae-micro on demo")[1].splitlines()[0]


def test_check_fails_on_a_truncated_result_file(store, tmp_path):
    key = plan(suite_request("demo", "avfmae-micro", items={"stages": "3"}), store).keys[0]
    _put(store, [key], [50], "2026-01-01T00:00:00+00:00")
    out = tmp_path / "boards"
    leaderboard.build(store, out)
    assert leaderboard.check(store, out) == []
    path = store.path(key)
    path.write_text(path.read_text()[:120])          # a result cut short (a full disk, a killed copy)
    diffs = leaderboard.check(store, out)
    assert any(str(path) in d and "not valid JSON" in d for d in diffs), diffs
    assert leaderboard.main(["check", "--out", str(out)]) == 1


def test_grid_reference_heads_its_table_and_claims_are_stated_as_measured(store):
    keys = plan(suite_request("demo", "avfmae-micro"), store).keys       # the claims grid's five arms x 3 folds
    by_arm = {}
    for k in keys:
        arm = "reference" if k.recipe.grid.endswith(":reference") else (
            dict(k.recipe.stage3).get("modalities") or k.recipe.stages)
        by_arm.setdefault(arm, []).append(k)
    assert sorted(by_arm) == ["1+3", "3", "audio", "reference", "video"]
    uar = {"reference": [70, 80, 90], "3": [30, 40, 50], "1+3": [60, 70, 80], "video": [80, 90, 100],
           "audio": [65, 70, 75]}
    for arm, ks in by_arm.items():
        _put(store, ks, uar[arm], "2026-01-01T00:00:00+00:00")
    files, _ = leaderboard.render(store)
    table = [ln for ln in files["ablations/claims.md"].splitlines() if ln.startswith("| avfmae-micro")]
    assert "reference:" in table[0] and len(table) == 5
    # deltas to the reference, by hand: mean(3) - mean(reference) = 40 - 80
    assert any("stages=3 [" in ln and "(Δ -40.00)" in ln for ln in table), table
    assert _main_cell(files).startswith("80.00")      # the main table shows the reference arm
    rows, _ = leaderboard_rows.collect(store)
    lines = leaderboard_ablations.claims(rows, "claims")
    verdict = {ln.split(" vs ")[1].split(" ")[0]: ln.rsplit("claim ", 1)[1] for ln in lines}
    assert len(lines) == 4
    assert [v for k, v in verdict.items() if k.endswith("stages=3")] == ["holds"]   # 80 > 40
    assert sum(v == "does NOT hold" for v in verdict.values()) == 1                 # video only: 90 > 80


def test_folds_run_with_other_runtime_fields_make_one_row(store):
    """fold1 run with --set progress=false, folds 2 and 3 later without it: the same recipe (the runtime fields
    are not part of a run's identity), so one complete row whose UAR is the mean of the three folds."""
    quiet = plan(suite_request("demo", "avfmae-micro", items={"stages": "3", "progress": False}), store).keys
    plain = plan(suite_request("demo", "avfmae-micro", items={"stages": "3"}), store).keys
    _put(store, quiet[:1], [30], "2026-01-01T00:00:00+00:00")
    _put(store, plain[1:], [60, 90], "2026-01-02T00:00:00+00:00")
    rows, problems = leaderboard_rows.collect(store)
    assert problems == [] and len(rows) == 1 and rows[0].complete
    assert rows[0].metric("uar").mean == pytest.approx((30 + 60 + 90) / 3)


def test_a_fold_rescored_with_a_replaced_file_shows_its_newest_result(store, tmp_path):
    """Per-fold weights 'm-{fold}.pth' (starting weights here; the eval protocol's are grouped the same way):
    fold2's file is replaced and fold2 run again (a new key: another sha).
    Both fold2 results belong to the one per-fold row; the row must show the newest, never whichever file the
    listing happens to read last. Checked both ways round (the store's file order is fixed by the signatures)."""
    for f in ("fold1", "fold2", "fold3"):
        (tmp_path / f"m-{f}.pth").write_bytes(f.encode())
    request = suite_request("demo", "avfmae-micro", weights=str(tmp_path / "m-{fold}.pth"), protocol="paper")
    first = {k.fold: k for k in plan(request, store).keys}
    (tmp_path / "m-fold2.pth").write_bytes(b"another fine-tuned file")
    second = {k.fold: k for k in plan(request, store).keys}
    assert first["fold2"].signature != second["fold2"].signature and first["fold1"] == second["fold1"]
    _put(store, [first["fold1"], first["fold3"]], [30, 90], "2026-01-01T00:00:00+00:00")
    for old_day, new_day, want in (("02", "03", 60), ("03", "02", 0)):
        _put(store, [first["fold2"]], [0], f"2026-01-{old_day}T00:00:00+00:00")
        _put(store, [second["fold2"]], [60], f"2026-01-{new_day}T00:00:00+00:00")
        rows, problems = leaderboard_rows.collect(store)
        assert problems == [] and len(rows) == 1 and rows[0].complete
        assert rows[0].metric("uar").mean == pytest.approx((30 + want + 90) / 3), (old_day, new_day)


def test_rows_of_two_weights_files_say_which_file(store, tmp_path):
    """One model fine-tuned from two files: two rows whose variant names each file's sha256 (computed here with
    hashlib), not only a cfg hash; a row from random init names no weights, and the main table's note says the
    weights once."""
    import hashlib

    shas = {}
    for name in ("a.pth", "b.pth"):
        (tmp_path / name).write_bytes(name.encode() * 100)
        shas[name] = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()[:8]
        keys = plan(suite_request("demo", "avfmae-micro", weights=str(tmp_path / name)), store).keys
        _put(store, keys, [50, 50, 50], "2026-01-01T00:00:00+00:00")
    _put(store, plan(suite_request("demo", "avfmae-micro", items={"stages": "3"}), store).keys, [40, 40, 40],
         "2026-01-01T00:00:00+00:00")
    files, problems = leaderboard.render(store)
    assert problems == []
    variants = sorted(ln.split("|")[3].strip() for ln in files["cea.md"].splitlines() if ln.startswith("| Synthetic"))
    assert len(variants) == 3
    assert sum(f"weights {shas['a.pth']}" in v for v in variants) == 1
    assert sum(f"weights {shas['b.pth']}" in v for v in variants) == 1
    assert sum("weights" not in v for v in variants) == 1
    note = next(ln for ln in files["main.md"].splitlines() if ln.startswith("- avfmae-micro on demo"))
    assert note.count("weights") == 1, note


def test_the_main_table_compares_fine_tuned_rows_with_the_paper_not_a_probe(tmp_path, monkeypatch):
    """avfmae-base on MAFW (11): a complete paper-protocol row and a newer complete linear-probe row. The cell
    shows the fine-tuned mean with its Δ to the paper's fine-tuned number (the row it sits beside); with only the
    probe row, the cell shows the probe's mean without a Δ."""
    from benchmarks.datasets import registry
    from benchmarks.runkey import RunKey

    use_env(monkeypatch, tmp_path)       # no data needed: results are put straight into the store
    store = ResultStore()
    spec = registry.get("mafw-11")
    paper_uar = spec.paper["avfmae-base"]["uar"]

    def put(protocol, uars, day):
        keys = [RunKey("avfmae-base", "", spec.name, "rev", protocol, "v1", f, 0, config_hash=f"{protocol}00")
                for f in spec.folds]
        _put(store, keys, uars, f"2026-01-{day}T00:00:00+00:00")
    put("probe", [30, 30, 30, 30, 40], "05")

    def cell():
        files, problems = leaderboard.render(store)
        assert problems == []
        line = next(ln for ln in files["main.md"].splitlines() if ln.startswith(f"| {spec.title} "))
        header = next(ln for ln in files["main.md"].splitlines() if ln.startswith("| dataset"))
        cols = [c.strip() for c in header.strip("|").split("|")]
        return [c.strip() for c in line.strip("|").split("|")][cols.index("avfmae-base")]
    assert cell().startswith(f"{32:.2f}") and "Δ" not in cell()
    put("paper", [40, 45, 50, 40, 45], "01")
    mean = (40 + 45 + 50 + 40 + 45) / 5
    assert cell().startswith(f"{mean:.2f}") and f"(Δ {mean - paper_uar:+.2f})" in cell(), cell()
