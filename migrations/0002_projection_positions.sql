-- Where each projection has got to in the log. A projection's rows and its position are
-- written in the same transaction, so a crash leaves both as they were (exactly once).
-- Portable: applied to PostgreSQL and to the SQLite projections file alike.
CREATE TABLE projection_positions (
    name text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0,
    updated_at text
);
