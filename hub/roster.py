"""Reading the timetable and the group rosters from CSV (pure: no SQL, no Flask).

Both files are UTF-8 (a BOM is allowed), comma-separated, with a header row; column order is
free, unknown columns are errors. Lists inside a cell are separated by ``;``.

Timetable (one exam session a row)::

    exam_code,discipline,groups,building,room,date,start,end,proctors,allowed_aids,examiner,…
    MATH1-A,Жоғары математика,ЭЭ-21;ЭЭ-22,main,a101,2026-11-26,09:00,12:00,aigerim,calculator,…

(then ``head_of_department`` and ``seating``: ``assigned`` or ``free``; see docs/workflow.md)

Roster (one student a row; ``seat`` is optional: the student's seat in their group's exams;
``photo`` is optional: the student's photo in the zip uploaded with it, ``hub.photos``)::

    group,student_no,name,seat,photo
    ЭЭ-21,210001,Әлия Нұрланқызы,r2s3,photos/aliya.jpg

A bad row is reported by line and field (``RowError``); the caller imports nothing then.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from kuzet.contract import NAME_RE

TIMETABLE_COLUMNS = ("exam_code", "discipline", "groups", "building", "room", "date", "start",
                     "end", "proctors", "allowed_aids", "examiner", "head_of_department",
                     "seating")
TIMETABLE_OPTIONAL = {"allowed_aids", "examiner", "head_of_department", "seating"}
ROSTER_COLUMNS = ("group", "student_no", "name", "seat", "photo")
ROSTER_OPTIONAL = {"seat", "photo"}
ALLOWED_AIDS = ("calculator", "phone", "tablet", "laptop", "book", "notes")
SEATING = ("assigned", "free")


@dataclass(frozen=True)
class RowError:
    """One problem: the CSV line (1 = the header), the column, what is wrong."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


class ImportRefused(ValueError):
    """The file has errors; nothing was imported."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(str(e) for e in errors[:20]))
        self.errors = errors


@dataclass
class ExamRow:
    line: int
    exam_code: str
    discipline: str
    groups: list[str]
    building: str
    room: str
    starts_at: datetime
    ends_at: datetime
    proctors: list[str]
    allowed_aids: list[str] = field(default_factory=list)
    examiner: str = ""
    head_of_department: str = ""
    seating: str = "assigned"


@dataclass
class StudentRow:
    line: int
    group: str
    student_no: str
    name: str
    seat: str | None = None
    photo: str | None = None                 # a file of the photos' zip


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()]


def _rows(text: str, columns: tuple[str, ...], optional: set[str],
          errors: list[RowError]) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    out = []
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        for name in header:
            if name not in columns:
                errors.append(RowError(1, name or "(empty)", "unknown column"))
        for name in columns:
            if name not in header and name not in optional:
                errors.append(RowError(1, name, "missing column"))
        if errors:
            return []
        for row in reader:
            line = reader.line_num
            if None in row:
                errors.append(RowError(line, "(row)", "more cells than columns"))
                continue
            cells = {k: (v or "").strip() for k, v in row.items()}
            if not any(cells.values()):
                continue
            out.append((line, cells))
    except csv.Error as exc:                 # e.g. a stray quote or carriage return
        errors.append(RowError(reader.line_num or 1, "(file)", f"not valid CSV: {exc}"))
        return []
    return out


def _need(cells: dict[str, str], name: str, line: int, errors: list[RowError]) -> str:
    value = cells.get(name, "")
    if not value:
        errors.append(RowError(line, name, "empty"))
    elif len(value) > 200:
        errors.append(RowError(line, name, "longer than 200 characters"))
    return value


def parse_timetable(text: str, timezone: str) -> list[ExamRow]:
    """Every exam of the timetable, or ImportRefused listing every bad line and field."""
    errors: list[RowError] = []
    tz = ZoneInfo(timezone)
    exams: list[ExamRow] = []
    codes: dict[str, int] = {}
    for line, c in _rows(text, TIMETABLE_COLUMNS, TIMETABLE_OPTIONAL, errors):
        before = len(errors)
        code = _need(c, "exam_code", line, errors)
        if code in codes:
            errors.append(RowError(line, "exam_code", f"also on line {codes[code]}"))
        codes.setdefault(code, line)
        discipline = _need(c, "discipline", line, errors)
        groups = _split(c.get("groups", ""))
        if not groups:
            errors.append(RowError(line, "groups", "empty"))
        where = {}
        for name in ("building", "room"):
            where[name] = _need(c, name, line, errors)
            if where[name] and not NAME_RE.match(where[name]):
                errors.append(RowError(line, name, "letters, digits, '-' or '_' only"))
        starts = ends = None
        try:
            day = date.fromisoformat(_need(c, "date", line, errors) or "x")
        except ValueError:
            day = None
            if c.get("date"):
                errors.append(RowError(line, "date", "not a date (YYYY-MM-DD)"))
        times = {}
        for name in ("start", "end"):
            try:
                times[name] = time.fromisoformat(_need(c, name, line, errors) or "x")
            except ValueError:
                if c.get(name):
                    errors.append(RowError(line, name, "not a time (HH:MM)"))
        if day and len(times) == 2:
            starts = datetime.combine(day, times["start"], tz)
            ends = datetime.combine(day, times["end"], tz)
            if ends <= starts:
                errors.append(RowError(line, "end", "not after the start"))
        proctors = _split(c.get("proctors", ""))
        if not proctors:
            errors.append(RowError(line, "proctors", "empty"))
        aids = _split(c.get("allowed_aids", ""))
        for aid in aids:
            if aid not in ALLOWED_AIDS:
                errors.append(RowError(line, "allowed_aids",
                                       f"{aid!r} is not one of {', '.join(ALLOWED_AIDS)}"))
        seating = c.get("seating") or "assigned"
        if seating not in SEATING:
            errors.append(RowError(line, "seating", "assigned or free"))
        if len(errors) == before and starts and ends:
            exams.append(ExamRow(line, code, discipline, groups, where["building"],
                                 where["room"], starts, ends, proctors, aids,
                                 c.get("examiner", ""), c.get("head_of_department", ""),
                                 seating))
    if errors:
        raise ImportRefused(errors)
    return exams


def parse_roster(text: str) -> list[StudentRow]:
    """Every student of the roster, or ImportRefused listing every bad line and field."""
    errors: list[RowError] = []
    students: list[StudentRow] = []
    seen: dict[str, int] = {}
    for line, c in _rows(text, ROSTER_COLUMNS, ROSTER_OPTIONAL, errors):
        group = _need(c, "group", line, errors)
        number = _need(c, "student_no", line, errors)
        name = _need(c, "name", line, errors)
        seat = c.get("seat") or None
        if seat and not NAME_RE.match(seat):
            errors.append(RowError(line, "seat", "letters, digits, '-' or '_' only"))
        photo = c.get("photo") or None
        if photo and len(photo) > 200:
            errors.append(RowError(line, "photo", "longer than 200 characters"))
        if number in seen:
            errors.append(RowError(line, "student_no", f"also on line {seen[number]}"))
        seen.setdefault(number, line)
        if group and number and name:
            students.append(StudentRow(line, group, number, name, seat, photo))
    if errors:
        raise ImportRefused(errors)
    return students
