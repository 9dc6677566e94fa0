"""Property-based tests of the CSV imports and the seat-map input: whatever a user uploads,
the parser returns rows or refuses with line-and-field reasons; it never raises anything else
and never half-imports."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.seats import parse_seat_map
from hub.roster import (
    ROSTER_COLUMNS,
    TIMETABLE_COLUMNS,
    ImportRefused,
    parse_roster,
    parse_timetable,
)
from kuzet.errors import ConfigError

cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def parse_or_refuse(fn, text: str):
    try:
        return fn(text)
    except ImportRefused as exc:
        assert exc.errors, "a refusal must say which line and field"
        for err in exc.errors:
            assert str(err)
        return None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_any_text_as_a_roster(text):
    parse_or_refuse(parse_roster, text)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(cells, min_size=0, max_size=6), max_size=8),
       header=st.permutations(list(ROSTER_COLUMNS)))
def test_rosters_with_odd_cells(rows, header):
    result = parse_or_refuse(parse_roster, csv_text(header, rows))
    if result is not None:                   # accepted: blank rows skipped, the rest complete
        assert len(result) <= len(rows)
        assert all(r.group and r.name and r.student_no for r in result)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(cells, min_size=0, max_size=14), max_size=5),
       header=st.permutations(list(TIMETABLE_COLUMNS)))
def test_timetables_with_odd_cells(rows, header):
    parse_or_refuse(lambda t: parse_timetable(t, "Asia/Almaty"), csv_text(header, rows))


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | cells,
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(cells, c, max_size=4),
                    max_leaves=30))
def test_any_json_as_a_seat_map(data):
    try:
        spec = parse_seat_map(data, "upload")
    except ConfigError as exc:
        assert str(exc).startswith("upload: ")
        return
    assert spec.seats is not None
