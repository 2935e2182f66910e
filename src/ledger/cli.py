"""The `ledger` command: migrate, serve, load the demo, run and rebuild projections."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .settings import Settings

#: The roles of `ledger.domain.access` (repeated here so `ledger --help` does not import the domain).
ROLE_NAMES = ("auditor", "citizen", "integrator", "lab", "national_operator", "provincial", "vaccinator",
              "warehouse_clerk")


def _ledger(settings: Settings):  # noqa: ANN202 - imported late so `ledger --help` stays fast
    from .application import Ledger

    return Ledger(settings)


@contextmanager
def _opened(settings: Settings) -> Iterator:
    """The ledger alone, closed on the way out."""
    ledger = _ledger(settings)
    try:
        yield ledger
    finally:
        ledger.close()


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from .migrate import migrate

    applied = migrate(settings)
    print(f"{settings.describe()}: applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def cmd_workload(settings: Settings, args: argparse.Namespace) -> int:
    from .workload.national import NationalWorkload, people_for_events

    if settings.is_postgres:
        cmd_migrate(settings, args)
    people = args.people or people_for_events(args.events)
    with _opened(settings) as ledger:
        print(f"Running the national workload (seed {args.seed}, {people:,} residents) into {settings.describe()} ...")
        summary = NationalWorkload(seed=args.seed, people=people).run(
            ledger, progress=_progress("workload", unit="command"))
    for key, value in summary.items():
        print(f"  {key}: {value}")
    return 0


def _serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    from api.app import create_app

    # No access log: URLs can carry identity numbers (a search by document). log_config=None keeps the
    # root handler of `ledger.logs.configure_logging`, whose filter redacts numbers from every record.
    options = {"host": host, "port": port, "log_level": "info", "access_log": False, "log_config": None}
    if workers == 1:
        uvicorn.run(create_app(settings, serving=True), **options)
    else:
        # Each worker process builds its own app from the same environment (`api.app.app_from_env`).
        uvicorn.run("api.app:app_from_env", factory=True, workers=workers, **options)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    if args.workers > 1 and settings.run_projections_in_process:
        print(f"ledger: each of the {args.workers} workers runs the projection engine too; they take turns, "
              "so one would do: set LEDGER_PROJECTIONS_IN_PROCESS=0 and run `ledger projections run` once.",
              file=sys.stderr)
    _serve(settings, args.host, args.port, args.workers)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .demo import PROVINCE as DEMO_PROVINCE
    from .demo import demo_tokens, load_demo
    from .secrets import new_key_file
    from .settings import key_file
    from .workload.national import NationalWorkload

    if settings.is_postgres:
        cmd_migrate(settings, args)
    elif settings.cipher_key is None and not settings.sqlite_path.exists():
        # A new embedded store is encrypted from its first event, with a key of its own beside it.
        path = key_file(settings.database_url)
        settings = replace(settings, cipher_key=new_key_file(path))
        print(f"Generated a cipher key for the new store at {path} (0600): stored events are encrypted with it;\n"
              "`ledger serve` in this directory finds it there. Keep it with the store, and keep it secret.")
    with _read_side(settings) as (ledger, runtime):
        print(f"Loading the demo campaign into {settings.describe()} ...")
        started = time.monotonic()
        summary = load_demo(ledger, people=args.people, progress=_progress("demo", unit="command"))
        if args.national_people:
            # The other 62 provinces, from the national workload at a small size: Hà Nội is the demo's.
            national = NationalWorkload(seed=2021, people=args.national_people,
                                        exclude_provinces=frozenset({DEMO_PROVINCE}))
            print(f"Loading the national workload ({args.national_people:,} residents of the other provinces) ...")
            summary["national"] = national.run(ledger, progress=_progress("national", unit="command"))
        applied = runtime.engine.catch_up()
        print(f"Loaded in {time.monotonic() - started:.1f}s; projections applied {applied} events.")
        national = summary.pop("national", None)
        for key, value in summary.items():
            print(f"  {key}: {value}")
        if national:
            print("  national workload (the other provinces):")
            for key, value in national.items():
                print(f"    {key}: {value}")
        token_file = (Path("var") if settings.is_postgres else settings.sqlite_path.parent) / "demo-tokens.json"
        tokens = demo_tokens(ledger, token_file)
    print(f"\nA bearer token per role (kept in {token_file}; only their hashes are in the ledger):")
    for role, token in tokens.items():
        print(f"  {role:<18} {token}")
    if args.no_serve:
        return 0
    base = f"http://{args.host}:{args.port}"
    print(
        f"\nServing the API at {base}\n"
        f"  OpenAPI docs:        {base}/docs  (Authorize with a token above)\n"
        f"  projection status:   {base}/v1/projections\n"
        f"  stock totals:        {base}/v1/stock/totals?by=vaccine\n"
        f"  a person's history:  {base}/v1/people/<person_id>/vaccination-history\n"
        f"Every call but /health needs 'Authorization: Bearer <token>', e.g.\n"
        f"  curl -H 'Authorization: Bearer {tokens.get('national_operator', '<token>')}' {base}/v1/projections\n"
        "Stop with Ctrl-C.\n"
    )
    _serve(settings, args.host, args.port)
    return 0


@contextmanager
def _read_side(settings: Settings) -> Iterator:
    """The ledger and the projection runtime over it, closed on the way out."""
    from projections.runtime import ProjectionRuntime

    with _opened(settings) as ledger:
        runtime = ProjectionRuntime(settings, ledger)
        try:
            yield ledger, runtime
        finally:
            runtime.close()


def _names(runtime, names: list[str]) -> list[str]:  # noqa: ANN001
    """The projections a command names (checked, KeyError if one is unknown); `all` for every one."""
    if names == ["all"]:
        return sorted(runtime.engine.projections)
    for name in names:
        runtime.engine.projection(name)
    return sorted(set(names))


def cmd_projections_run(settings: Settings, args: argparse.Namespace) -> int:
    """Run the projection engine in this process until interrupted."""
    stop = threading.Event()
    with _read_side(settings) as (_, runtime):
        print(f"Running projections {sorted(runtime.engine.projections)} on {settings.describe()} (Ctrl-C stops)")
        try:
            runtime.engine.run_forever(stop, settings.poll_interval)
        except KeyboardInterrupt:
            stop.set()
    return 0


def cmd_projections_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    """Rebuild the named projections blue/green, in one pass over the log (`projections.rebuild`)."""
    from projections.rebuild import Build
    from projections.scratch import AreaBusy

    with _read_side(settings) as (_, runtime):
        try:
            names = _names(runtime, args.name)
        except KeyError as e:
            print(e.args[0], file=sys.stderr)
            return 2
        build = Build(runtime.engine, names)
        started = time.monotonic()
        try:
            digests = build.rebuild(_progress(f"rebuild {', '.join(names)}"), restart=args.restart)
        except AreaBusy as e:
            print(f"refused: {e}", file=sys.stderr)
            return 1
        print(f"rebuilt {', '.join(names)} to position {build.position} in {time.monotonic() - started:.1f}s"
              f" (switched in; scratch area {build.area} dropped)")
        for name in names:
            print(f"{name}: digest {digests[name]} at position {build.position}")
    return 0


def cmd_projections_build(settings: Settings, args: argparse.Namespace) -> int:
    """Build the named projections as of a position or a moment into a scratch area, kept for reading."""
    from projections.rebuild import Build
    from projections.scratch import AreaBusy

    with _read_side(settings) as (ledger, runtime):
        try:
            names = _names(runtime, args.name)
        except KeyError as e:
            print(e.args[0], file=sys.stderr)
            return 2
        position = args.as_of_position if args.as_of_time is None else ledger.position_at(args.as_of_time)
        if not 0 <= position <= ledger.head():
            print(f"position {position} is not in the log (its head is {ledger.head()})", file=sys.stderr)
            return 2
        build = Build(runtime.engine, names, until=position)
        try:
            digests = build.as_of(_progress(f"build {', '.join(names)} as of {position}"), restart=args.restart)
        except AreaBusy as e:
            print(f"refused: {e}", file=sys.stderr)
            return 1
        where = "schema" if settings.is_postgres else "file beside the projections"
        print(f"built {', '.join(names)} as of position {position} into scratch area {build.area} ({where});"
              f" read it with ?as_of_position={position}, drop it with `ledger projections drop {build.area}`")
        for name in names:
            print(f"{name}: digest {digests[name]} at position {position}")
    return 0


def cmd_projections_drop(settings: Settings, args: argparse.Namespace) -> int:
    """Drop a scratch area (an as-of build, or an interrupted rebuild)."""
    from projections import scratch

    with _read_side(settings) as (_, runtime):
        if args.area not in scratch.areas(runtime.db):
            print(f"no scratch area {args.area!r}; there are: {scratch.areas(runtime.db) or 'none'}", file=sys.stderr)
            return 2
        try:
            with scratch.exclusive(runtime.db, args.area):
                scratch.drop(runtime.db, args.area)
        except scratch.AreaBusy as e:
            print(f"refused: {e}", file=sys.stderr)
            return 1
    print(f"dropped {args.area}")
    return 0


def cmd_projections_status(settings: Settings, args: argparse.Namespace) -> int:
    from projections import scratch

    with _read_side(settings) as (_, runtime):
        print(f"{'projection':<22} {'position':>10} {'head':>10} {'lag':>8}  updated")
        for row in runtime.status():
            print(f"{row['name']:<22} {row['position']:>10} {row['head']:>10} {row['lag']:>8}  {row['updated_at']}")
        for area in scratch.areas(runtime.db):
            positions = scratch.positions(runtime.db, area)
            print(f"scratch area {area}: " + ", ".join(f"{n} at {p}" for n, p in sorted(positions.items())))
    return 0


def cmd_projections_digest(settings: Settings, args: argparse.Namespace) -> int:
    with _read_side(settings) as (_, runtime):
        try:
            names = _names(runtime, args.name)
        except KeyError as e:
            print(e.args[0], file=sys.stderr)
            return 2
        for name in names:
            print(f"{name}: digest {runtime.engine.digest(name)} at position {runtime.engine.positions()[name]}")
    return 0


def _operator(args: argparse.Namespace):  # noqa: ANN202
    """Provenance of an operator's command on the command line."""
    from .domain import Provenance

    return Provenance(actor=args.actor, org=args.org, source="cli")


