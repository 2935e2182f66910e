"""The synthetic national workload (`ledger.workload`): real areas and weights, a deterministic plan,
and a run through the real application on SQLite and PostgreSQL whose every command is accepted
(or refused for the rule it was planned to break), that stocks never run negative, that the
projections agree with a rebuild, that a second run adds nothing and an interrupted run resumes."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from ledger.application import Ledger
from ledger.settings import Settings
from ledger.workload.census import AGE_PYRAMID_2019, POPULATION_2019, provinces, share_aged
from ledger.workload.national import EVENTS_PER_PERSON, NationalWorkload, people_for_events
from projections.runtime import ProjectionRuntime

PEOPLE = 300


def test_areas_are_the_63_provinces_of_2021_with_their_wards_and_weights():
    ps = provinces()
    assert len(ps) == 63 == len(POPULATION_2019)
    assert sum(len(p.wards) for p in ps) == 10_035
    assert len({w.district_code for p in ps for w in p.wards}) > 690
    assert 96_000_000 < sum(p.population for p in ps) < 97_000_000
    hanoi = next(p for p in ps if p.code == "01")
    assert hanoi.name == "Hà Nội" and hanoi.wards[0].code == "00001" and hanoi.wards[0].district_code == "001"
    assert all(w.province_code == p.code and len(w.code) == 5 for p in ps for w in p.wards)
    assert abs(sum(w for _, w in AGE_PYRAMID_2019) - 100) < 0.5
    assert 0.70 < share_aged(18) < 0.73 and 0.22 < share_aged(50) < 0.25


def test_the_plan_is_a_function_of_the_seed_and_spreads_people_by_population():
    a, b = NationalWorkload(seed=11, people=6000), NationalWorkload(seed=11, people=6000)
    first, second = a.plan(), b.plan()
    assert [(x.at, x.org, x.kind, x.ref) for x in first] == [(x.at, x.org, x.kind, x.ref) for x in second]
    assert [(x.at, x.org, x.kind) for x in NationalWorkload(seed=12, people=2000).plan()] != [
        (x.at, x.org, x.kind) for x in first]
    assert [x.at for x in first] == sorted(x.at for x in first)
    residents = Counter(p.ward.province_code for p in a.persons if p.n >= 0)
    assert residents["79"] > residents["06"] * 5  # Hồ Chí Minh City (9.0 M) vs Bắc Kạn (0.3 M)
    assert len({p.ward.province_code for p in a.persons}) > 50
    kinds = Counter(x.kind for x in first)
    for kind in ("facility", "lot", "supplier_receipt", "dispatch", "receipt", "register", "approval", "screening",
                 "dose", "late_dose", "waste", "verification", "correction", "merge", "sample", "pooled_sample",
                 "result"):
        assert kinds[kind] > 0, kind
    assert sum(len(rows) for rows in a.checkins.values()) > 0
    assert min(a.checkins) >= date(2021, 9, 20)
    assert people_for_events(1_000_000) == 1_000_000 // EVENTS_PER_PERSON


def _run(settings: Settings, people: int = PEOPLE, seed: int = 5, **kwargs) -> tuple[dict, Ledger]:
    ledger = Ledger(settings)
    return NationalWorkload(seed=seed, people=people).run(ledger, **kwargs), ledger


def test_a_run_goes_through_every_rule_and_the_projections_agree_with_a_rebuild(store: Settings):
    summary, ledger = _run(store)
    try:
        assert summary["status"] == "loaded" and summary["events_written"] == ledger.head()
        assert summary["doses"] > PEOPLE // 2 and summary["checkins"] > 0 and summary["samples"] > 0
        assert summary["vaccination_points"] >= 63 and summary["provinces"] == 63
        assert set(summary["refused"]) <= {"id_number", "screening_already_used"}
        runtime = ProjectionRuntime(store, ledger)
        try:
            runtime.engine.catch_up()
            live = {name: runtime.engine.digest(name) for name in ("vaccination_history", "stock", "testing")}
            levels = runtime.db.query("SELECT on_hand, administered FROM stock_levels")
            assert levels and all(r["on_hand"] >= 0 for r in levels)
            assert sum(r["administered"] for r in levels) == summary["doses"]
            lines = runtime.db.query("SELECT status FROM stock_transfer_lines")
            assert lines and all(r["status"] != "in_transit" for r in lines)  # every transfer was received
            for name, digest in live.items():
                assert runtime.engine.rebuild(name) == digest, name
        finally:
            runtime.close()
        # A second run finds the complete load and writes nothing.
        again = NationalWorkload(seed=5, people=PEOPLE).run(ledger)
        assert again["status"].startswith("already loaded") and ledger.head() == summary["events_written"]
    finally:
        ledger.close()


def test_ledger_workload_runs_it_once_from_the_cli(tmp_path, capsys):
    from ledger.cli import build_parser

    settings = Settings(database_url=f"sqlite:///{tmp_path}/ledger.sqlite3")

    def run() -> str:
        args = build_parser().parse_args(["workload", "--people", "150", "--seed", "3"])
        assert args.func(settings, args) == 0
        return capsys.readouterr().out

    first = run()
    assert "status: loaded" in first and "provinces: 63" in first
    assert "already loaded" in run()


class _Stop(Exception):
    pass


def test_an_interrupted_run_resumes_to_the_same_events_as_an_uninterrupted_one(tmp_path):
    clean, clean_ledger = _run(Settings(database_url=f"sqlite:///{tmp_path}/clean.sqlite3"))
    topics_clean = _topics(clean_ledger)
    clean_head = clean_ledger.head()
    clean_ledger.close()

    settings = Settings(database_url=f"sqlite:///{tmp_path}/resumed.sqlite3")

    def stop_half_way(done: int, total: int) -> None:
        if done > total // 2:
            raise _Stop

    with pytest.raises(_Stop):
        _run(settings, progress=stop_half_way)
    resumed, ledger = _run(settings)
    try:
        assert resumed["status"] == "loaded" and resumed["commands_replayed"] > 0
        assert ledger.head() == clean_head
        assert _topics(ledger) == topics_clean
    finally:
        ledger.close()


def _topics(ledger: Ledger) -> Counter[str]:
    return Counter(state["topic"] for _, state in ledger.stored_after(0, stop=ledger.head(), topics=(), limit=10**7))
