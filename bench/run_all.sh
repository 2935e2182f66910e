#!/usr/bin/env bash
# Run every benchmark once, in order, on the PostgreSQL server named by BENCH_PG
# (default postgresql://postgres@127.0.0.1:5432/postgres). Each one creates and drops its own
# database bench_<name>_<pid>. About 10-15 minutes on the 2-core reference machine.
#   bash bench/run_all.sh            # full run (1,000,000 events for the rebuild)
#   QUICK=1 bash bench/run_all.sh    # smoke run (~2 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
if [[ "${QUICK:-0}" == "1" ]]; then
  "$PY" -m bench.raw_ceiling --inserts 1000 --rows 50000 --repeats 2
  "$PY" -m bench.rebuild --events 50000 --repeats 2
  "$PY" -m bench.http_doses --duration 5 --warmup 2 --repeats 1 --max-rate 1000
  "$PY" -m bench.live_engine --seconds 4 --repeats 1
  "$PY" -m bench.backlog_import --people 2000 --repeats 1
  "$PY" -m bench.history_reads --events 50000 --duration 3 --repeats 1
  "$PY" -m bench.national --people 2000 --repeats 1
else
  "$PY" -m bench.raw_ceiling --inserts 3000 --rows 200000 --repeats 5
  "$PY" -m bench.rebuild --events 1000000 --repeats 3
  "$PY" -m bench.http_doses --duration 15 --warmup 3 --repeats 3
  "$PY" -m bench.http_doses --duration 15 --warmup 3 --repeats 3 --workers 2
  "$PY" -m bench.http_doses --duration 10 --warmup 3 --repeats 3 --facilities 1
  "$PY" -m bench.live_engine
  "$PY" -m bench.backlog_import --people 25000 --repeats 3
  "$PY" -m bench.history_reads --events 1000000   # the issue's 10 M: --events 10000000 (~15 min more)
  "$PY" -m bench.national --events 1000000
fi
echo "results: bench/results/*-latest.json"
