"""Face templates encrypted at rest: AES-256-GCM with a key only the service can read.

The key is 32 random bytes stored as 64 hex characters (and a newline) in a file that
must be a regular file with no group/world permission bits (``0600`` or ``0400``), or
a systemd credential (``LoadCredential=<name>:<file>`` in the unit, read from
``$CREDENTIALS_DIRECTORY/<name>``). :func:`write_new_key` creates one ``0600`` and never
overwrites.

A blob is ``b"T1" + nonce(12) + ciphertext||tag``; the associated data binds it to its
project, worker and template slot, so a blob copied onto another worker does not
decrypt. Any failure is a :class:`TemplateKeyError` / :class:`TemplateDecryptError`
with a clear message, never an empty result.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared_schema.privatefile import MISSING, NOT_REGULAR, TOO_OPEN, UNREADABLE, PrivateFileError, read_private

BLOB_MAGIC = b"T1"
NONCE_LEN = 12
KEY_CHECK_PLAINTEXT = b"rn-template-key-check-v1"


class TemplateKeyError(RuntimeError):
    """The template key cannot be used (missing, unsafe permissions, malformed, wrong key)."""


class TemplateDecryptError(TemplateKeyError):
    """A stored template does not decrypt: wrong key, tampered or moved blob."""


def _aad(project_code: str, worker_ref: str, slot: str) -> bytes:
    return f"rn-template-v1|{project_code}|{worker_ref}|{slot}".encode("utf-8")


class TemplateKey:
    """An AES-256-GCM key; ``fingerprint`` (hex, 16) identifies it without revealing it."""

    def __init__(self, raw: bytes):
        if len(raw) != 32:
            raise TemplateKeyError("模板密钥须为32字节 / template key must be 32 bytes")
        self._aes = AESGCM(raw)
        self.fingerprint = hashlib.sha256(b"rn-template-key-fp|" + raw).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"TemplateKey(fingerprint={self.fingerprint})"

    def encrypt(self, plaintext: bytes, project_code: str, worker_ref: str, slot: str) -> bytes:
        nonce = os.urandom(NONCE_LEN)
        return BLOB_MAGIC + nonce + self._aes.encrypt(nonce, plaintext, _aad(project_code, worker_ref, slot))

    def decrypt(self, blob: bytes, project_code: str, worker_ref: str, slot: str) -> bytes:
        blob = bytes(blob)
        if len(blob) < len(BLOB_MAGIC) + NONCE_LEN + 16 or not blob.startswith(BLOB_MAGIC):
            raise TemplateDecryptError("模板数据损坏 / template blob is truncated or not a template")
        nonce = blob[2:2 + NONCE_LEN]
        try:
            return self._aes.decrypt(nonce, blob[2 + NONCE_LEN:], _aad(project_code, worker_ref, slot))
        except InvalidTag:
            raise TemplateDecryptError("模板无法解密：密钥错误或数据被篡改 / template does not decrypt: "
                                       "wrong key, or the blob was tampered with or moved") from None


def _parse(text: bytes, where: str) -> TemplateKey:
    s = text.strip()
    try:
        if len(s) != 64:
            raise ValueError
        raw = bytes.fromhex(s.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise TemplateKeyError(f"模板密钥格式错误 / {where}: template key must be 64 hex characters") from None
    return TemplateKey(raw)


def read_key_file(path: str | Path) -> TemplateKey:
    """Load a key file; refuse one that is not a regular file or that group/others may access."""
    path = Path(path)
    try:
        data = read_private(path)
    except PrivateFileError as exc:
        raise TemplateKeyError({
            MISSING: f"模板密钥不存在 / template key not found: {path} (run `edge-agent roster keygen`)",
            UNREADABLE: f"模板密钥无法读取 / cannot read template key {path}: {exc.detail}",
            NOT_REGULAR: f"模板密钥不是普通文件 / {path} is not a regular file",
            TOO_OPEN: f"模板密钥权限过宽 / {path} is accessible to group or others (mode {exc.mode or 0:04o}); "
                      "chmod 600 it",
        }[exc.kind]) from None
    return _parse(data, str(path))


def load_key(key_file: str | None, credential: str | None = None) -> TemplateKey:
    """The service's template key: the systemd credential ``credential`` when
    ``$CREDENTIALS_DIRECTORY`` is set and holds it, else ``key_file``."""
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if credential and cred_dir and (Path(cred_dir) / credential).exists():
        return read_key_file(Path(cred_dir) / credential)
    if not key_file:
        raise TemplateKeyError("未配置模板密钥 / no template key configured ([edge.roster] template_key_file)")
    return read_key_file(key_file)


def write_new_key(path: str | Path) -> TemplateKey:
    """Create a new random key file ``0600``; raises FileExistsError rather than overwrite."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    raw = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)   # whatever the umask
        os.write(fd, raw.hex().encode("ascii") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return TemplateKey(raw)
