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

-- Actions dispatched to agents on other hosts. An agent leases an action for its device; the
-- lease is extended by its progress reports; a result is accepted only with the action's fence
-- while the lease is live, so a dead agent's work is reassigned and its late result refused.
CREATE TABLE actions (
    id            INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('write', 'verify')),
    copy_id       INTEGER NOT NULL REFERENCES copies (id),
    device        TEXT    NOT NULL,
    agent         TEXT    NOT NULL,
    job           TEXT    NOT NULL,             -- JSON: the agent wire job
    fence         INTEGER NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('queued', 'leased', 'done', 'expired', 'collected')),
    lease_expires TEXT    NOT NULL,             -- RFC 3339; queued actions expire too (agent gone)
    result        TEXT,                         -- JSON: the agent's outcome
    created_at    TEXT    NOT NULL
);
CREATE INDEX actions_open ON actions (state, agent);
