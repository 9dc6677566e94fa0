"""Evidence in a second ingest process (``[broker] evidence_process = true``): a second core.

Evidence is half of the messages and most of their bytes (JSON with base64, the sha256, the
file). One Python process runs one thread of Python at a time, so on a hub with two or more
cores a child process takes the evidence topics with its own broker identity (its own
persistent session): it validates each message, checks its bytes, writes its file (not yet
durable) and hands the result to the hub process's one writer. The writer makes the batch's
files durable (``syncfs``), commits, and only then sends the message ids back, and the child
acknowledges them (PUBACK): a crash anywhere loses nothing; the broker sends again what was
not acknowledged, and the writer's de-duplication by id makes that harmless.

The child exits when the hub process goes away (its end of the pipe closes); the hub starts
a new child if this one dies. No Flask here.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection

from hub.config import BrokerSection
from hub.evidence import EvidenceFolder
from hub.ingest import checked, connect_session, ingest_client, refusal
from hub.signatures import RecordVerifier
from hub.writer import Writer
from kuzet import contract

log = logging.getLogger(__name__)
EVIDENCE_TOPIC = f"{contract.TOPIC_ROOT}/+/+/+/evidence"
SUBSCRIBED = ("subscribed",)          # the child's first word: its session takes evidence


def child(settings: BrokerSection, root: str, out: Connection, acks: Connection) -> None:
    """The child's main: receive, check, write, pass on; acknowledge what the hub stored."""
    folder = EvidenceFolder(root)
    outbox = _Outbox(out)
    files = ThreadPoolExecutor(max_workers=2, thread_name_prefix="evidence-file")
    client = ingest_client(settings, settings.evidence_client_id, settings.evidence_cert_file,
                           settings.evidence_key_file)
    verifier = RecordVerifier.from_ca_file(settings.ca_file)

    def on_connect(c, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            c.subscribe(EVIDENCE_TOPIC, qos=1)

    def on_subscribe(c, userdata, mid, reason_codes, properties) -> None:
        if not any(rc.is_failure for rc in reason_codes):
            outbox.put(SUBSCRIBED)

    def write(mid: int, qos: int, topic: str, m: contract.EvidenceMessage, raw: bytes, record):
        try:
            file = folder.create(m.evidence_id, m.content_type, raw)
        except OSError:                       # e.g. a full disk: the writer writes and retries
            file = None
        keep = raw if file is None or not file[1] else None
        return (mid, qos, topic, _fields(m), "", file, keep, record)

    def on_message(c, userdata, msg) -> None:
        try:
            m, raw, record = checked(msg, settings, verifier)   # the topic filter: evidence
        except ValueError as exc:
            outbox.put((msg.mid, msg.qos, msg.topic, None, refusal(exc), None, None, None))
            return
        # The file is written on one of two threads (the kernel's part of creating a file
        # runs without the GIL, beside the next message's checks); the outbox waits for each
        # in the order the messages came, so they are stored and acknowledged in that order.
        outbox.put(files.submit(write, msg.mid, msg.qos, msg.topic, m, raw, record))

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    connect_session(client, settings)
    client.loop_start()
    try:
        while True:
            for mid, qos in acks.recv():      # EOFError: the hub process is gone
                client.ack(mid, qos)
    except (EOFError, OSError, KeyboardInterrupt):
        pass
    finally:
        client.disconnect()
        client.loop_stop()


class _Outbox:
    """The child's records go to the hub process in lists: one pickle and one pipe write for
    whatever arrived while the last list was being sent, not one per message. An item is a
    record or the Future of one (its file being written)."""

    def __init__(self, out: Connection) -> None:
        self._out = out
        self._items: list = []
        self._cond = threading.Condition()
        threading.Thread(target=self._run, name="evidence-outbox", daemon=True).start()

    def put(self, record) -> None:
        with self._cond:
            self._items.append(record)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items:
                    self._cond.wait()
                batch, self._items = self._items, []
            batch = [item.result() if isinstance(item, Future) else item for item in batch]
            try:
                self._out.send(batch)
            except (OSError, ValueError):     # the hub process is gone; main() sees it too
                return


def _fields(m: contract.EvidenceMessage) -> dict:
    """An evidence message without its data, as plain values (cheaper to pickle than the
    model; the hub process rebuilds it with ``_message``, without validating it again)."""
    fields = dict(m.__dict__)
    fields["origin"] = dict(m.origin.__dict__)
    fields["data"] = ""
    fields["chain"] = m.chain.model_dump() if m.chain else None
    fields["sig"] = m.sig.model_dump() if m.sig else None
    return fields


def _message(fields: dict) -> contract.EvidenceMessage:
    fields["origin"] = contract.Origin.model_construct(**fields["origin"])
    if fields.get("chain"):
        fields["chain"] = contract.ChainLink.model_construct(**fields["chain"])
    if fields.get("sig"):
        fields["sig"] = contract.Signature.model_construct(**fields["sig"])
    return contract.EvidenceMessage.model_construct(**fields)


class EvidenceProcess:
    """The hub side: starts the child, feeds its results to the writer, restarts it."""

    def __init__(self, settings: BrokerSection, writer: Writer, folder: EvidenceFolder,
                 on_subscribed: Callable[[], None] = lambda: None) -> None:
        """``on_subscribed``: called once the child's session takes the evidence topics (the
        hub process then stops taking them itself)."""
        self.settings = settings
        self.writer = writer
        self.on_subscribed = on_subscribed
        self.root = str(folder.root)
        self._ctx = multiprocessing.get_context("spawn")
        self._stop = threading.Event()
        self._pending: dict[Connection, list] = {}   # acks by child; the writer's thread
        # alone adds to it and sends it (``_acker``, ``_send_acks``)
        writer.after_acks.append(self._send_acks)
        self.proc = None
        self.restarts = 0

    def start(self) -> EvidenceProcess:
        self._spawn()
        threading.Thread(target=self._pump, name="hub-evidence-pump", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._acks.close()                    # the child sees the end and disconnects
        if self.proc is not None:
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.terminate()

    def _spawn(self) -> None:
        self._results, out = self._ctx.Pipe(duplex=False)
        acks_in, self._acks = self._ctx.Pipe(duplex=False)
        self.proc = self._ctx.Process(target=child, name="kuzet-hub-evidence", daemon=True,
                                      args=(self.settings, self.root, out, acks_in))
        self.proc.start()
        out.close()
        acks_in.close()

    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                records = self._results.recv()
            except (EOFError, OSError):
                if self._stop.is_set():
                    return
                log.error("the evidence process ended (exit code %s); starting a new one",
                          self.proc.exitcode if self.proc else None)
                self.restarts += 1
                self._acks.close()
                self._stop.wait(1.0)
                self._spawn()
                continue
            pipe = self._acks                 # acks go to the child that sent these
            for record in records:
                if record == SUBSCRIBED:
                    self.on_subscribed()
                    continue
                mid, qos, topic, fields, reason, file, raw, signed = record
                ack = self._acker(pipe, mid, qos) if qos else None
                if fields is None:
                    self.writer.submit_reject(topic, reason, ack)
                else:
                    self.writer.submit_message(topic, _message(fields), raw, ack, file=file,
                                               record=signed)

    def _acker(self, pipe: Connection, mid: int, qos: int):
        """Called by the writer after the commit; the acks of a batch are sent together by
        ``_send_acks``, which the writer calls once its batch is acknowledged."""
        def ack() -> None:
            self._pending.setdefault(pipe, []).append((mid, qos))
        return ack

    def _send_acks(self) -> None:
        pending, self._pending = self._pending, {}
        for pipe, acks in pending.items():
            try:
                pipe.send(acks)
            except (OSError, ValueError):     # that child is gone: the broker sends it again
                pass
