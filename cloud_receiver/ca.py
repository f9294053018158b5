"""The city's small MQTT certificate authority (``cloud-receiver ca ...``).

One folder (``--ca-dir``) holds everything, mode 0700:

============== ==========================================================================
``ca.key``     the CA's ECDSA P-256 private key (0600; never overwritten, never logged)
``ca.crt``     the CA certificate: the broker's ``cafile``/``capath`` and every client's ``ca_file``
``crl.pem``    the revocation list: the broker's ``crlfile`` (rewritten on every revocation)
``index.json`` every certificate issued: serial, kind, identity, CN, expiry, revocation time
============== ==========================================================================

Identities (the broker maps a client certificate's CN to its MQTT username,
``use_identity_as_username``, and the ACL in ``packaging/mosquitto/acl`` works on it):

* a gateway's certificate has CN = its gateway id (``GW-0001``), so ``pattern ... rn/v1/gw/%u/...``
  confines it to its own topics;
* every receiver's certificate has CN = ``rn:receiver`` (:data:`RECEIVER_CN`), the one receiver role in
  the ACL; the receiver id is in the OU, and each receiver's certificate is revoked by its serial.
  ``:`` never appears in a gateway id, so no gateway certificate can ever carry the receiver role;
* the broker's server certificate has the broker's host names / addresses as subjectAltName.

All keys are ECDSA P-256 (what Mosquitto 2.0.11 with OpenSSL 3.0 serves and verifies everywhere),
signatures SHA-256. Private keys are written 0600 and an existing key file is never replaced.
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

from shared_schema.topics import check_gateway_id

RECEIVER_CN = "rn:receiver"
CA_KEY, CA_CERT, CRL, INDEX = "ca.key", "ca.crt", "crl.pem", "index.json"
CLIENT_KEY, CLIENT_CERT, BROKER_KEY, BROKER_CERT = "mqtt-client.key", "mqtt-client.crt", "broker.key", "broker.crt"
BACKDATE = dt.timedelta(hours=1)   # tolerate a little clock skew between the CA and its peers


class CAError(Exception):
    pass


@dataclass(frozen=True)
class Issued:
    serial: str
    cn: str
    cert_path: Path
    key_path: Path


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def write_secret(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 atomically; FileExistsError if it exists (never overwrites)."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; refusing to overwrite a key")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)   # fails if the name appeared meanwhile: no overwrite, ever
    finally:
        tmp.unlink(missing_ok=True)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class CertificateAuthority:
    def __init__(self, ca_dir: str | Path):
        self.dir = Path(ca_dir)
        if not (self.dir / CA_KEY).is_file() or not (self.dir / CA_CERT).is_file():
            raise CAError(f"{self.dir} is not a CA folder (run: cloud-receiver ca init --dir {self.dir})")
        self.key = serialization.load_pem_private_key((self.dir / CA_KEY).read_bytes(), password=None)
        self.cert = x509.load_pem_x509_certificate((self.dir / CA_CERT).read_bytes())

    # ---- set-up ---------------------------------------------------------------------
    @classmethod
    def init(cls, ca_dir: str | Path, name: str = "RN City MQTT CA", days: int = 7300,
             crl_days: int = 365) -> CertificateAuthority:
        d = Path(ca_dir)
        if (d / CA_KEY).exists():
            raise FileExistsError(f"{d / CA_KEY} exists; refusing to overwrite the CA key")
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "RN City"),
                             x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _now()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - BACKDATE).not_valid_after(now + dt.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=True, crl_sign=True,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(ski, critical=False)
                .sign(key, hashes.SHA256()))
        write_secret(d / CA_KEY, _key_pem(key))
        _write_public(d / CA_CERT, _cert_pem(cert))
        _write_public(d / INDEX, json.dumps({"crl_number": 0, "crl_days": crl_days, "certs": []},
                                            indent=1).encode())
        ca = cls(d)
        ca.write_crl()
        return ca

    # ---- index ----------------------------------------------------------------------
    def _index(self) -> dict:
        return json.loads((self.dir / INDEX).read_text())

    def _save_index(self, idx: dict) -> None:
        _write_public(self.dir / INDEX, json.dumps(idx, indent=1, sort_keys=True).encode())

    def certificates(self) -> list[dict]:
        return self._index()["certs"]

    # ---- issuing --------------------------------------------------------------------
    def _issue(self, kind: str, ident: str, subject: x509.Name, out_dir: Path, key_name: str,
               cert_name: str, days: int, *, server_names: list[str] = ()) -> Issued:
        out_dir = Path(out_dir)
        key_path, cert_path = out_dir / key_name, out_dir / cert_name
        if key_path.exists():
            raise FileExistsError(f"{key_path} exists; refusing to overwrite a key")
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        serial = x509.random_serial_number()
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.cert.subject)
             .public_key(key.public_key()).serial_number(serial)
             .not_valid_before(now - BACKDATE).not_valid_after(now + dt.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                          key_encipherment=False, data_encipherment=False,
                                          key_agreement=True, key_cert_sign=False, crl_sign=False,
                                          encipher_only=False, decipher_only=False), critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                            critical=False))
        if server_names:
            alt = []
            for n in server_names:
                try:
                    alt.append(x509.IPAddress(ipaddress.ip_address(n)))
                except ValueError:
                    alt.append(x509.DNSName(n))
            b = (b.add_extension(x509.SubjectAlternativeName(alt), critical=False)
                 .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
        else:
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        cert = b.sign(self.key, hashes.SHA256())
        write_secret(key_path, _key_pem(key))
        _write_public(cert_path, _cert_pem(cert))
        _write_public(out_dir / CA_CERT, _cert_pem(self.cert))
        idx = self._index()
        cn = subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        idx["certs"].append({"serial": format(serial, "x"), "kind": kind, "id": ident, "cn": cn,
                             "issued_at": now.isoformat(), "not_after": cert.not_valid_after_utc.isoformat(),
                             "revoked_at": None})
        self._save_index(idx)
        return Issued(format(serial, "x"), cn, cert_path, key_path)

    def issue_gateway(self, gateway_id: str, out_dir: str | Path, days: int = 1825) -> Issued:
        check_gateway_id(gateway_id)
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "RN City"),
                             x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "gateway"),
                             x509.NameAttribute(NameOID.COMMON_NAME, gateway_id)])
        return self._issue("gateway", gateway_id, subject, Path(out_dir), CLIENT_KEY, CLIENT_CERT, days)

    def issue_receiver(self, receiver_id: str, out_dir: str | Path, days: int = 825) -> Issued:
        if not receiver_id or len(receiver_id) > 64 or any(c in receiver_id for c in "/+#,=\n"):
            raise CAError("bad receiver id")
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "RN City"),
                             x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"receiver {receiver_id}"),
                             x509.NameAttribute(NameOID.COMMON_NAME, RECEIVER_CN)])
        return self._issue("receiver", receiver_id, subject, Path(out_dir), CLIENT_KEY, CLIENT_CERT, days)

    def issue_broker(self, names: list[str], out_dir: str | Path, days: int = 825) -> Issued:
        if not names:
            raise CAError("the broker certificate needs at least one host name or address")
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "RN City"),
                             x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        return self._issue("broker", names[0], subject, Path(out_dir), BROKER_KEY, BROKER_CERT, days,
                           server_names=list(names))

    # ---- revocation -----------------------------------------------------------------
    def revoke(self, *, kind: str | None = None, ident: str | None = None, serial: str | None = None) -> list[str]:
        """Revoke every live certificate of (kind, ident), or one serial; rewrite the CRL.
        Returns the serials revoked now (empty when there was nothing live to revoke)."""
        idx = self._index()
        now = _now().isoformat()
        done = []
        for c in idx["certs"]:
            if c["revoked_at"] is None and ((serial is not None and c["serial"] == serial.lower())
                                            or (serial is None and c["kind"] == kind and c["id"] == ident)):
                c["revoked_at"] = now
                done.append(c["serial"])
        if done:
            self._save_index(idx)
            self.write_crl()
        return done

    def write_crl(self, days: int | None = None) -> Path:
        """Sign a fresh CRL of every revoked serial (also to renew it before ``next_update``:
        an expired CRL makes the broker refuse every client)."""
        idx = self._index()
        idx["crl_number"] = idx.get("crl_number", 0) + 1
        days = days or idx.get("crl_days", 365)
        now = _now()
        b = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
             .last_update(now - BACKDATE).next_update(now + dt.timedelta(days=days))
             .add_extension(x509.CRLNumber(idx["crl_number"]), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                            critical=False))
        for c in idx["certs"]:
            if c["revoked_at"]:
                b = b.add_revoked_certificate(
                    x509.RevokedCertificateBuilder().serial_number(int(c["serial"], 16))
                    .revocation_date(dt.datetime.fromisoformat(c["revoked_at"])).build())
        crl = b.sign(self.key, hashes.SHA256())
        _write_public(self.dir / CRL, crl.public_bytes(serialization.Encoding.PEM))
        self._save_index(idx)
        return self.dir / CRL
