"""Passphrase encryption of a backup archive: scrypt, then AES-256-GCM in authenticated chunks.

    seal(plain_path, sealed_path, passphrase)    unseal(sealed_path, plain_path, passphrase)

A sealed file is a fixed header (magic, scrypt parameters, salt, a passphrase check, the
nonce prefix) followed by records of up to CHUNK bytes, each AES-GCM encrypted with the
header as associated data and a nonce of prefix + record number + last-record flag (the
STREAM construction): a flipped byte fails the record's tag, reordered records fail their
number, and a file cut anywhere lacks the record flagged last. Chunks keep memory flat for
archives of many gigabytes. The passphrase check (16 bytes of the scrypt output beyond the
key) tells a wrong passphrase apart from a damaged file; it gives an attacker nothing the
first record's tag would not.
"""

from __future__ import annotations

import hmac
import os
import struct
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .errors import KitError

MAGIC = b"LLMOPSBK"
VERSION = 1
CHUNK = 1 << 20
# scrypt cost: 2**17 x 8 x 128 bytes = 128 MiB of memory per guess (OWASP's recommendation).
SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P = 17, 8, 1
_HEADER = struct.Struct(">8sBBBB16s16s7s")  # magic, version, log2 n, r, p, salt, check, prefix
_RECORD = struct.Struct(">I")
_TAG_BYTES = 16
PASSPHRASE_FIX = "Pass the passphrase file the backup was made with (--passphrase-file)."
DAMAGED_FIX = "Restore another copy of the archive; this one cannot be trusted."


class ArchiveDamaged(KitError):
    """The archive is not what was written: flipped bytes, cut short, or not a backup."""


def is_sealed(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


def read_passphrase(path: Path) -> bytes:
    """The passphrase file's first line: editors add a newline, which is not part of it."""
    try:
        text = path.read_bytes()
    except OSError as error:
        raise KitError(
            f"cannot read the passphrase file {path}: {error.strerror}",
            fix="Name a readable file holding the passphrase (mode 0600).",
        ) from None
    passphrase = text.splitlines()[0] if text.strip() else b""
    if len(passphrase) < 12:
        raise KitError(
            f"the passphrase in {path} is shorter than 12 characters",
            fix="Write a long random passphrase to it, e.g. "
            "`openssl rand -base64 32 > backup.pass && chmod 600 backup.pass`.",
        )
    return passphrase


def _derive(passphrase: bytes, salt: bytes, log2_n: int, r: int, p: int) -> tuple[bytes, bytes]:
    if not 10 <= log2_n <= 22 or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise ArchiveDamaged("the archive's encryption header is damaged", fix=DAMAGED_FIX)
    material = Scrypt(salt=salt, length=48, n=1 << log2_n, r=r, p=p).derive(passphrase)
    return material[:32], material[32:]


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">I?", index, last)


def seal(plain: Path, sealed: Path, passphrase: bytes) -> None:
    """Encrypt `plain` into `sealed` (which the caller created with its mode)."""
    salt, prefix = os.urandom(16), os.urandom(7)
    key, check = _derive(passphrase, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
    header = _HEADER.pack(MAGIC, VERSION, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, salt, check, prefix)
    aead = AESGCM(key)
    with plain.open("rb") as source, sealed.open("r+b") as target:
        target.truncate(0)
        target.write(header)
        index, chunk = 0, source.read(CHUNK)
        while True:
            following = source.read(CHUNK)
            last = not following
            record = aead.encrypt(_nonce(prefix, index, last), chunk, header)
            target.write(_RECORD.pack(len(record)) + record)
            if last:
                break
            index, chunk = index + 1, following


def _read_exact(handle: BinaryIO, size: int) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise ArchiveDamaged(
            "the archive is truncated (it ends before its last encrypted record)",
            fix="Copy the archive again from where it was made; a partial copy cannot be restored.",
        )
    return data


def unseal(sealed: Path, plain: Path, passphrase: bytes) -> None:
    """Decrypt `sealed` into `plain`; ArchiveDamaged or a passphrase error, never bad bytes."""
    with open(sealed, "rb") as source, plain.open("wb") as target:
        header = _read_exact(source, _HEADER.size)
        magic, version, log2_n, r, p, salt, check, prefix = _HEADER.unpack(header)
        if magic != MAGIC or version != VERSION:
            raise ArchiveDamaged(
                "not an encrypted backup of this kit (unknown header)", fix=PASSPHRASE_FIX
            )
        key, expected = _derive(passphrase, salt, log2_n, r, p)
        if not hmac.compare_digest(check, expected):
            raise KitError("wrong passphrase for this archive", fix=PASSPHRASE_FIX)
        aead, index = AESGCM(key), 0
        while True:
            size = _RECORD.unpack(_read_exact(source, _RECORD.size))[0]
            if not _TAG_BYTES <= size <= CHUNK + _TAG_BYTES:
                raise ArchiveDamaged(
                    f"encrypted record {index} has a damaged length", fix=DAMAGED_FIX
                )
            record = _read_exact(source, size)
            last = not source.peek(1)
            try:
                target.write(aead.decrypt(_nonce(prefix, index, last), record, header))
            except InvalidTag:
                raise ArchiveDamaged(
                    f"encrypted record {index} does not authenticate: the archive was "
                    "changed or cut short after it was written",
                    fix=DAMAGED_FIX,
                ) from None
            if last:
                return
            index += 1
