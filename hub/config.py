"""The hub's config file (TOML), validated before anything starts.

An unknown key or a bad value is a ConfigError naming the file and the key. Relative paths are
resolved against the config file's folder. The web ``SECRET_KEY`` has no default: it comes from
``web.secret_key_file``, ``web.secret_key``, the environment variable ``KUZET_HUB_SECRET_KEY``,
the file named by ``$KUZET_SECRET_KEY_FILE``, or ``$CREDENTIALS_DIRECTORY/hub-secret-key``
(systemd ``LoadCredential=``), in that order.

Example::

    [hub]
    data_dir = "/var/lib/kuzet-hub"     # hub.db and evidence/ inside
    timezone = "Asia/Almaty"

    [web]
    port = 8080
    secret_key_file = "/etc/kuzet/hub-secret-key"

    [broker]
    host = "127.0.0.1"
    client_id = "kuzet-hub-main"
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from kuzet.broker_access import BrokerAccess
from kuzet.config_files import read_toml, validate
from kuzet.contract import MAX_PAYLOAD_BYTES, NAME_RE
from kuzet.errors import ConfigError
from kuzet.strict import StrictModel

Language = Literal["kk", "ru", "en"]
SECRET_ENV = "KUZET_HUB_SECRET_KEY"
SECRET_FILE_ENV = "KUZET_SECRET_KEY_FILE"      # systemd/kuzet-hub.service sets it
SECRET_CREDENTIAL = "hub-secret-key"
# The largest file an evidence message can carry: its base64 within the contract's payload.
MAX_EVIDENCE_BYTES = (MAX_PAYLOAD_BYTES - 64 * 1024) // 4 * 3
EvidenceCap = Annotated[int, Field(ge=1024, le=MAX_EVIDENCE_BYTES)]


class HubSection(StrictModel):
    data_dir: Path = Path("/var/lib/kuzet-hub")
    database: Path | None = None          # default: data_dir/hub.db
    evidence_dir: Path | None = None      # default: data_dir/evidence
    timezone: str = "Asia/Almaty"
    default_language: Language = "kk"
    ingest: bool = True                   # run the MQTT ingest worker in the web process
    # "campus": the campus hub (docs/campus.md): subscribes campus/v1/#, keeps the buildings'
    # alerts and statuses only (no evidence, commands, enrolment), read-only pages
    role: Literal["building", "campus"] = "building"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @property
    def db_path(self) -> Path:
        return self.database or self.data_dir / "hub.db"

    @property
    def evidence_path(self) -> Path:
        return self.evidence_dir or self.data_dir / "evidence"

    @property
    def photos_path(self) -> Path:
        """Roster photos (``hub.store.photos``): inside the data dir, never web-served."""
        return self.data_dir / "photos"


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` serves this machine only (``localhost``, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class WebSection(StrictModel):
    # Plain HTTP, on loopback unless ``behind_tls_proxy``: production serves HTTPS from the
    # TLS front (nginx, written by ``kuzet provision web``) that proxies to this address.
    host: str = "127.0.0.1"
    behind_tls_proxy: bool = False
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    threads: Annotated[int, Field(ge=4, le=1000)] = 96   # each open live page holds one
    connection_limit: Annotated[int, Field(ge=10, le=5000)] = 300
    secret_key: Annotated[str, Field(min_length=32)] | None = None
    secret_key_file: Path | None = None
    cookie_secure: bool = True            # false only for plain-http tests on loopback
    session_hours: Annotated[float, Field(gt=0, le=72)] = 12
    sse_keepalive_s: Annotated[float, Field(gt=0, le=300)] = 15
    sse_max_age_s: Annotated[float, Field(gt=0, le=86400)] = 900   # then the page reconnects
    # a signed-in session with no request for this long is over (the live page's stream and
    # feed count as requests: a proctor watching the room stays signed in)
    idle_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 30
    # "I am at this seat" quiets the seat's outside-help rules on the node for this long
    presence_quiet_s: Annotated[float, Field(ge=10, le=600)] = 180
    # reverse proxies (addresses or networks) whose X-Forwarded-For names the client; from
    # any other peer the header is ignored (hub/web/proxies.py). Required with
    # behind_tls_proxy: the front's own address is no client's.
    trusted_proxies: list[str] = []

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, v: list[str]) -> list[str]:
        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return v

    @model_validator(mode="after")
    def _one_secret(self) -> WebSection:
        if self.secret_key is not None and self.secret_key_file is not None:
            raise ValueError("give secret_key or secret_key_file, not both")
        return self

    @model_validator(mode="after")
    def _plain_http_on_loopback(self) -> WebSection:
        if not is_loopback(self.host) and not self.behind_tls_proxy:
            raise ValueError(
                f"host {self.host!r} would serve passwords and enrolment bundles in plain "
                "HTTP beyond this machine: bind 127.0.0.1 behind the TLS front (`kuzet "
                "provision web`, docs/provisioning.md), or set behind_tls_proxy = true if "
                "that front reaches this address from another machine")
        return self

    @model_validator(mode="after")
    def _front_is_trusted(self) -> WebSection:
        if self.behind_tls_proxy and not self.trusted_proxies:
            raise ValueError(
                "behind_tls_proxy = true needs trusted_proxies, the addresses the TLS front "
                'reaches the hub from: trusted_proxies = ["127.0.0.1"] for nginx on this '
                "machine (`kuzet provision web`); without it every client counts as the "
                "front's address, and one guesser's wrong passwords slow down everyone")
        return self


class BrokerSection(BrokerAccess):
    client_id: Annotated[str, Field(min_length=1, max_length=64)] = "kuzet-hub"
    session_expiry_s: Annotated[int, Field(ge=0, le=7 * 86400)] = 86400
    topic: str = "kuzet/v1/#"
    receive_maximum: Annotated[int, Field(ge=1, le=65535)] = 1000
    # Evidence in a second ingest process (a second core; hub/evidence_ingest.py), with its
    # own broker identity: a client id and, with certificate login, its own certificate.
    evidence_process: bool = False
    evidence_client_id: Annotated[str, Field(min_length=1, max_length=64)] = \
        "kuzet-hub-evidence"
    evidence_cert_file: Path | None = None
    evidence_key_file: Path | None = None
    # The largest evidence file of each kind taken (bytes); bigger ones are refused before
    # they reach the disk. Above what a node makes (edge/evidence.py: a 1280-pixel JPEG is
    # under 1 MB even of pure noise at quality 85; a 10 s MJPEG clip a few MB, 10 MB of
    # noise); a clip may take all that an evidence message can carry.
    max_snapshot_bytes: EvidenceCap = 4 * 2**20
    max_crop_bytes: EvidenceCap = 4 * 2**20
    max_clip_bytes: EvidenceCap = MAX_EVIDENCE_BYTES
    # a check-in crop (one seat, edge.evidence_flow.check_in) is a fraction of a snapshot
    max_check_in_bytes: EvidenceCap = 2**20

    def evidence_cap(self, kind: str) -> int:
        """The largest file of that evidence kind (``snapshot``, ``crop``, ``clip``,
        ``check-in``)."""
        return {"snapshot": self.max_snapshot_bytes, "crop": self.max_crop_bytes,
                "clip": self.max_clip_bytes, "check-in": self.max_check_in_bytes}[kind]

    # Evidence whose alert has not come yet (a node sends the snapshot first) is held this
    # long, at most this many at a time and this many bytes of files together (in memory, or
    # on disk with evidence_process), unacknowledged; the oldest beyond a bound and any alone
    # too long are dropped (hub/evidence_binding.py)
    orphan_hold_s: Annotated[float, Field(gt=0, le=3600)] = 60
    orphan_max: Annotated[int, Field(ge=1, le=65535)] = 500
    orphan_max_bytes: Annotated[int, Field(ge=1024, le=2**32)] = 64 * 2**20

    @model_validator(mode="after")
    def _orphans_leave_room(self) -> BrokerSection:
        if self.orphan_max >= self.receive_maximum:
            raise ValueError("orphan_max must be below receive_maximum: held evidence is not "
                             "acknowledged, and a full window would stop the broker sending "
                             "the alerts it waits for")
        largest = max(self.max_snapshot_bytes, self.max_crop_bytes, self.max_clip_bytes,
                      self.max_check_in_bytes)
        if self.orphan_max_bytes < largest:
            raise ValueError(f"orphan_max_bytes ({self.orphan_max_bytes}) must be at least the "
                             f"largest evidence file taken ({largest} bytes): a snapshot "
                             "sent before its alert must fit while it waits")
        return self

    @model_validator(mode="after")
    def _evidence_identity(self) -> BrokerSection:
        if self.evidence_process and self.cert_file is not None \
                and (self.evidence_cert_file is None or self.evidence_key_file is None):
            raise ValueError("evidence_process with certificate login needs its own "
                             "evidence_cert_file and evidence_key_file (the broker makes the "
                             "certificate's name the client id)")
        if self.evidence_process and self.evidence_client_id == self.client_id:
            raise ValueError("evidence_client_id must differ from client_id")
        return self


class LivenessSection(StrictModel):
    """When a node counts as degraded or offline (see hub/liveness.py)."""

    heartbeat_timeout_s: Annotated[float, Field(gt=0)] = 35.0
    min_fps: Annotated[float, Field(ge=0)] = 2.0
    min_disk_free_mb: Annotated[float, Field(ge=0)] = 500.0
    outbox_growing_beats: Annotated[int, Field(ge=2, le=100)] = 3
    max_outbox_depth: Annotated[int, Field(ge=1)] = 100
    # A node's clock further off than this is flagged, and its times are replaced by the
    # hub's receive time (hub/clocks.py)
    max_clock_skew_s: Annotated[float, Field(gt=0, le=86400)] = 120.0
    # A node whose seats waited longer than this between two looks in the last minute (its
    # heartbeat's worst_seat_revisit_s), or that says it is over its budget, is flagged
    # revisit_slow (the node's own bound is 2 s: edge/budget.py)
    max_seat_revisit_s: Annotated[float, Field(gt=0, le=60)] = 2.0


class ProvisioningSection(StrictModel):
    """Enrolment from the technician's pages (``hub/provisioning_bridge.py``): the folder made
    by ``kuzet provision init``, and the broker as the nodes see it (written into bundles)."""

    enabled: bool = False
    pki_dir: Path = Path("/etc/kuzet/pki")
    node_broker_host: str = "hub.local"   # the broker's name or IP in the nodes' node.toml
    node_broker_port: Annotated[int, Field(ge=1, le=65535)] = 8883
    # re-reads the CRL; allowed to user kuzet by systemd/polkit/50-kuzet-hub.rules (sudo
    # cannot work: the hub's unit sets NoNewPrivileges)
    reload_command: str = "systemctl reload mosquitto"
    code_ttl_s: Annotated[float, Field(gt=0, le=7 * 86400)] = 3600
    fetch_attempts: Annotated[int, Field(ge=1, le=1000)] = 10     # per address per 10 min
    # The signer service's socket (systemd/kuzet-signer.service): certificates are issued
    # and revoked there, and this process never reads ca.key. Unset: the hub signs itself
    # with pki_dir/ca.key (tests, a single-user install).
    signer_socket: Path | None = None
    registry_file: Path | None = None     # default: pki_dir/devices.db

    @property
    def registry_path(self) -> Path:
        return self.registry_file or self.pki_dir / "devices.db"


class RetentionSection(StrictModel):
    """Clause 4.3: evidence is deleted this many days after its exam, unless a protocol
    holds it (``kuzet hub retention``, nightly from systemd/kuzet-retention.timer)."""

    evidence_days: Annotated[float, Field(gt=0, le=3650)] = 30


CAMPUS_TOPIC = "campus/v1/#"


class CampusBuilding(StrictModel):
    """A building seen from the campus hub: its own hub's address, where the campus pages
    send a dean for evidence and visits (that hub's login, roles and audit apply)."""

    url: Annotated[str, Field(max_length=300)]

    @field_validator("url")
    @classmethod
    def _hub_url(cls, v: str) -> str:
        parts = urlsplit(v)
        host = parts.hostname or ""
        if parts.scheme not in ("https", "http") or not host:
            raise ValueError(f"{v!r} is not a hub address like https://hub.main.example")
        if parts.scheme == "http" and not is_loopback(host):
            raise ValueError(f"{v!r}: a building hub is reached over https (its TLS front); "
                             "http only on this machine")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError(f"{v!r}: no query, fragment or credentials in a hub address")
        return v.rstrip("/")


class CampusSection(StrictModel):
    """The buildings of a campus hub (``hub.role = "campus"``), by the name their nodes use
    in the topics."""

    buildings: dict[str, CampusBuilding] = {}

    @field_validator("buildings")
    @classmethod
    def _names(cls, v: dict[str, CampusBuilding]) -> dict[str, CampusBuilding]:
        for name in v:
            if not NAME_RE.match(name):
                raise ValueError(f"building {name!r}: letters, digits, '-', '_' as in the "
                                 "topics")
        return v

    def hub_url(self, building: str) -> str | None:
        b = self.buildings.get(building)
        return b.url if b else None


class HubConfig(StrictModel):
    hub: HubSection = HubSection()
    web: WebSection = WebSection()
    broker: BrokerSection = BrokerSection()
    liveness: LivenessSection = LivenessSection()
    retention: RetentionSection = RetentionSection()
    provisioning: ProvisioningSection = ProvisioningSection()
    campus: CampusSection = CampusSection()
    source: str = "config"                # the file it came from, for messages

    @model_validator(mode="before")
    @classmethod
    def _campus_subscribes_campus(cls, data: dict) -> dict:
        """A campus hub's broker topic defaults to ``campus/v1/#``."""
        if isinstance(data, dict) and (data.get("hub") or {}).get("role") == "campus":
            broker = dict(data.get("broker") or {})
            broker.setdefault("topic", CAMPUS_TOPIC)
            data = {**data, "broker": broker}
        return data

    @model_validator(mode="after")
    def _campus_role(self) -> HubConfig:
        if self.hub.role != "campus":
            if self.campus.buildings:
                raise ValueError('campus.buildings is for a campus hub (hub.role = "campus")')
            return self
        if not self.campus.buildings:
            raise ValueError('hub.role = "campus" needs [campus.buildings.<name>] url = '
                             '"https://…" for each building')
        if self.broker.topic != CAMPUS_TOPIC:
            raise ValueError(f"a campus hub subscribes {CAMPUS_TOPIC!r} (broker.topic)")
        if self.broker.evidence_process:
            raise ValueError("a campus hub takes no evidence: broker.evidence_process = false")
        if self.provisioning.enabled:
            raise ValueError("a campus hub enrols no nodes: provisioning.enabled = false")
        return self

    @property
    def is_campus(self) -> bool:
        return self.hub.role == "campus"

    def secret_key(self) -> str:
        """The web SECRET_KEY; ConfigError if none is configured (there is no default)."""
        w = self.web
        if w.secret_key_file is not None:
            try:
                key = w.secret_key_file.read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{self.source}: web.secret_key_file: cannot read "
                                  f"{w.secret_key_file}: {exc.strerror}") from None
        elif w.secret_key is not None:
            key = w.secret_key
        elif os.environ.get(SECRET_ENV):
            key = os.environ[SECRET_ENV]
        elif os.environ.get(SECRET_FILE_ENV):
            try:
                key = Path(os.environ[SECRET_FILE_ENV]).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"${SECRET_FILE_ENV}: cannot read "
                                  f"{os.environ[SECRET_FILE_ENV]}: {exc.strerror}") from None
        elif os.environ.get("CREDENTIALS_DIRECTORY") and \
                (Path(os.environ["CREDENTIALS_DIRECTORY"]) / SECRET_CREDENTIAL).is_file():
            key = (Path(os.environ["CREDENTIALS_DIRECTORY"]) / SECRET_CREDENTIAL).read_text()
            key = key.strip()
        else:
            raise ConfigError(f"{self.source}: web.secret_key: no secret key; set "
                              f"web.secret_key_file, web.secret_key or ${SECRET_ENV}")
        if len(key) < 32:
            raise ConfigError(f"{self.source}: web.secret_key: at least 32 characters needed")
        return key


def _resolve(data: dict, base: Path) -> dict:
    def fix(section: dict, key: str) -> None:
        v = section.get(key)
        if isinstance(v, str) and v and not os.path.isabs(v):
            section[key] = str(base / v)

    for key in ("data_dir", "database", "evidence_dir"):
        fix(data.get("hub", {}), key)
    fix(data.get("web", {}), "secret_key_file")
    for key in ("password_file", "ca_file", "cert_file", "key_file"):
        fix(data.get("broker", {}), key)
    for key in ("pki_dir", "signer_socket", "registry_file"):
        fix(data.get("provisioning", {}), key)
    return data


def load_config(path: str | Path) -> HubConfig:
    """Read and validate a hub config file (ConfigError names the file and the key)."""
    path = Path(path)
    return parse_config(_resolve(read_toml(path), path.resolve().parent), str(path))


def parse_config(data: dict, where: str = "config") -> HubConfig:
    """Validate a config dict (already path-resolved)."""
    if "source" in data:
        raise ConfigError(f"{where}: source: Extra inputs are not permitted")
    return validate(HubConfig, {**data, "source": where}, where)
