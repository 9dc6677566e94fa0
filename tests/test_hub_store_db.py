"""The one way the hub writes a transaction: all of it or none of it; a savepoint undoes only
its own part, unless the disk failed."""

from __future__ import annotations

import sqlite3

import pytest

from hub.store.db import connect, savepoint, transaction


@pytest.fixture
def conn(tmp_path):
    c = connect(tmp_path / "t.db")
    c.execute("CREATE TABLE t (v INTEGER)")
    yield c
    c.close()


def values(conn) -> list[int]:
    return [r[0] for r in conn.execute("SELECT v FROM t ORDER BY v")]


def test_a_transaction_commits_what_it_did(conn):
    with transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
    assert values(conn) == [1] and not conn.in_transaction


def test_a_failing_transaction_leaves_nothing(conn):
    with pytest.raises(ValueError), transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        raise ValueError("bad row")
    assert values(conn) == [] and not conn.in_transaction


def test_a_failing_savepoint_undoes_only_its_part(conn):
    with transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(ValueError), savepoint(conn):
            conn.execute("INSERT INTO t VALUES (2)")
            raise ValueError("bad job")
        with savepoint(conn):
            conn.execute("INSERT INTO t VALUES (3)")
    assert values(conn) == [1, 3]


@pytest.mark.parametrize("failure", [OSError("disk full"), sqlite3.OperationalError("full")])
def test_a_disk_failure_in_a_savepoint_rolls_back_everything(conn, failure):
    with pytest.raises(type(failure)), transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        with savepoint(conn):
            conn.execute("INSERT INTO t VALUES (2)")
            raise failure
    assert values(conn) == [] and not conn.in_transaction
