-- Services (issue 5): agents and operator prompts.

CREATE TABLE agents (
    name       TEXT PRIMARY KEY,
    host       TEXT NOT NULL,
    embedded   INTEGER NOT NULL DEFAULT 0,
    version    TEXT NOT NULL,
    started_at TEXT NOT NULL,
    last_seen  TEXT NOT NULL
);

-- Things only a person can do: take user media out of the import/export slot, load blank media,
-- move a volume. Listed and acknowledged through the API and CLI; a daemon never waits on a terminal.
CREATE TABLE prompts (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('take_out', 'load_blank', 'move_volume')),
    message    TEXT    NOT NULL,
    request_id INTEGER REFERENCES requests (id),
    volume     TEXT,
    device     TEXT,
    created_at TEXT    NOT NULL,
    acked_at   TEXT,
    acked_by   TEXT
);
CREATE INDEX prompts_open ON prompts (acked_at);
