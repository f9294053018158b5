"""Signed envelopes: ``MAGIC (4 bytes) | Ed25519 signature (64 bytes) | body``.

The signature covers exactly the body bytes that travel, so the receiver
verifies what it got, not a re-encoding of it. Gateways sign with their own
key (registered at the city); receivers sign acks with the city's key, so a
forged ack can never make a gateway drop unsynced punches.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .wire import MAX_PAYLOAD_BYTES

MAGIC = b"RNS1"
SIG_LEN = 64
HEADER_LEN = len(MAGIC) + SIG_LEN
MAX_ENVELOPE_BYTES = HEADER_LEN + MAX_PAYLOAD_BYTES


class EnvelopeError(ValueError):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def seal(body: bytes, key: Ed25519PrivateKey) -> bytes:
    if len(body) > MAX_PAYLOAD_BYTES:
        raise EnvelopeError("oversize", f"body of {len(body)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    return MAGIC + key.sign(body) + body


def split(payload: bytes) -> tuple[bytes, bytes]:
    """Envelope → (signature, body), checking only the framing."""
    if len(payload) > MAX_ENVELOPE_BYTES:
        raise EnvelopeError("oversize", f"{len(payload)} bytes exceeds {MAX_ENVELOPE_BYTES}")
    if len(payload) < HEADER_LEN + 2:
        raise EnvelopeError("truncated", f"{len(payload)} bytes is shorter than an envelope")
    if payload[: len(MAGIC)] != MAGIC:
        raise EnvelopeError("bad_magic", "not a signed RNS1 envelope")
    return bytes(payload[len(MAGIC):HEADER_LEN]), bytes(payload[HEADER_LEN:])


def verify(signature: bytes, body: bytes, public_key: Ed25519PublicKey) -> None:
    try:
        public_key.verify(signature, body)
    except InvalidSignature:
        raise EnvelopeError("bad_signature", "signature does not verify") from None


def open_signed(payload: bytes, public_key: Ed25519PublicKey) -> bytes:
    """Split and verify; return the body."""
    sig, body = split(payload)
    verify(sig, body, public_key)
    return body


# ---- key files ----------------------------------------------------------------

def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Raw 32-byte public key as 64 hex characters (what registration stores)."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def public_key_from_text(text: str) -> Ed25519PublicKey:
    text = text.strip()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ValueError("public key must be 64 hex characters") from None
    if len(raw) != 32:
        raise ValueError("public key must be 64 hex characters")
    return Ed25519PublicKey.from_public_bytes(raw)


def write_private_key(path: Path, key: Ed25519PrivateKey, *, overwrite: bool = False) -> None:
    """PKCS#8 PEM, mode 0600, written atomically; refuses to replace an existing key."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; refusing to overwrite a signing key")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # a stale tmp would keep its old mode (or be a symlink)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_private_key(path: Path) -> Ed25519PrivateKey:
    data = Path(path).read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ValueError(f"{path} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 key")
    return key


def read_public_key(path: Path) -> Ed25519PublicKey:
    """A file holding the 64-hex public key (``.pub``) or a private key PEM."""
    data = Path(path).read_text().strip()
    if data.startswith("-----BEGIN"):
        return read_private_key(path).public_key()
    return public_key_from_text(data)
