"""What the web app and the ingest worker share in one hub process.

``HubServices(config).start(ingest=True)`` migrates the database, starts the writer and,
if asked, the MQTT ingest worker; ``stop()`` stops them in the reverse order. No Flask here.
"""

from __future__ import annotations

import logging

from hub.bus import EventBus
from hub.config import HubConfig
from hub.evidence import EvidenceFolder
from hub.evidence_binding import OrphanLimits
from hub.face_match import FaceMatcher
from hub.ingest import IngestWorker
from hub.store.migrations import open_database
from hub.writer import Writer

log = logging.getLogger(__name__)


class HubServices:
    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self.db_path = config.hub.db_path
        self.evidence = EvidenceFolder(config.hub.evidence_path)
        self.bus = EventBus()
        self.writer = Writer(self.db_path, self.evidence, self.bus, config.liveness,
                             orphans=OrphanLimits(config.broker.orphan_hold_s,
                                                  config.broker.orphan_max,
                                                  config.broker.orphan_max_bytes),
                             retention=config.retention, status_only=config.is_campus)
        self.ingest: IngestWorker | None = None
        self.evidence_process = None          # hub.evidence_ingest.EvidenceProcess, if used
        # the automatic face match of check-in crops (exams that opt in): its own thread
        self.face_matcher = FaceMatcher(self.db_path, self.writer, self.evidence,
                                        EvidenceFolder(config.hub.photos_path))
        self.writer.after_commit.append(self.face_matcher.after_commit)
        self.started = False

    def start(self, ingest: bool | None = None) -> HubServices:
        if self.started:
            return self
        db = open_database(self.db_path)      # creates and migrates
        db.close()
        self.writer.start()
        self.face_matcher.start()
        if ingest if ingest is not None else self.config.hub.ingest:
            self.ingest = IngestWorker(self.config.broker, self.writer,
                                       campus=set(self.config.campus.buildings)
                                       if self.config.is_campus else None)
            self.ingest.start()
            if self.config.broker.evidence_process:
                from hub.evidence_ingest import EvidenceProcess

                self.evidence_process = EvidenceProcess(
                    self.config.broker, self.writer, self.evidence,
                    on_subscribed=self.ingest.hand_over_evidence).start()
        self.started = True
        return self

    def stop(self) -> None:
        if not self.started:
            return
        if self.ingest is not None:
            self.ingest.stop()
        if self.evidence_process is not None:
            self.evidence_process.stop()
        self.bus.close_all()
        self.face_matcher.stop()
        self.writer.stop()
        self.started = False
