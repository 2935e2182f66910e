"""The `ledger` command: migrate, serve, load the demo, run and rebuild projections."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .settings import Settings


def _ledger(settings: Settings):  # noqa: ANN202 - imported late so `ledger --help` stays fast
    from .application import Ledger

    return Ledger(settings)


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from .migrate import migrate

    applied = migrate(settings)
    print(f"{settings.describe()}: applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", access_log=False)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    _serve(settings, args.host, args.port)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from .demo import load_demo

    if settings.is_postgres:
        cmd_migrate(settings, args)
    with _read_side(settings) as (ledger, runtime):
        print(f"Loading the demo campaign into {settings.describe()} ...")
        started = time.monotonic()
        summary = load_demo(ledger, people=args.people, progress=_progress("demo"))
        applied = runtime.engine.catch_up()
        print(f"Loaded in {time.monotonic() - started:.1f}s; projections applied {applied} events.")
        for key, value in summary.items():
            print(f"  {key}: {value}")
    if args.no_serve:
        return 0
    base = f"http://{args.host}:{args.port}"
    print(
        f"\nServing the API at {base}\n"
        f"  OpenAPI docs:        {base}/docs\n"
        f"  projection status:   {base}/v1/projections\n"
        f"  stock totals:        {base}/v1/stock/totals?by=vaccine\n"
        f"  a person's history:  {base}/v1/people/<person_id>/vaccination-history\n"
        "Writes need the headers X-Actor and X-Org. Stop with Ctrl-C.\n"
    )
    _serve(settings, args.host, args.port)
    return 0


@contextmanager
def _read_side(settings: Settings) -> Iterator:
    """The ledger and the projection runtime over it, closed on the way out."""
    from projections.runtime import ProjectionRuntime

    ledger = _ledger(settings)
    runtime = ProjectionRuntime(settings, ledger)
    try:
        yield ledger, runtime
    finally:
        runtime.close()
        ledger.close()


def _names(runtime, name: str) -> list[str]:  # noqa: ANN001
    """The projections a command names: one (checked, KeyError if unknown) or `all`."""
    if name == "all":
        return sorted(runtime.engine.projections)
    runtime.engine.projection(name)
    return [name]


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
    with _read_side(settings) as (ledger, runtime):
        try:
            names = _names(runtime, args.name)
        except KeyError as e:
            print(e.args[0], file=sys.stderr)
            return 2
        for name in names:
            started = time.monotonic()
            digest = runtime.engine.rebuild(name, progress=_progress(f"rebuild {name}"))
            print(f"{name}: rebuilt to position {ledger.head()} in {time.monotonic() - started:.1f}s")
            print(f"{name}: digest {digest}")
    return 0


def cmd_projections_status(settings: Settings, args: argparse.Namespace) -> int:
    with _read_side(settings) as (_, runtime):
        print(f"{'projection':<22} {'position':>10} {'head':>10} {'lag':>8}  updated")
        for row in runtime.status():
            print(f"{row['name']:<22} {row['position']:>10} {row['head']:>10} {row['lag']:>8}  {row['updated_at']}")
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


def _progress(label: str):  # noqa: ANN202
    """A progress callback (done, total) drawn with tqdm on a terminal, silent otherwise."""
    from tqdm import tqdm

    bar: dict[str, tqdm] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc=label, unit="pos", unit_scale=True, file=sys.stderr,
                              disable=not sys.stderr.isatty())
        b = bar["bar"]
        b.total = total
        b.update(done - b.n)
        if done >= total:
            b.close()

    return update


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
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="load the demo campaign (once) and serve the API")
    demo.add_argument("--people", type=int, default=3000)
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--no-serve", action="store_true", help="load and exit")
    demo.set_defaults(func=cmd_demo)

    proj = sub.add_parser("projections", help="run, rebuild and inspect projections").add_subparsers(
        dest="projections_command", required=True
    )
    proj.add_parser("run", help="keep projections up to date (own process)").set_defaults(func=cmd_projections_run)
    rebuild = proj.add_parser("rebuild", help="rebuild a projection from position 0 and print its digest")
    rebuild.add_argument("name", help="projection name, or 'all'")
    rebuild.set_defaults(func=cmd_projections_rebuild)
    proj.add_parser("status", help="positions and lag").set_defaults(func=cmd_projections_status)
    digest = proj.add_parser("digest", help="print a projection's digest")
    digest.add_argument("name", help="projection name, or 'all'")
    digest.set_defaults(func=cmd_projections_digest)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.func(Settings.from_env(), args)


if __name__ == "__main__":
    sys.exit(main())
