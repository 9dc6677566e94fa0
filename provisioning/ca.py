"""The building's private certificate authority: a CA made on the hub, a certificate per node,
for the hub and for the broker, and a revocation list (CRL) that the broker checks.

Files in the CA folder: ``ca.key`` (0600), ``ca.crt``, ``serial``, ``revoked.json``, ``crl.pem``.
Keys are ECDSA P-256. A node's certificate has its identity as common name
(``node.<building>.<room>.<name>``), which the broker takes as the MQTT username.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kuzet.errors import KuzetError


class CaError(KuzetError):
    pass


@dataclass(frozen=True)
class Issued:
    common_name: str
    serial: int
    cert_pem: bytes
    key_pem: bytes


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a file only its owner can read (mode 0600 from the start)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


class CertificateAuthority:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        try:
            self._key = serialization.load_pem_private_key(
                (self.folder / "ca.key").read_bytes(), None)
            self.cert = x509.load_pem_x509_certificate((self.folder / "ca.crt").read_bytes())
        except FileNotFoundError:
            raise CaError(f"{self.folder}: no CA here; make one with `kuzet provision init`") \
                from None

    @classmethod
    def create(cls, folder: str | Path, name: str = "Kuzet CA", days: int = 3650
               ) -> CertificateAuthority:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / "ca.key").exists():
            raise CaError(f"{folder}: a CA exists already (ca.key); refusing to replace it")
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(_now() - dt.timedelta(minutes=5))
                .not_valid_after(_now() + dt.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .sign(key, hashes.SHA256()))
        write_private(folder / "ca.key", _key_pem(key))
        (folder / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / "revoked.json").write_text("[]")
        ca = cls(folder)
        ca.write_crl()
        return ca

    @property
    def ca_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def crl_path(self) -> Path:
        return self.folder / "crl.pem"

    def issue(self, common_name: str, *, server_names: list[str] | None = None,
              days: int = 825) -> Issued:
        """A certificate and key for a client (``server_names`` None) or the broker."""
        key = ec.generate_private_key(ec.SECP256R1())
        serial = x509.random_serial_number()
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                               common_name)]))
                   .issuer_name(self.cert.subject).public_key(key.public_key())
                   .serial_number(serial)
                   .not_valid_before(_now() - dt.timedelta(minutes=5))
                   .not_valid_after(_now() + dt.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       self._key.public_key()), False))
        if server_names:
            alt: list[x509.GeneralName] = []
            for n in server_names:
                try:
                    alt.append(x509.IPAddress(ipaddress.ip_address(n)))
                except ValueError:
                    alt.append(x509.DNSName(n))
            builder = (builder.add_extension(x509.SubjectAlternativeName(alt), False)
                       .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                                      False))
        else:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        cert = builder.sign(self._key, hashes.SHA256())
        return Issued(common_name, serial, cert.public_bytes(serialization.Encoding.PEM),
                      _key_pem(key))

    def revoked(self) -> list[int]:
        return [int(s) for s in json.loads((self.folder / "revoked.json").read_text())]

    def revoke(self, serial: int) -> None:
        serials = self.revoked()
        if serial not in serials:
            serials.append(serial)
            (self.folder / "revoked.json").write_text(json.dumps([str(s) for s in serials]))
        self.write_crl()

    def write_crl(self, days: int = 3650) -> None:
        """The CRL the broker loads (``crlfile``); rewritten on every revocation."""
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(_now() - dt.timedelta(minutes=1))
                   .next_update(_now() + dt.timedelta(days=days)))
        for serial in self.revoked():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial)
                .revocation_date(_now() - dt.timedelta(minutes=1)).build())
        crl = builder.sign(self._key, hashes.SHA256())
        tmp = self.crl_path.with_suffix(".tmp")
        tmp.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        os.chmod(tmp, 0o644)
        tmp.replace(self.crl_path)
