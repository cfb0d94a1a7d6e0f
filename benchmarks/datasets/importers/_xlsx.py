"""Label spreadsheets as rows of cells: .xlsx through pandas (openpyxl engine), .csv through the csv module.

Several official label files are Excel workbooks (SAMM, CASME II, CAS(ME)^3, sometimes Werewolf-XL's PAD table).
The importers scan them row by row for a header, so `read_table` returns plain lists, header included: one list
per sheet row (blank rows included, so list index + 1 is the sheet's row number when the sheet starts at A1),
trailing empty cells dropped, cells as str / int / float / bool or None for an empty cell. A .csv export of the
same sheet gives the same shape (all cells str).
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd


def _cell(value):
    """pandas' cell (object dtype, empty cells read as "") -> None / str / int / float / bool."""
    if value is None or (isinstance(value, str) and value == ""):
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return int(value) if value.is_integer() else value
    return value


def read_xlsx(path: str | Path, sheet: str | None = None) -> list[list]:
    """Rows of one sheet (the first unless `sheet` names one, case-insensitively)."""
    with pd.ExcelFile(path, engine="openpyxl") as book:
        names = book.sheet_names
        if not names:
            raise ValueError(f"{path}: workbook has no sheets")
        if sheet is None:
            name = names[0]
        else:
            found = [n for n in names if n.lower() == sheet.lower()]
            if not found:
                raise ValueError(f"{path}: no sheet named {sheet!r} (sheets: {', '.join(names)})")
            name = found[0]
        # Every cell as written: no header row, no type inference, no "NA"/"None" strings turned into NaN.
        frame = pd.read_excel(book, sheet_name=name, header=None, dtype=object, keep_default_na=False,
                              na_values=[])
    rows = []
    for values in frame.itertuples(index=False, name=None):
        row = [_cell(v) for v in values]
        while row and row[-1] is None:
            row.pop()
        rows.append(row)
    return rows


def read_table(path: str | Path, sheet: str | None = None) -> list[list]:
    """Rows of an .xlsx sheet or of a .csv file (same shape: lists of cells, header included)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
            return [list(r) for r in csv.reader(f)]
    return read_xlsx(path, sheet)
