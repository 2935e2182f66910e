"""Server logs carry ids, never names, identity numbers or phone numbers.

The first line of defence is what the code logs: no request bodies, no query strings, no
domain error messages (those are answered to the caller, not logged), no access log (a URL
such as `/v1/people?id_number=...` would carry a number). The second is this filter, on every
handler: it rewrites each record's message, arguments and traceback, replacing numbers of 9
to 15 digits (CCCD, CMND, insurance and phone numbers, also in groups or after `+`) with
`[redacted]`; ids are UUIDs and untouched (a position past a billion would be redacted too). A name cannot be told from other text, so names rely
on the first line; `tests/e2e/test_server.py` checks the whole server output for one.
"""

from __future__ import annotations

import logging
import re

#: 9 to 15 digits, maybe in groups (`0912 345 678`), maybe after `+` or an insurance card's two letters.
_NUMBERS = re.compile(r"(?<![0-9A-Za-z-])(?:\+|[A-Z]{2})?[0-9](?:[ .-]?[0-9]){8,14}(?![0-9A-Za-z-])")
REDACTED = "[redacted]"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def scrub(text: str) -> str:
    """`text` with identity, insurance and phone numbers replaced."""
    return _NUMBERS.sub(REDACTED, text)


class PersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """One stderr handler on the root logger, with the filter; uvicorn's loggers propagate to it."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(PersonalDataFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
