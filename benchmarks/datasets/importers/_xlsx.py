"""A small reader for .xlsx label files (and a writer for test fixtures), using only the standard library.

Several official label files are Excel workbooks (MAFW, SAMM, CASME II, CAS(ME)^3, MMEW). An .xlsx file is
a zip of XML parts; the cells we need are plain strings and numbers, so ~100 lines replace an openpyxl
dependency. `read_table` also takes a .csv export of the same sheet.
"""
from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CELL_REF = re.compile(r"([A-Z]+)(\d+)")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _text(elem) -> str:
    return "".join(t.text or "" for t in elem.iter() if _local(t.tag) == "t")


def sheet_names(path: str | Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        wb = ET.fromstring(zf.read("xl/workbook.xml"))
    return [s.get("name") for s in wb.iter() if _local(s.tag) == "sheet"]


def read_xlsx(path: str | Path, sheet: str | None = None) -> list[list]:
    """Rows of one sheet (the first unless `sheet` names one, case-insensitively) as lists of str/int/float/None."""
    with zipfile.ZipFile(path) as zf:
        wb = ET.fromstring(zf.read("xl/workbook.xml"))
        sheets = [(s.get("name"), s.get(f"{{{_NS_REL}}}id")) for s in wb.iter() if _local(s.tag) == "sheet"]
        if not sheets:
            raise ValueError(f"{path}: workbook has no sheets")
        if sheet is None:
            name, rid = sheets[0]
        else:
            found = [(n, r) for n, r in sheets if n.lower() == sheet.lower()]
            if not found:
                raise ValueError(f"{path}: no sheet named {sheet!r} (sheets: {', '.join(n for n, _ in sheets)})")
            name, rid = found[0]
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
        target = next(r.get("Target") for r in rels if r.get("Id") == rid)
        target = target.lstrip("/")
        part = target if target.startswith("xl/") else f"xl/{target}"
        shared: list[str] = []
        if "xl/sharedStrings.xml" in zf.namelist():
            sst = ET.fromstring(zf.read("xl/sharedStrings.xml"))
            shared = [_text(si) for si in sst if _local(si.tag) == "si"]
        root = ET.fromstring(zf.read(part))
    rows: list[list] = []
    for row in root.iter(f"{{{_NS_MAIN}}}row"):
        values: dict[int, object] = {}
        for pos, cell in enumerate(c for c in row if _local(c.tag) == "c"):
            ref = cell.get("r")
            col = _column_index(_CELL_REF.match(ref).group(1)) if ref else pos
            kind = cell.get("t", "n")
            v = next((c for c in cell if _local(c.tag) == "v"), None)
            if kind == "inlineStr":
                value: object = _text(cell)
            elif v is None or v.text is None:
                value = None
            elif kind == "s":
                value = shared[int(v.text)]
            elif kind in ("str", "e"):
                value = v.text
            elif kind == "b":
                value = v.text == "1"
            else:
                num = float(v.text)
                value = int(num) if num.is_integer() else num
            values[col] = value
        width = max(values) + 1 if values else 0
        rows.append([values.get(i) for i in range(width)])
    return rows


def read_table(path: str | Path, sheet: str | None = None) -> list[list]:
    """Rows of an .xlsx sheet or of a .csv file (same shape: lists of cells, header included)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
            return [list(r) for r in csv.reader(f)]
    return read_xlsx(path, sheet)


def write_xlsx(path: str | Path, sheets: dict[str, list[list]] | list[list]) -> Path:
    """Write a minimal workbook (inline strings and numbers). Used to build fixtures in tests."""
    if not isinstance(sheets, dict):
        sheets = {"Sheet1": sheets}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def esc(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")

    def col_letters(i: int) -> str:
        out = ""
        i += 1
        while i:
            i, r = divmod(i - 1, 26)
            out = chr(65 + r) + out
        return out

    names = list(sheets)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
            'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+'
            'xml"/>' + "".join(
                f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="application/vnd.'
                'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' for i in range(len(names)))
            + "</Types>"))
        zf.writestr("_rels/.rels", (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_NS_PKG}"><Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'))
        zf.writestr("xl/workbook.xml", (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}"><sheets>'
            + "".join(f'<sheet name="{esc(n)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, n in enumerate(names))
            + "</sheets></workbook>"))
        zf.writestr("xl/_rels/workbook.xml.rels", (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_NS_PKG}">' + "".join(
                f'<Relationship Id="rId{i + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                f'relationships/worksheet" Target="worksheets/sheet{i + 1}.xml"/>' for i in range(len(names)))
            + "</Relationships>"))
        for i, name in enumerate(names):
            body = []
            for r, row in enumerate(sheets[name], start=1):
                cells = []
                for c, value in enumerate(row):
                    ref = f"{col_letters(c)}{r}"
                    if value is None:
                        continue
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        cells.append(f'<c r="{ref}"><v>{value}</v></c>')
                    else:
                        cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{esc(str(value))}</t></is></c>')
                body.append(f'<row r="{r}">{"".join(cells)}</row>')
            zf.writestr(f"xl/worksheets/sheet{i + 1}.xml", (
                f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_NS_MAIN}"><sheetData>'
                + "".join(body) + "</sheetData></worksheet>"))
    return path
