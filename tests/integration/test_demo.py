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


def test_ledger_demo_encrypts_a_new_store_with_a_key_of_its_own(tmp_path: Path):
    """`ledger demo` on a fresh directory makes var/ledger.key (0600), says so, and no demo person's name is
    readable in the store's files; a second run reuses the key and the tokens."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "src")

    def demo() -> str:
        r = subprocess.run([sys.executable, "-m", "ledger.cli", "demo", "--people", "60", "--national-people", "150",
                            "--no-serve"], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        return r.stdout

    first = demo()
    key = tmp_path / "var" / "ledger.key"
    assert "Generated a cipher key" in first and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "national workload (the other provinces):\n    status: loaded" in first
    settings = Settings(database_url=f"sqlite:///{tmp_path}/var/ledger.sqlite3", cipher_key=key.read_text().strip())
    ledger = Ledger(settings)
    try:
        names = {e.full_name for _, e in ledger.events_after(0, stop=ledger.head(), topics=["ledger.person.Registered"],
                                                               limit=100)}
    finally:
        ledger.close()
    assert len(names) > 10
    files = b"".join(p.read_bytes() for p in (tmp_path / "var").iterdir() if "sqlite3" in p.name)
    assert not [n for n in names if n.encode() in files]
    second = demo()
    assert "Generated a cipher key" not in second and "already loaded" in second
    tokens = json.loads((tmp_path / "var" / "demo-tokens.json").read_text())
    assert all(token in second for token in tokens.values())


def test_the_demo_wave_reaches_every_read_of_the_outbreak(ledger, runtime):
    """The demo's Omicron wave on both stores: cases by each rule, traced contacts met at a venue (so the
    exposure candidates find them), every quarantine order released, check-ins in bulk, declarations,
    and a risk map over the loaded reference population."""
    summary = load_demo(ledger, people=150)
    assert summary["status"] == "loaded"
    assert {"rt_pcr", "pool"} <= set(summary["cases_by_route"]) and summary["cases_retracted"] == 1
    assert summary["contacts"] > 0 and summary["quarantine_follow_ups"] > 0
    assert summary["quarantine_orders"] == summary["quarantine_releases"] > 0
    assert summary["check_ins"] > 500 and summary["health_declarations"] > 0 and summary["population_loads"] == 1
    assert {"quarantine_already_released", "checkin_at_registered_venue", "no_quarantine_for_level"} <= set(
        summary["refused"])
    runtime.engine.catch_up()

    cases, _ = runtime.testing.cases(limit=1000)
    assert {c["status"] for c in cases} == {"active", "retracted"}
    traced = [(c, runtime.tracing.contacts_of_case(c["case_id"])) for c in cases]
    case, contacts = next((c, found) for c, found in traced if any(x["level"] == "F1" for x in found))
    met = runtime.checkins.exposure_candidates(case["case_id"])
    f1s = {x["person_id"] for x in contacts if x["level"] == "F1"}
    assert f1s <= {m["person_id"] for m in met["candidates"]}

    wards = runtime.risk_map.risk_map("ward", "2022-W05")
    assert wards and all(w["denominator_source"] == "reference" for w in wards if w["population"])
    assert any(w["cases"] for week in ("2022-W04", "2022-W05", "2022-W06", "2022-W07")
               for w in runtime.risk_map.risk_map("ward", week))
