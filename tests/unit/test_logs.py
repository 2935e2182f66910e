"""The log filter keeps identity and phone numbers out of every record, tracebacks included."""

from __future__ import annotations

import io
import logging

import pytest

from ledger.logs import FORMAT, REDACTED, PersonalDataFilter, scrub


@pytest.mark.parametrize("text", [
    "cccd 079123456789", "cmnd 123456789.", "phone +84987650123", "phone 0912 345 678", "phone 0912-345-678",
    "insurance DN4790123456789", "id_number=079123456789&x=1",
])
def test_numbers_are_redacted(text):
    assert REDACTED in scrub(text) and not any(run in scrub(text) for run in ("0791234", "8765", "345 678"))


@pytest.mark.parametrize("text", [
    "person 6f1a3c0e-54d1-5b8e-9a57-2b0c1d7e4f10", "uuid 12345678-1234-5678-1234-567812345678",
    "position 48213", "at 2026-11-22T08:15:18+07:00", "lag 12345678",
])
def test_ids_times_and_small_numbers_are_kept(text):
    assert scrub(text) == text


def test_messages_arguments_and_tracebacks_are_filtered():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(PersonalDataFilter())
    logger = logging.getLogger("test.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("lookup of %s failed", "079123456789")
        try:
            raise ValueError("bad phone +84987650123")
        except ValueError:
            logger.exception("command for person %s failed", "6f1a3c0e-54d1-5b8e-9a57-2b0c1d7e4f10")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "079123456789" not in out and "84987650123" not in out
    assert out.count(REDACTED) >= 2 and "6f1a3c0e-54d1-5b8e-9a57-2b0c1d7e4f10" in out and "ValueError" in out
