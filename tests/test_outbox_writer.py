"""A full disk loses no alert: the reserve is given up first, then messages wait in memory and
go into the outbox, in order, once there is room."""

from __future__ import annotations

import sqlite3

from edge.capture.supervisor import SourceStatus
from edge.health import health_reasons
from edge.outbox import Outbox
from edge.outbox_writer import OutboxWriter
from kuzet import contract

ORIGIN = contract.Origin(building="main", room="a101", node="cam1")


class FullDisk:
    """An outbox (the shape ``OutboxWriter`` uses) on a disk that is full until ``free()``."""

    def __init__(self) -> None:
        self.rows: list[str] = []
        self.full = True

    def add(self, msg_id, topic, payload, qos=1, attachment=None) -> int:
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")
        self.rows.append(msg_id)
        return len(self.rows)

    def free(self) -> None:
        self.full = False


def message() -> contract.CommandReply:
    """Any message will do: the writer only needs its id and its bytes."""
    return contract.CommandReply(origin=ORIGIN, command_id=contract.new_id(), ok=True,
                                 sent_at=contract.utcnow())


def test_a_message_goes_into_the_outbox_with_its_topic(tmp_path):
    outbox = Outbox(tmp_path / "outbox.db")
    writer = OutboxWriter(outbox, ORIGIN)
    msg = message()
    writer.put(msg, "alert", attachment="/data/evidence/x.jpg")
    [item] = outbox.pending()
    assert item.msg_id == msg.id and item.topic == "kuzet/v1/main/a101/cam1/alert"
    assert item.attachment == "/data/evidence/x.jpg" and writer.held == 0


def test_the_reserve_is_given_up_before_anything_is_held():
    disk = FullDisk()
    released = []

    def release() -> bool:
        released.append(True)
        disk.free()                      # the ballast file's room
        return True

    writer = OutboxWriter(disk, ORIGIN, make_room=release)   # type: ignore[arg-type]
    msg = message()
    writer.put(msg, "alert")
    assert released == [True] and disk.rows == [msg.id] and writer.held == 0


def test_without_room_messages_are_held_and_written_in_order_later():
    disk = FullDisk()
    warnings: list[str] = []
    writer = OutboxWriter(disk, ORIGIN, make_room=lambda: False,  # type: ignore[arg-type]
                          warn=warnings.append)
    msgs = [message() for _ in range(3)]
    for m in msgs:
        writer.put(m, "alert")
    assert writer.held == 3 and disk.rows == []
    assert warnings[-1].endswith("holding 3 messages in memory")
    writer.retry()                       # still full: nothing lost, nothing reordered
    assert writer.held == 3
    disk.free()
    writer.retry()
    assert disk.rows == [m.id for m in msgs] and writer.held == 0


def test_the_status_says_how_many_are_held():
    ok = SourceStatus("ok", "", 0.0)
    reasons = health_reasons(ok, outbox_depth=0, evidence_warnings=[], held_in_memory=2,
                             warnings=[])
    assert reasons == ["disk full: 2 messages held in memory"]
