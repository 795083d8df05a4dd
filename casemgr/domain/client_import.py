"""The client import file: its documented columns and the rules for reading one row.

Pure parsing (no Flask, no database): bytes in, typed values and (row, column, message)
errors out. Rules that need the database (duplicates, MRNs in use, counselors) and the
face-sheet rules shared with the intake form are applied by casemgr.transfer.services.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from . import codes
from .codes import Codes, codes_of
from .face_sheet import SCALAR_FIELDS as SCALAR_COLUMNS
from .text import fold, format_mrn, is_valid_mrn

MAX_ROWS = (
    1000  # one request imports them all: ~15 statements per row, well within the worker timeout
)
MRN_MAX_LENGTH = 16  # clients.mrn column
# A given MRN moves the sequence up to it: refuse numbers that would run it out of room.
MRN_MAX_NUMBER = 99_999_999
SUBSTANCE_PREFIXES = ("primary", "secondary", "tertiary")

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT = re.compile(r"^\d{1,4}$")
_PHONE = re.compile(r"^[0-9+()\-. x]*$")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text, phone, date, code, codes, int, mrn, login
    required: bool = False
    max_len: int = 0
    codes: Codes = ()
    bounds: tuple[int, int] = (0, 0)
    note: str = ""  # when an optional column becomes required, or what blank means

    def format(self, mrn_prefix: str) -> str:
        """How a cell of this column is written, for the documentation table."""
        if self.kind == "text":
            return f"Text, at most {self.max_len} characters"
        if self.kind == "phone":
            return f"Digits, spaces and + ( ) - . x; at most {self.max_len} characters"
        if self.kind == "date":
            return "Date, YYYY-MM-DD (e.g. 1990-04-02)"
        if self.kind == "code":
            return "One code from the list"
        if self.kind == "codes":
            return "Codes from the list, separated by ; (e.g. medicaid;private)"
        if self.kind == "int":
            return f"Whole number, {self.bounds[0]}–{self.bounds[1]}"
        if self.kind == "mrn":
            return f"Facility MRN with its check digit, e.g. {format_mrn(mrn_prefix, 123)}"
        return "A staff login name"


def _text(name: str, max_len: int, *, required: bool = False, note: str = "") -> Column:
    return Column(name, "text", required=required, max_len=max_len, note=note)


def _substance_columns(prefix: str, required: bool) -> list[Column]:
    when = "" if required else f"Required when {prefix}_substance is given."
    return [
        Column(f"{prefix}_substance", "code", required=required, codes=codes.SUBSTANCES),
        Column(f"{prefix}_route", "code", required=required, codes=codes.ROUTES, note=when),
        Column(
            f"{prefix}_frequency",
            "code",
            required=required,
            codes=codes.FREQUENCIES,
            note=when or "Use in the last 30 days.",
        ),
        Column(f"{prefix}_age_first_use", "int", bounds=(1, 120)),
    ]


COLUMNS: tuple[Column, ...] = (
    _text("legal_first_name", 80, required=True),
    _text("legal_last_name", 80, required=True),
    _text("preferred_name", 80),
    _text("pronouns", 40),
    Column("date_of_birth", "date", required=True),
    Column("sex", "code", required=True, codes=codes.SEXES),
    _text("gender_identity", 60),
    Column("phone", "phone", max_len=40),
    _text("address", 200),
    _text("primary_language", 40, note="Blank means English."),
    _text("emergency_contact_name", 120),
    _text("emergency_contact_relationship", 60),
    Column("emergency_contact_phone", "phone", max_len=40),
    _text("guardian_name", 120, note="Required for a client under 18."),
    _text("guardian_relationship", 60),
    Column("guardian_phone", "phone", max_len=40),
    Column("first_contact_on", "date", required=True),
    Column("referral_source", "code", required=True, codes=codes.REFERRAL_SOURCES),
    Column(
        "funding",
        "codes",
        required=True,
        codes=codes.FUNDING_KINDS,
        note="At least one (self_pay if none).",
    ),
    _text("medicaid_id", 60, note="Only with medicaid funding."),
    _text("medicare_id", 60, note="Only with medicare funding."),
    _text("private_payer", 120, note="Required with private funding."),
    _text("private_member_id", 60, note="Only with private funding."),
    _text("employer_payer", 120, note="Only with employer funding."),
    _text("employer_member_id", 60, note="Only with employer funding."),
    *_substance_columns("primary", True),
    *_substance_columns("secondary", False),
    *_substance_columns("tertiary", False),
    Column("prior_treatment_episodes", "int", bounds=(0, 99), note="Blank means 0."),
    Column("overdoses_lifetime", "int", bounds=(0, 99), note="Blank means 0."),
    Column("last_overdose_on", "date"),
    _text("co_occurring", 255),
    Column("pregnant", "code", codes=codes.PREGNANCY, note="Blank means unknown."),
    Column("risk_flags", "codes", codes=codes.RISK_FLAGS),
    Column(
        "mrn",
        "mrn",
        note="Blank: a new MRN is issued. Given: it must be unused and valid; "
        "later MRNs are issued above it.",
    ),
    Column(
        "admitted_on",
        "date",
        note="Given: an episode is opened in intake on that date. Blank: no episode.",
    ),
    Column(
        "counselor_login",
        "login",
        note="Primary counselor of the episode (an active counselor); needs admitted_on.",
    ),
)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
REQUIRED: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)

_DEFAULTS: dict[str, Any] = {
    "primary_language": "English",
    "prior_treatment_episodes": 0,
    "overdoses_lifetime": 0,
    "pregnant": "unknown",
}
# Funding kind -> (payer column, member id column).
MEMBER_COLUMNS = {
    "medicaid": ("", "medicaid_id"),
    "medicare": ("", "medicare_id"),
    "private": ("private_payer", "private_member_id"),
    "employer": ("employer_payer", "employer_member_id"),
}


@dataclass(frozen=True, order=True)
class RowError:
    row: int  # the spreadsheet row: 1 is the header; 0 is the file as a whole
    column: str
    message: str


@dataclass
class Table:
    columns: list[str] = field(default_factory=list)
    records: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ParsedRow:
    """One data row. A value is None when its cell was blank or wrong (see errors)."""

    number: int
    face: dict[str, Any] = field(default_factory=dict)
    risk_flags: tuple[str, ...] = ()
    funding: tuple[tuple[str, str, str], ...] = ()  # (kind, payer, member id)
    substances: tuple[tuple[str, str, str, int | None], ...] = ()
    mrn: str | None = None
    mrn_number: int | None = None
    admitted_on: date | None = None
    counselor_login: str | None = None
    errors: list[RowError] = field(default_factory=list)

    @property
    def identity(self) -> tuple[str, str, date] | None:
        """Legal name and date of birth: the same person entered twice."""
        first, last = self.face.get("legal_first_name"), self.face.get("legal_last_name")
        born = self.face.get("date_of_birth")
        return (fold(first), fold(last), born) if first and last and born else None


class CellError(ValueError):
    pass


def _shown(value: str) -> str:
    """A cell value quoted in an error message, cut short."""
    return repr(value if len(value) <= 40 else value[:40] + "…")


# ---------------------------------------------------------------- the file


def read_table(data: bytes, max_rows: int = MAX_ROWS) -> Table:
    """Decode and split the file; check the header. Errors here stop the whole file."""
    table = Table()
    text = _decode(data, table)
    if text is None:
        return table
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        _read_rows(reader, table, max_rows)
    except csv.Error as exc:
        table.errors.append(
            RowError(0, "", f"The file is not valid CSV near line {reader.line_num}: {exc}.")
        )
    if not table.errors and not table.records:
        table.errors.append(RowError(0, "", "The file has a header but no client rows."))
    return table


def _decode(data: bytes, table: Table) -> str | None:
    def fail(message: str) -> None:
        table.errors.append(RowError(0, "", message))

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        fail(
            f"Line {line} is not UTF-8 text. In your spreadsheet, save the file as "
            "“CSV UTF-8 (comma delimited)” and upload it again."
        )
        return None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        fail(f"Line {line} contains a NUL byte: this does not look like a CSV text file.")
        return None
    if not text.strip():
        fail("The file is empty.")
        return None
    return text


def _read_rows(reader: Any, table: Table, max_rows: int) -> None:
    for number, cells in enumerate(reader, start=1):
        if number == 1:
            _read_header(cells, table)
            if table.errors:
                return
            continue
        if not any(c.strip() for c in cells):
            continue  # blank lines and rows of empty cells
        extra = cells[len(table.columns) :]
        if any(c.strip() for c in extra):
            table.errors.append(
                RowError(
                    number,
                    "",
                    f"This row has {len(cells)} cells but the header has "
                    f"{len(table.columns)} columns.",
                )
            )
            continue
        if len(table.records) >= max_rows:
            table.errors.append(
                RowError(number, "", f"The file has more than {max_rows} client rows; split it.")
            )
            return
        cells = (cells + [""] * len(table.columns))[: len(table.columns)]
        table.records.append((number, dict(zip(table.columns, cells, strict=True))))


def _read_header(cells: list[str], table: Table) -> None:
    names = [c.strip().lower() for c in cells]
    while names and not names[-1]:
        names.pop()  # spreadsheets sometimes write empty trailing columns
    errors = table.errors
    if not any(names):
        errors.append(RowError(1, "", "Row 1 must be the header row with the column names."))
        return
    if len(names) == 1 and ";" in names[0]:
        errors.append(
            RowError(1, "", "The columns are separated by ';'. Save the file as CSV with commas.")
        )
        return
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            errors.append(RowError(1, f"column {position}", "This column has no name."))
        elif name not in BY_NAME:
            errors.append(
                RowError(1, name, "Unknown column: rename it to a documented column or remove it.")
            )
        elif name in seen:
            errors.append(RowError(1, name, "This column appears twice."))
        seen.add(name)
    for name in REQUIRED:
        if name not in seen:
            errors.append(RowError(1, name, "This required column is missing."))
    table.columns = names


# ---------------------------------------------------------------- one row


def parse_row(number: int, cells: dict[str, str], mrn_prefix: str) -> ParsedRow:
    row = ParsedRow(number)
    values: dict[str, Any] = {}
    for column in COLUMNS:
        raw = (cells.get(column.name) or "").strip()
        if not raw:
            if column.required:
                row.errors.append(RowError(number, column.name, "Required."))
            continue
        try:
            values[column.name] = _parse_cell(column, raw, mrn_prefix)
        except CellError as exc:
            row.errors.append(RowError(number, column.name, str(exc)))
    row.face = {n: values.get(n, _DEFAULTS.get(n, "")) for n in SCALAR_COLUMNS}
    for name in ("date_of_birth", "first_contact_on", "last_overdose_on"):
        row.face[name] = values.get(name)
    row.risk_flags = tuple(values.get("risk_flags", ()))
    row.funding = _funding(row, values)
    row.substances = _substances(row, values)
    row.mrn = values.get("mrn")
    row.mrn_number = int(row.mrn[len(mrn_prefix) : -1]) if row.mrn else None
    row.admitted_on = values.get("admitted_on")
    row.counselor_login = values.get("counselor_login")
    if row.counselor_login and "admitted_on" not in values:
        row.errors.append(
            RowError(number, "counselor_login", "A counselor needs an admission (admitted_on).")
        )
    return row


def _parse_cell(column: Column, raw: str, mrn_prefix: str) -> Any:
    if column.kind in ("text", "phone"):
        return _parse_text(column, raw)
    if column.kind == "date":
        return parse_date(raw)
    if column.kind == "code":
        return _parse_code(column, raw)
    if column.kind == "codes":
        return tuple(dict.fromkeys(_parse_code(column, part) for part in _split(raw)))
    if column.kind == "int":
        return _parse_int(column, raw)
    if column.kind == "mrn":
        return parse_mrn(raw, mrn_prefix)
    return _parse_text(Column(column.name, "text", max_len=64), raw)


def _parse_text(column: Column, raw: str) -> str:
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in raw):
        raise CellError(
            "Remove invisible or control characters (line breaks, tabs) from this cell."
        )
    if len(raw) > column.max_len:
        raise CellError(f"Too long: at most {column.max_len} characters.")
    if column.kind == "phone" and not _PHONE.match(raw):
        raise CellError("Use digits, spaces and + ( ) - . x only.")
    return raw


def parse_date(raw: str) -> date:
    if _DATE.match(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise CellError(f"Not a valid date: {_shown(raw)}. Write dates as YYYY-MM-DD.")


def _parse_code(column: Column, raw: str) -> str:
    code = raw.strip().lower()
    if code not in codes_of(column.codes):
        allowed = ", ".join(c for c, _ in column.codes)
        raise CellError(f"Unknown code {_shown(raw.strip())}. Allowed: {allowed}.")
    return code


def _split(raw: str) -> list[str]:
    return [part for part in (p.strip() for p in raw.split(";")) if part]


def _parse_int(column: Column, raw: str) -> int:
    low, high = column.bounds
    if not _INT.match(raw) or not low <= int(raw) <= high:
        raise CellError(f"Not a whole number from {low} to {high}: {_shown(raw)}.")
    return int(raw)


def parse_mrn(raw: str, prefix: str) -> str:
    ok = len(raw) <= MRN_MAX_LENGTH and is_valid_mrn(prefix, raw)
    number = int(raw[len(prefix) : -1]) if ok else 0
    if not ok or not 1 <= number <= MRN_MAX_NUMBER or format_mrn(prefix, number) != raw:
        raise CellError(
            f"Not a valid MRN for this facility: {_shown(raw)} "
            f"(expected e.g. {format_mrn(prefix, 123)}, check digit included)."
        )
    return raw


def _funding(row: ParsedRow, values: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
    kinds = values.get("funding", ())
    for kind, (payer_col, member_col) in MEMBER_COLUMNS.items():
        for col in (payer_col, member_col):
            if col and values.get(col) and kind not in kinds:
                row.errors.append(
                    RowError(row.number, col, f"Given, but funding does not include {kind}.")
                )
    if "private" in kinds and not values.get("private_payer"):
        row.errors.append(
            RowError(row.number, "private_payer", "Name the insurance payer (private funding).")
        )
    result = []
    for kind in kinds:
        payer_col, member_col = MEMBER_COLUMNS.get(kind, ("", ""))
        result.append(
            (kind, values.get(payer_col, "") if payer_col else "", values.get(member_col, ""))
        )
    return tuple(result)


def _substances(
    row: ParsedRow, values: dict[str, Any]
) -> tuple[tuple[str, str, str, int | None], ...]:
    uses = []
    for prefix in SUBSTANCE_PREFIXES:
        substance = values.get(f"{prefix}_substance")
        details = [f"{prefix}_{part}" for part in ("route", "frequency", "age_first_use")]
        if not substance:
            for name in details:
                if values.get(name) is not None:
                    row.errors.append(
                        RowError(row.number, name, f"Given without {prefix}_substance.")
                    )
            continue
        failed = {e.column for e in row.errors}
        for name in details[:2]:
            if not values.get(name) and name not in failed:
                row.errors.append(RowError(row.number, name, f"Required with {prefix}_substance."))
        uses.append(
            (
                substance,
                values.get(f"{prefix}_route", ""),
                values.get(f"{prefix}_frequency", ""),
                values.get(f"{prefix}_age_first_use"),
            )
        )
    return tuple(uses)
