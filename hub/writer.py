"""The one writer: a thread that owns the hub's only writing database connection.

Validated MQTT messages (from ``hub.ingest``) and page actions (``call``) go into one queue.
The writer takes what is waiting (up to ``max_batch``), writes the batch's new evidence files
first (made durable by one ``syncfs`` before the commit), applies every job in one transaction
(if a job fails, the batch is rolled back and applied again with a savepoint per job, so one bad
job cannot spoil the others), commits (``synchronous=FULL``: durable), and only then
acknowledges the MQTT messages to the broker, answers the callers and publishes to the live
pages what changed (each job returns its ``hub.store.changes.Change``s; each changed alert's
or node's view is read once per batch). Every ``sweep_s`` it re-assesses node liveness
(silence means offline).
No Flask here.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.bus import Event, EventBus
from hub.config import LivenessSection, RetentionSection
from hub.evidence import EvidenceFolder
from hub.evidence_binding import EvidenceBinder, OrphanLimits, is_evidence
from hub.store import alerts, messages, nodes, signed_records
from hub.store.changes import Change
from hub.store.db import connect, savepoint, transaction
from kuzet import contract

log = logging.getLogger(__name__)
HEARTBEATS_KEPT_S = nodes.HISTORY_S    # the devices page draws them; liveness reads the last few
SEEN_KEPT_S = 35 * 86400.0            # message ids, for de-duplication (the node keeps 30 days)


@dataclass
class MessageJob:
    topic: str
    msg: Any                                  # a validated contract message
    raw: bytes | None = None                  # an evidence file's checked bytes
    ack: Callable[[], None] | None = None
    received_at: float = field(default_factory=time.time)
    file: tuple[str, bool] | None = None      # its evidence file once written: (name, created)
    record: Any = None                        # its checked signature (hub.signatures), if any


@dataclass
class RejectJob:
    topic: str
    reason: str
    ack: Callable[[], None] | None = None


class _JobFailed(Exception):
    """A job failed in a batch run without savepoints: run the batch again with them."""


@dataclass
class CallJob:
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    future: Future


class Writer:
    def __init__(self, db_path: str | Path, evidence: EvidenceFolder, bus: EventBus,
                 limits: LivenessSection, *, max_batch: int = 500, sweep_s: float = 2.0,
                 clock: Callable[[], float] = time.time,
                 orphans: OrphanLimits | None = None,
                 retention: RetentionSection | None = None,
                 status_only: bool = False) -> None:
        """``retention``: a node time older than its window is not believed (``hub.clocks``);
        ``status_only``: the campus hub, which hears no heartbeats: a node's liveness is its
        status's word and silence is not swept into offline (``hub.liveness.from_status``)."""
        self.db_path = Path(db_path)
        self.evidence = evidence
        self.bus = bus
        self.limits = limits
        self.max_batch = max_batch
        self.sweep_s = sweep_s
        self.clock = clock
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-writer", daemon=True)
        self._tally = {"stored": 0, "duplicates": 0, "rejected": 0}
        self.stored = 0                       # messages committed (not duplicates)
        self.duplicates = 0
        self.rejected = 0
        self.disk_problem = ""                # set while batches cannot be written
        self._last_sweep = 0.0
        self._last_prune = 0.0
        self.after_acks: list[Callable[[], None]] = []   # run once a batch is acknowledged
        # run with the batch's jobs once it is committed (cheap: hand work to another thread)
        self.after_commit: list[Callable[[list], None]] = []
        self.binder = EvidenceBinder(self._evidence_owner, orphans or OrphanLimits())
        self.oldest_node_time_s = (retention or RetentionSection()).evidence_days * 86400.0
        self.status_only = status_only

    # -- producers --------------------------------------------------------------------------
    def submit_message(self, topic: str, msg: Any, raw: bytes | None = None,
                       ack: Callable[[], None] | None = None,
                       file: tuple[str, bool] | None = None, record: Any = None) -> None:
        """Queue a validated message (with an evidence file's checked bytes, or the file
        already written by the evidence process: ``(name, created)``; ``record``: its
        signature as ``hub.signatures`` checked it)."""
        self._queue.put(MessageJob(topic, msg, raw, ack, file=file, record=record))

    def submit_reject(self, topic: str, reason: str, ack: Callable[[], None] | None = None):
        self._queue.put(RejectJob(topic, reason, ack))

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 10.0,
             **kwargs: Any) -> Any:
        """Run ``fn(conn, *args, **kwargs)`` in the writer's transaction; returns what it
        returns. If that is a list of ``Change``, the live pages get the changed views."""
        fut: Future = Future()
        self._queue.put(CallJob(fn, args, kwargs, fut))
        return fut.result(timeout)

    # -- life -------------------------------------------------------------------------------
    def start(self) -> None:
        self._conn = connect(self.db_path, durable=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout=10)
        self._conn.close()

    # -- the loop ---------------------------------------------------------------------------
    def _run(self) -> None:
        retry: list = []                      # a batch that failed on a full disk
        while not self._stop.is_set():
            if retry:
                first, batch = None, retry
                retry = []
            else:
                try:
                    first = self._queue.get(timeout=self.sweep_s)
                except queue.Empty:
                    first = None
                batch = [] if first is None else [first]
            while len(batch) < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    batch.append(job)
            try:
                self._process(batch)
                self.disk_problem = ""
            except (OSError, sqlite3.OperationalError) as exc:
                # A full disk (or a failing one): nothing was committed or acknowledged.
                # Keep the messages and try again; the broker keeps what is not acked.
                self.disk_problem = f"cannot write: {exc}"
                log.error("writer batch of %d not stored (%s); retrying", len(batch), exc)
                retry = [j for j in batch if not isinstance(j, CallJob)]
                self._stop.wait(1.0)
            except Exception:                 # never let the writer die
                log.exception("writer batch of %d failed", len(batch))

    def _process(self, batch: list) -> None:
        now = self.clock()
        sweep = now - self._last_sweep >= self.sweep_s
        if not batch and not sweep:
            return
        prune = sweep and now - self._last_prune > 3600
        batch = self._bind_evidence(batch, now)
        if self._write_files(batch):
            self.evidence.sync()              # the batch's files are on disk before its rows
        # Nearly every batch holds no job that fails: it runs as one plain transaction. If a
        # job fails, that is rolled back and the batch runs again with a savepoint per job,
        # so that one bad job cannot spoil the others (page actions always run that way).
        careful = any(isinstance(job, CallJob) for job in batch)
        try:
            events, done = self._transaction(batch, now, sweep, prune, careful)
        except _JobFailed:
            events, done = self._transaction(batch, now, sweep, prune, True)
        if sweep:
            self._last_sweep = now
        if prune:
            self._last_prune = now
        self.stored += self._tally["stored"]             # counted once they are durable
        self.duplicates += self._tally["duplicates"]
        self.rejected += self._tally["rejected"]
        for job in batch:
            ack = getattr(job, "ack", None)
            if ack is not None:
                ack()
        for flush in self.after_acks:
            flush()
        for hook in self.after_commit:
            try:
                hook(batch)
            except Exception:                 # a hook never costs the batch its answers
                log.exception("after-commit hook failed")
        for job, result, exc in done:
            if exc is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(exc)
        for ev in events:
            self.bus.publish(ev)

    def _transaction(self, batch: list, now: float, sweep: bool, prune: bool,
                     careful: bool) -> tuple[list[Event], list]:
        """Apply the batch and commit: the events to publish and the page actions' results.
        Not ``careful``: the first job that fails rolls everything back (``_JobFailed``)."""
        self._tally = {"stored": 0, "duplicates": 0, "rejected": 0}
        changes: list[Change] = []
        done: list[tuple[CallJob, Any, BaseException | None]] = []
        try:
            with transaction(self._conn) as conn:
                for job in batch:
                    try:
                        with savepoint(conn) if careful else nullcontext():
                            changes += self._run_job(conn, job, now, done)
                    except (OSError, sqlite3.OperationalError):
                        raise                 # the disk, not the message: the batch retries
                    except Exception as exc:
                        if not careful:
                            raise _JobFailed from exc
                        if isinstance(job, CallJob):
                            done.append((job, None, exc))
                        else:
                            self._reject(conn, job.topic, f"cannot store: {exc}")
                if sweep and not self.status_only:
                    changes += nodes.sweep_liveness(conn, now, self.limits)
                if prune:
                    nodes.forget_heartbeats(conn, now - HEARTBEATS_KEPT_S)
                    messages.forget_seen(conn, now - SEEN_KEPT_S)
                events = self._events(conn, changes)
        except _JobFailed:
            raise
        except BaseException as exc:
            for job in batch:
                if isinstance(job, CallJob) and not job.future.done():
                    job.future.set_exception(exc)
            raise
        return events, done

    def _run_job(self, conn, job, now: float, done: list) -> list[Change]:
        """One job's work; a page action's result goes to ``done``."""
        if isinstance(job, CallJob):
            result = job.fn(conn, *job.args, **job.kwargs)
            done.append((job, result, None))
            return _changes_of(result)
        if isinstance(job, RejectJob):
            self._reject(conn, job.topic, job.reason)
            return []
        return self._apply(conn, job, now)

    def _bind_evidence(self, batch: list, now: float) -> list:
        """Evidence only from its alert's node (``hub.evidence_binding``): orphans are held
        (not written, not acknowledged), the refused become rejections, and a file the
        evidence process already wrote for one of them is removed."""
        if not self.binder.held and not any(is_evidence(job) for job in batch):
            return batch
        batch, refused = self.binder.bind(batch, now)
        for r in refused:
            file = r.job.file
            if file is not None and file[1] and alerts.evidence_sha(
                    self._conn, r.job.msg.evidence_id) is None:
                self.evidence.discard(file[0])
        return batch + [RejectJob(r.job.topic, r.reason, r.job.ack) for r in refused]

    def _evidence_owner(self, alert_id: str) -> tuple[str, str, str] | None:
        return alerts.evidence_owner(self._conn, alert_id)

    def _write_files(self, batch: list) -> bool:
        """Write the batch's evidence files not written yet (an OSError, e.g. a full disk,
        fails the batch, which is retried); True if the batch holds a new file (written here
        or by the evidence process) that must be made durable before the commit."""
        fresh = False
        for job in batch:
            if isinstance(job, MessageJob) and isinstance(job.msg, contract.EvidenceMessage):
                if job.file is None and job.raw is not None:
                    job.file = self.evidence.create(job.msg.evidence_id,
                                                    job.msg.content_type, job.raw)
                fresh = fresh or (job.file is not None and job.file[1])
        return fresh

    def _apply(self, conn, job: MessageJob, now: float) -> list[Change]:
        msg = job.msg
        if not messages.first_time(conn, msg.id, msg.type, now):
            self._tally["duplicates"] += 1
            return []
        if isinstance(msg, contract.AlertMessage):
            changes = alerts.apply_alert(conn, msg, now, self.limits.max_clock_skew_s,
                                         self.oldest_node_time_s)
        elif isinstance(msg, contract.EvidenceMessage):
            changes = self._apply_evidence(conn, job, now)
        elif isinstance(msg, contract.StatusMessage):
            changes = nodes.apply_status(conn, msg, now, self.limits, self.status_only)
        elif isinstance(msg, contract.HeartbeatMessage):
            changes = nodes.apply_heartbeat(conn, msg, now, self.limits)
        else:
            messages.count(conn, f"ignored_{msg.type}")
            changes = []
        if job.record is not None:
            signed_records.store(conn, job.record, now)
        self._tally["stored"] += 1            # not reached if the job failed
        return changes

    def _apply_evidence(self, conn, job: MessageJob, now: float) -> list[Change]:
        msg = job.msg
        known = alerts.evidence_sha(conn, msg.evidence_id)
        if known is not None:                 # the file is the one recorded: never touched
            if known != msg.sha256:
                raise ValueError(f"evidence id {msg.evidence_id} already holds other content")
            return []
        if job.file is None:
            raise ValueError("evidence without its checked bytes")
        relative, created = job.file
        if not created:                       # a file no row points to: a crash's leftover
            self.evidence.replace(relative, job.raw)
        return alerts.apply_evidence(conn, msg, relative, now, self.limits.max_clock_skew_s,
                                     self.oldest_node_time_s)

    def _reject(self, conn, topic: str, reason: str) -> None:
        self._tally["rejected"] += 1
        log.warning("rejected message on %s: %s", topic, reason)
        messages.record_rejected(conn, topic, reason)

    def _events(self, conn, changes: list[Change]) -> list[Event]:
        """One event per changed alert or node per batch, in the order of their last change,
        each view read once, at the end, and only for rooms that an open page watches."""
        watched: dict[tuple[str, str], bool] = {}
        latest: dict[Change, None] = {}
        for change in changes:
            room = (change.building, change.room)
            if room not in watched:
                watched[room] = self.bus.watched(*room)
            if watched[room]:
                latest.pop(change, None)
                latest[change] = None
        return [Event(c.kind, c.building, c.room, _view(conn, c)) for c in latest]


def _view(conn, change: Change) -> dict[str, Any]:
    if change.kind == "alert":
        return alerts.alert_view(conn, change.key)
    return nodes.node(conn, change.building, change.room, change.key)


def _changes_of(result: Any) -> list[Change]:
    """A page action's changes: its result, if that is a list of ``Change``."""
    if isinstance(result, list) and all(isinstance(c, Change) for c in result):
        return result
    return []