def cmd_tokens_issue(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from .domain import Facility, LedgerError

    scope: dict = {}
    if args.facility_code:
        scope["facility_id"] = str(Facility.create_id(args.facility_code))
    if args.province:
        scope["province_code"] = args.province
    if args.person_id:
        scope["person_id"] = args.person_id
    if args.event_type:
        scope["event_types"] = args.event_type
    expires = datetime.now(UTC) + timedelta(days=args.expires_in_days) if args.expires_in_days else None
    with _opened(settings) as ledger:
        try:
            result, token = ledger.issue_token(subject=args.subject, org=args.grant_org, role=args.role,
                                               scope=scope, expires_at=expires, label=args.label, prov=_operator(args))
        except LedgerError as e:
            print(f"refused: {e}", file=sys.stderr)
            return 1
    print(f"grant {result.ids['grant_id']}: {args.role} {args.subject} ({args.grant_org}) scope {scope or '{}'}"
          + (f", expires {expires:%Y-%m-%d %H:%M} UTC" if expires else ""))
    print("token (shown once; only its hash is kept):")
    print(token)
    return 0


def cmd_tokens_list(settings: Settings, args: argparse.Namespace) -> int:
    with _opened(settings) as ledger:
        grants = ledger.grants()
    print(f"{'grant':<36}  {'role':<17} {'subject':<20} {'org':<14} {'state':<8} issued by")
    for g in grants:
        state = "revoked" if g["revoked_at"] else "active"
        print(f"{g['grant_id']:<36}  {g['role']:<17} {g['subject']:<20} {g['org']:<14} {state:<8} {g['issued_by']}"
              f" at {g['issued_at']:%Y-%m-%d %H:%M}  scope {g['scope']}")
    return 0


def cmd_tokens_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from uuid import UUID

    from .domain import LedgerError

    with _opened(settings) as ledger:
        try:
            ledger.revoke_token(grant_id=UUID(args.grant_id), reason=args.reason, prov=_operator(args))
        except (LedgerError, ValueError) as e:
            print(f"refused: {e}", file=sys.stderr)
            return 1
    print(f"grant {args.grant_id} revoked; its token is refused from the next request on")
    return 0


def cmd_population_load(settings: Settings, args: argparse.Namespace) -> int:
    """Load a reference population file (JSON list or CSV), all rows or none (risk map)."""
    from .commands.risk import read_population_file
    from .domain import Invalid, LedgerError

    with _opened(settings) as ledger:
        try:
            result = ledger.load_population(rows=read_population_file(args.file), prov=_operator(args))
        except (LedgerError, OSError, ValueError) as e:
            print(f"refused: {e}", file=sys.stderr)
            for bad in (e.details.get("rows") or []) if isinstance(e, Invalid) else []:
                print(f"  row {bad['row']}: {bad['field']}: {bad['message']}", file=sys.stderr)
            return 1
    print(" ".join(f"{k}={v}" for k, v in result.ids.items()))
    return 0


def cmd_checkins_import(settings: Settings, args: argparse.Namespace) -> int:
    """Import check-ins from NDJSON or CSV: a report line per row that is not accepted, then the counts."""
    import orjson

    from .commands.checkins import parse_csv, parse_ndjson
    from .domain import LedgerError

    csv_file = args.format == "csv" or (args.format is None and args.file.lower().endswith(".csv"))

    def report(row) -> None:  # noqa: ANN001
        if args.all or row.status != "accepted":
            print(orjson.dumps(row.as_dict()).decode())

    try:
        with _opened(settings) as ledger, open(args.file, encoding="utf-8", newline="" if csv_file else None) as f:
            rows = parse_csv(f) if csv_file else parse_ndjson(f)
            result = ledger.import_checkins(rows, prov=_operator(args), on_report=report)
    except (LedgerError, OSError, UnicodeDecodeError) as e:
        # The batches reported above are recorded; importing the file again adds only what is missing.
        print(f"stopped: {e}", file=sys.stderr)
        return 1
    print(f"accepted={result.accepted} duplicate={result.duplicate} refused={result.refused} "
          f"position={result.position}", file=sys.stderr)
    return 0 if result.refused == 0 else 3


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    """Import a backlog (NDJSON or CSV): progress on stderr, a report line per row that is not accepted
    (every row with --all, or all of them to --report FILE), then the counts."""
    import orjson

    from api.backlog import parse_csv, parse_ndjson

    from .domain import LedgerError

    csv_file = args.format == "csv" or (args.format is None and args.file.lower().endswith(".csv"))
    try:
        with open(args.file, "rb") as f:
            total = sum(1 for line in f if line.strip()) - (1 if csv_file else 0)
    except OSError as e:
        print(f"cannot read {args.file}: {e}", file=sys.stderr)
        return 1
    progress = _progress("import", unit="row")
    done = [0]
    out = open(args.report, "wb") if args.report else None  # noqa: SIM115 - closed below

    def report(row) -> None:  # noqa: ANN001
        done[0] += 1
        if out is not None:
            out.write(orjson.dumps(row.as_dict()) + b"\n")
        elif args.all or row.status != "accepted":
            print(orjson.dumps(row.as_dict()).decode())
        if done[0] % 1000 == 0 or done[0] == total:
            progress(done[0], total)

    try:
        with _opened(settings) as ledger, open(args.file, encoding="utf-8", newline="" if csv_file else None) as f:
            rows = parse_csv(f) if csv_file else parse_ndjson(f)
            result = ledger.import_backlog(rows, prov=_operator(args), on_report=report,
                                           **({"batch_size": args.batch} if args.batch else {}))
    except (LedgerError, OSError, UnicodeDecodeError) as e:
        # Every batch reported above is recorded; importing the same file again adds only what is missing.
        print(f"stopped: {e}", file=sys.stderr)
        return 1
    finally:
        if out is not None:
            out.close()
    print(f"accepted={result.accepted} duplicate={result.duplicate} refused={result.refused} "
          f"position={result.position}", file=sys.stderr)
    return 0 if result.refused == 0 else 3


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """Events (one Parquet file per type) and projection tables to DIR for analysis, with a manifest."""
    from datetime import UTC, datetime
    from pathlib import Path

    import orjson

    from projections.export import export_projections

    from .export import export_events

    directory = Path(args.directory)
    if directory.exists() and any(directory.iterdir()):
        print(f"{directory} is not empty: export into a new directory", file=sys.stderr)
        return 2
    with _read_side(settings) as (ledger, runtime):
        try:
            names = [] if args.no_projections else _names(runtime, args.projection or ["all"])
        except KeyError as e:
            print(e.args[0], file=sys.stderr)
            return 2
        head = ledger.head()
        up_to = head if args.up_to_position is None else args.up_to_position
        if not 0 <= up_to <= head:
            print(f"position {up_to} is not in the log (its head is {head})", file=sys.stderr)
            return 2
        manifest: dict = {"exported_at": datetime.now(UTC).isoformat(), "store": settings.describe(), "head": head,
                          "personal_data": args.personal_data}
        directory.mkdir(parents=True, exist_ok=True)
        if not args.no_events:
            manifest["events"] = export_events(ledger, directory, up_to=up_to, personal_data=args.personal_data,
                                               progress=_progress("export events"))
        manifest["projections"] = export_projections(runtime.engine, names, directory, personal_data=args.personal_data)
    # Written last: a directory without its manifest is an export that did not finish.
    (directory / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    events = manifest.get("events", {})
    print(f"exported {events.get('events', 0)} events up to position {events.get('up_to_position', up_to)} in "
          f"{len(events.get('files', {}))} files, and {len(names)} projections, to {directory}"
          + ("" if args.personal_data else " (without personal data)"))
    for name, info in manifest["projections"].items():
        print(f"{name}: digest {info['digest']} at position {info['position']}")
    return 0


def _progress(label: str, unit: str = "position", every: float = 10.0):  # noqa: ANN202
    """A progress callback (done, total): a tqdm bar (rate, ETA) on a terminal; elsewhere (a service's
    log, nohup) a line on stderr every `every` seconds with the rate and the time left."""
    from tqdm import tqdm

    if not sys.stderr.isatty():
        started = last = time.monotonic()
        first: list[int] = []

        def report(done: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            first[:] = first or [done]
            if now - last < every and done < total:
                return
            last = now
            rate = (done - first[0]) / max(now - started, 1e-9)
            left = f", about {(total - done) / rate:,.0f}s left" if rate > 0 and done < total else ""
            print(f"{label}: {unit} {done:,} of {total:,} ({done / max(total, 1):.0%}), {rate:,.0f} {unit}s/s"
                  f"{left}", file=sys.stderr, flush=True)

        return report

    bar: dict[str, tqdm] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc=label, unit=unit, unit_scale=True, file=sys.stderr)
        b = bar["bar"]
        b.total = total
        b.update(done - b.n)
        if done >= total:
            b.close()

    return update


def _moment(text: str):  # noqa: ANN202
    """An ISO 8601 moment with its UTC offset (argparse type)."""
    from datetime import datetime

    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset (e.g. 2021-08-01T12:00:00+07:00)")
    return moment


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ledger",
        description="National health data ledger. The store is LEDGER_DATABASE_URL "
        "(default sqlite:///var/ledger.sqlite3; postgresql://... for PostgreSQL).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database administration").add_subparsers(dest="db_command", required=True)
    db.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)

    serve = sub.add_parser("serve", help="serve the HTTP API (with the projection engine in-process)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1,
                       help="API processes (default 1); on 2 cores, 2 serve about half as many doses again")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="load the demo campaign (once) and serve the API")
    demo.add_argument("--people", type=int, default=3000)
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--national-people", type=int, default=1000,
                      help="residents of the other 62 provinces from the national workload (0: none)")
    demo.add_argument("--no-serve", action="store_true", help="load and exit")
    demo.set_defaults(func=cmd_demo)

    workload = sub.add_parser("workload", help="run the synthetic national workload (2021, all 63 provinces) once")
    size = workload.add_mutually_exclusive_group()
    size.add_argument("--events", type=int, default=100_000, help="events to write, roughly")
    size.add_argument("--people", type=int, help="residents to sample (instead of --events)")
    workload.add_argument("--seed", type=int, default=2021)
    workload.set_defaults(func=cmd_workload)

    proj = sub.add_parser("projections", help="run, rebuild and inspect projections").add_subparsers(
        dest="projections_command", required=True
    )
    proj.add_parser("run", help="keep projections up to date (own process)").set_defaults(func=cmd_projections_run)
    rebuild = proj.add_parser("rebuild", help="rebuild projections from position 0 in one pass, blue/green, and print"
                              " their digests (an interrupted rebuild resumes)")
    rebuild.add_argument("name", nargs="+", help="projection names, or 'all'")
    rebuild.add_argument("--restart", action="store_true", help="discard an interrupted rebuild's work first")
    rebuild.set_defaults(func=cmd_projections_rebuild)
    build = proj.add_parser("build", help="build projections as of a position or moment into a scratch area")
    build.add_argument("name", nargs="+", help="projection names, or 'all'")
    as_of = build.add_mutually_exclusive_group(required=True)
    as_of.add_argument("--as-of-position", type=int, help="the last position to apply")
    as_of.add_argument("--as-of-time", type=_moment, help="ISO 8601 moment with its offset: the newest event"
                       " recorded at or before it is the last applied")
    build.add_argument("--restart", action="store_true", help="discard an interrupted build's work first")
    build.set_defaults(func=cmd_projections_build)
    drop = proj.add_parser("drop", help="drop a scratch area (see `status`)")
    drop.add_argument("area")
    drop.set_defaults(func=cmd_projections_drop)
    proj.add_parser("status", help="positions, lag and scratch areas").set_defaults(func=cmd_projections_status)
    digest = proj.add_parser("digest", help="print a projection's digest")
    digest.add_argument("name", nargs="+", help="projection names, or 'all'")
    digest.set_defaults(func=cmd_projections_digest)

    tokens = sub.add_parser("tokens", help="issue, list and revoke API tokens").add_subparsers(
        dest="tokens_command", required=True
    )
    operator = argparse.ArgumentParser(add_help=False)
    operator.add_argument("--actor", default=os.environ.get("USER") or "operator",
                          help="who does this (recorded in the event; default $USER)")
    operator.add_argument("--org", default="MOH", help="for which organisation (recorded in the event)")
    issue = tokens.add_parser("issue", parents=[operator], help="issue a token (printed once)")
    issue.add_argument("--subject", required=True, help="the user or service the token is for")
    issue.add_argument("--grant-org", required=True, help="the organisation the subject acts for")
    issue.add_argument("--role", required=True, choices=sorted(ROLE_NAMES))
    issue.add_argument("--facility-code", help="scope of vaccinator, warehouse_clerk and lab")
    issue.add_argument("--province", help="scope of provincial (2-digit code)")
    issue.add_argument("--person-id", help="scope of citizen")
    issue.add_argument("--event-type", action="append", help="scope of integrator (repeatable)")
    issue.add_argument("--expires-in-days", type=float, help="default: no expiry")
    issue.add_argument("--label", help="a note, e.g. the device")
    issue.set_defaults(func=cmd_tokens_issue)
    tokens.add_parser("list", help="every token issued, with its state").set_defaults(func=cmd_tokens_list)
    revoke = tokens.add_parser("revoke", parents=[operator], help="revoke a token (effective at once)")
    revoke.add_argument("grant_id")
    revoke.add_argument("--reason", required=True)
    revoke.set_defaults(func=cmd_tokens_revoke)
    population = sub.add_parser("population", help="reference population of areas (risk map denominators)")
    load = population.add_subparsers(dest="population_command", required=True).add_parser(
        "load", parents=[operator], help="load a JSON list or CSV of area populations (all rows or none)")
    load.add_argument("file")
    load.set_defaults(func=cmd_population_load)
    checkins = sub.add_parser("checkins", help="venue check-ins")
    imp = checkins.add_subparsers(dest="checkins_command", required=True).add_parser(
        "import", parents=[operator], help="import NDJSON or CSV check-ins: good rows appended, a report per bad row")
    imp.add_argument("file")
    imp.add_argument("--format", choices=("ndjson", "csv"), help="default: by the file's extension (.csv or NDJSON)")
    imp.add_argument("--all", action="store_true", help="report every row, not only those not accepted")
    imp.set_defaults(func=cmd_checkins_import)
    backlog = sub.add_parser(
        "import", parents=[operator], help="import a backlog of registrations, screenings and doses (NDJSON or CSV):"
        " each row checked as its single command, good rows appended in large transactions, a report per row;"
        " importing the same file again (same --org) adds only what is missing")
    backlog.add_argument("file")
    backlog.add_argument("--format", choices=("ndjson", "csv"), help="default: by the file's extension")
    backlog.add_argument("--batch", type=int, default=None, help="rows per transaction (default 2000)")
    backlog.add_argument("--report", metavar="FILE", help="write every row's report to FILE (NDJSON)")
    backlog.add_argument("--all", action="store_true", help="print every row's report, not only those not accepted")
    backlog.set_defaults(func=cmd_import)
    export = sub.add_parser(
        "export", help="events (decoded, one Parquet file per event type) and projection tables to Parquet files in"
        " DIRECTORY, for DuckDB, pandas or R; personal data left out unless --personal-data")
    export.add_argument("directory", help="a new or empty directory")
    export.add_argument("--up-to-position", type=int, default=None, help="the last position exported (default: the head)")
    export.add_argument("--projection", action="append", metavar="NAME", help="export this projection (repeatable;"
                        " default: all)")
    export.add_argument("--no-projections", action="store_true", help="export events only")
    export.add_argument("--no-events", action="store_true", help="export projections only")
    export.add_argument("--personal-data", action="store_true", help="include names, document numbers, phones,"
                        " street addresses, birth dates and free text")
    export.set_defaults(func=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .logs import configure_logging
    from .secrets import SecretsError, check_secrets

    configure_logging(logging.INFO)
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    try:
        check_secrets(settings)
    except SecretsError as e:
        print(f"ledger: refusing to start: {e}", file=sys.stderr)
        return 2
    return args.func(settings, args)


if __name__ == "__main__":
    sys.exit(main())
