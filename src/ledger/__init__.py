"""The write side of the national health data ledger.

`ledger.domain` holds aggregates, events and rules (pure: standard library and
`eventsourcing.domain` only); `ledger.policies` holds the versioned rule data the
domain applies; `ledger.application` is the service layer that loads, changes and
saves aggregates; `ledger.persistence` and `ledger.settings` connect it to SQLite or
PostgreSQL; `ledger.cli` is the `ledger` command.
"""
