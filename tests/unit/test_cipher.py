"""The ledger's cipher keeps the library's stored format, and its pooled nonces never repeat, not even
across a fork."""

from __future__ import annotations

import base64
import os

import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment

from ledger.cipher import NONCE_BYTES, POOL_NONCES, LedgerCipher

KEY = base64.b64encode(bytes(range(32))).decode()


def ciphers() -> tuple[LedgerCipher, AESCipher]:
    env = Environment(env={"CIPHER_KEY": KEY})
    return LedgerCipher(env), AESCipher(env)


def test_reads_and_writes_the_librarys_format() -> None:
    ours, library = ciphers()
    for text in (b"", b"x", "Nguyễn Thị Lan".encode() * 50):
        assert library.decrypt(ours.encrypt(text)) == text
        assert ours.decrypt(library.encrypt(text)) == text


def test_tampering_and_truncation_are_refused() -> None:
    ours, _ = ciphers()
    sealed = bytearray(ours.encrypt(b"a dose of AstraZeneca"))
    sealed[-1] ^= 1
    with pytest.raises(ValueError, match="tag"):
        ours.decrypt(bytes(sealed))
    with pytest.raises(ValueError, match="short"):
        ours.decrypt(bytes(sealed[:20]))


def test_nonces_are_unique_past_a_refill_and_in_a_forked_child() -> None:
    ours, _ = ciphers()
    nonces = {ours.encrypt(b"a")[:NONCE_BYTES] for _ in range(POOL_NONCES + 100)}
    assert len(nonces) == POOL_NONCES + 100
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what it encrypts next must not be what the parent encrypts next
        os.close(read)
        os.write(write, b"".join(ours.encrypt(b"a")[:NONCE_BYTES] for _ in range(50)))
        os._exit(0)
    os.close(write)
    parent = {ours.encrypt(b"a")[:NONCE_BYTES] for _ in range(50)}
    data = b""
    while chunk := os.read(read, 4096):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    child = {data[i:i + NONCE_BYTES] for i in range(0, len(data), NONCE_BYTES)}
    assert len(child) == 50 and not child & (parent | nonces)
