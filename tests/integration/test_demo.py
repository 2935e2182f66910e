"""`make demo`'s campaign and tokens on the embedded store: loaded once, valid, and ready to use."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from ledger.application import Ledger
from ledger.demo import DEMO_CALLERS, demo_tokens, load_demo
from ledger.settings import Settings


def test_the_demo_loads_once_and_hands_out_a_working_token_per_role(tmp_path: Path):
    """A second load writes nothing; the tokens are kept (0600) and reused, and each authenticates in its role."""
    ledger = Ledger(Settings(database_url=f"sqlite:///{tmp_path}/ledger.sqlite3"))
    try:
        summary = load_demo(ledger, people=120)
        assert summary["status"] == "loaded" and summary["doses"] > 0 and summary["refused"]
        head = ledger.head()
        assert load_demo(ledger, people=120)["status"].startswith("already loaded")
        assert ledger.head() == head

        path = tmp_path / "demo-tokens.json"
        tokens = demo_tokens(ledger, path)
        assert set(tokens) == set(DEMO_CALLERS)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        for role, token in tokens.items():
            grant = ledger.authenticate(token)
            assert grant is not None and grant.role == role and grant.subject == DEMO_CALLERS[role][0]
        head = ledger.head()
        assert demo_tokens(ledger, path) == tokens and ledger.head() == head  # reused, nothing issued

        # A token that stopped working (revoked) is replaced, and the file follows.
        from ledger.domain import Provenance

        revoked = ledger.authenticate(tokens["auditor"])
        ledger.revoke_token(grant_id=revoked.id, reason="rotated", prov=Provenance("t", "MOH", "cli"))
        renewed = demo_tokens(ledger, path)
        assert renewed["auditor"] != tokens["auditor"] and ledger.authenticate(renewed["auditor"]) is not None
        assert json.loads(path.read_text()) == renewed
    finally:
        ledger.close()
