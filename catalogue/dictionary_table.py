"""Reading the tables a data dictionary is kept in: CSV (UTF-8; comma, semicolon or tab)
and XLSX workbooks, with every problem located by line and column."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

#: Every column, in the order tables are written; required ones must be in the header.
COLUMNS = (
    "wave", "wave_label_fr", "wave_label_en", "wave_start", "wave_end", "wave_mode",
    "instrument", "instrument_label_fr", "instrument_label_en",
    "question_id", "question_text_fr", "question_text_en",
    "variable", "label_fr", "label_en", "description_fr", "description_en",
    "response_type", "code_list", "categories", "missing_codes", "unit",
    "concept", "universe", "universe_label_fr", "universe_label_en",
    "source", "access",
)
REQUIRED_COLUMNS = ("wave", "variable", "label_fr", "label_en", "response_type")


class Problems:
    """Located problems, collected so that all of them are reported at once."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.study_file = file
        self.errors: list[dict[str, Any]] = []

    def add(self, line: int, column: str | None, message: str, file: str | None = None) -> None:
        self.errors.append({"file": file or self.file, "line": line, "column": column,
                            "message": message})

    def __len__(self) -> int:
        return len(self.errors)


@dataclass(frozen=True, slots=True)
class Table:
    """A header (normalised column names) and ``(line, cells)`` rows of the same width."""

    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]


def read_table(path: Path, problems: Problems, columns: tuple[str, ...] = COLUMNS,
               required: tuple[str, ...] = REQUIRED_COLUMNS) -> Table | None:
    """The variables table of a .csv or .xlsx file; None when it cannot be read at all."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        sheets = _read_workbook(path, problems)
        if sheets is None:
            return None
        name = "variables" if "variables" in sheets else next(
            (s for s in sheets if s != "study"), "")
        raw = sheets.get(name, [])
    elif suffix in (".csv", ".txt"):
        text = _read_utf8(path, problems)
        raw = _csv_rows(text, problems) if text is not None else []
        if text is None:
            return None
    else:
        problems.add(0, None, f"unsupported file type {suffix or '(none)'}; use .csv or .xlsx")
        return None
    raw = [(line, cells) for line, cells in raw if any(c.strip() for c in cells)]
    if not raw:
        problems.add(1, None, "the file is empty: expected a header row naming the columns "
                     f"({', '.join(required)}, ...)")
        return None
    header_line, header_cells = raw[0]
    header = tuple(_column_name(c) for c in header_cells)
    seen: set[str] = set()
    for name, written in zip(header, header_cells, strict=True):
        if not name:
            continue
        if name in seen:
            problems.add(header_line, written, f"column {name} appears twice in the header")
        elif name not in columns:
            problems.add(header_line, written, f"unknown column {written.strip()!r}; the "
                         f"columns are {', '.join(columns)}")
        seen.add(name)
    for name in required:
        if name not in seen:
            problems.add(header_line, name, f"missing column {name}; the header must name "
                         f"{', '.join(required)}")
    rows = []
    for line, cells in raw[1:]:
        extra = [c for c in cells[len(header):] if c.strip()]
        if extra:
            problems.add(line, None, f"the row has {len(cells)} cells but the header names "
                         f"{len(header)} columns")
        cells = (cells + [""] * len(header))[:len(header)]
        rows.append((line, tuple(c.strip() for c in cells)))
    return Table(header, tuple(rows))


def read_study_table(path: Path, study_path: Path | None,
                     problems: Problems) -> list[tuple[int, str, str]] | None:
    """``(line, field, value)`` rows of the study facts, or None when there are none."""
    if study_path is None and path.suffix.lower() == ".xlsx":
        sheets = _read_workbook(path, problems, quiet=True) or {}
        problems.study_file = f"{path.name}#study"
        raw = sheets.get("study")
    else:
        study_path = study_path or path.with_name(path.stem + ".study.csv")
        if not study_path.exists():
            return None
        problems.study_file = study_path.name
        inner = Problems(study_path.name)
        text = _read_utf8(study_path, inner)
        raw = _csv_rows(text, inner) if text is not None else []
        problems.errors.extend(inner.errors)
    if raw is None:
        return None
    out = []
    for line, cells in raw:
        cells = [c.strip() for c in cells] + ["", ""]
        if line == raw[0][0] and [_column_name(c) for c in cells[:2]] == ["field", "value"]:
            continue
        if cells[0] or cells[1]:
            out.append((line, cells[0], cells[1]))
    return out


def _column_name(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def _read_utf8(path: Path, problems: Problems) -> str | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.add(0, None, f"cannot read the file: {exc.strerror}")
        return None
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        problems.add(1, None, "the file is empty: expected a header row naming the columns "
                     f"({', '.join(REQUIRED_COLUMNS)}, ...)")
        return None
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = line[exc.start:exc.end]
            problems.add(number, None, f"byte {exc.start + 1} (0x{bad[0]:02X}) is not valid "
                         "UTF-8; save the file as UTF-8 (\"CSV UTF-8\" in Excel)")
    return data.decode("utf-8", errors="replace")


def _csv_rows(text: str, problems: Problems) -> list[tuple[int, list[str]]]:
    first = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first.count) if first.count(",") < max(
        first.count(";"), first.count("\t")) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        problems.add(start, None, f"the CSV cannot be read from here: {exc}")
    return rows


def _read_workbook(path: Path, problems: Problems,
                   quiet: bool = False) -> dict[str, list[tuple[int, list[str]]]] | None:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as exc:
        if not quiet:
            problems.add(0, None, f"not a readable .xlsx workbook ({type(exc).__name__}); "
                         "save it again from the spreadsheet program")
        return None
    try:
        sheets: dict[str, list[tuple[int, list[str]]]] = {}
        for sheet in book.worksheets:
            rows = []
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                rows.append((number, [_cell_text(v) for v in values]))
            sheets[sheet.title.strip().lower()] = rows
        return sheets
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else (
            value.isoformat())
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
