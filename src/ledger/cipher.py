"""Encryption at rest of each stored event's state: the library's AES-GCM format, made cheaper.

`LedgerCipher` writes and reads exactly what `eventsourcing.cryptography.AESCipher` does (a 96-bit
random nonce, the 16-byte tag, the ciphertext), so stores written by either read with the other.
Two costs of the library's class are gone, both per event: it built an `AESGCM` object (the key
schedule) for every encrypt and decrypt, and it asked the kernel for each 12-byte nonce
(`os.urandom`, a system call): 8 % of a backlog import's time, nearly all of it the nonces.
Here the `AESGCM` object is built once, and nonces are cut from 48 KiB of `os.urandom` at a time.

The nonces stay random: a GCM nonce must never repeat under one key, and slices of the kernel's
CSPRNG output repeat no more often than separate calls do, provided no two processes hand out the
same slices. A child process made by `fork` inherits the parent's unused bytes, so the pool is
emptied in the child (`os.register_at_fork`) before it can encrypt anything.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.cryptography import AESCipher

if TYPE_CHECKING:
    from eventsourcing.utils import Environment

NONCE_BYTES = 12
TAG_BYTES = 16
#: Nonces drawn from the kernel at a time.
POOL_NONCES = 4096


class _NoncePool:
    """Random 12-byte nonces, drawn from `os.urandom` in blocks; safe across threads and forks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()  # the parent's lock may have been held at the fork
        self._pool, self._at = b"", 0

    def take(self) -> bytes:
        with self._lock:
            if self._at >= len(self._pool):
                self._pool, self._at = os.urandom(NONCE_BYTES * POOL_NONCES), 0
            at = self._at
            self._at = at + NONCE_BYTES
            return self._pool[at:at + NONCE_BYTES]


_NONCES = _NoncePool()


class LedgerCipher(AESCipher):
    """AES-GCM with the library's stored format (`nonce | tag | ciphertext`); `CIPHER_KEY` as for `AESCipher`."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._aesgcm = AESGCM(self.key)

    def encrypt(self, plaintext: bytes) -> bytes:
        nonce = _NONCES.take()
        sealed = self._aesgcm.encrypt(nonce, plaintext, None)
        return nonce + sealed[-TAG_BYTES:] + sealed[:-TAG_BYTES]

    def decrypt(self, ciphertext: bytes) -> bytes:
        if len(ciphertext) < NONCE_BYTES + TAG_BYTES:
            raise ValueError("Damaged cipher text: too short for its nonce and tag")
        nonce = ciphertext[:NONCE_BYTES]
        tag = ciphertext[NONCE_BYTES:NONCE_BYTES + TAG_BYTES]
        try:
            return self._aesgcm.decrypt(nonce, ciphertext[NONCE_BYTES + TAG_BYTES:] + tag, None)
        except InvalidTag as e:
            raise ValueError("Invalid cipher tag") from e
