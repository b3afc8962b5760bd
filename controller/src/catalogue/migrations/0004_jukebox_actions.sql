-- Actions that concern no copy: jukebox actions (an inventory, an import from the import/export
-- slot) leased to the agent that drives a jukebox, and retrievals of a file from a volume in an
-- agent's drive. An import or retrieval names its volume. SQLite cannot change a CHECK
-- constraint in place, so the table is rebuilt.

CREATE TABLE actions_v4 (
    id            INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('write', 'verify', 'inventory', 'import', 'retrieve')),
    copy_id       INTEGER REFERENCES copies (id),  -- write and verify
    device        TEXT    NOT NULL,                -- the device, or the jukebox of a jukebox action
    volume        TEXT,                            -- import, retrieve: the volume
    agent         TEXT    NOT NULL,
    job           TEXT    NOT NULL,
    fence         INTEGER NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('queued', 'leased', 'done', 'expired', 'collected')),
    lease_expires TEXT    NOT NULL,
    result        TEXT,
    created_at    TEXT    NOT NULL
);
INSERT INTO actions_v4 (id, kind, copy_id, device, agent, job, fence, state, lease_expires, result, created_at)
    SELECT id, kind, copy_id, device, agent, job, fence, state, lease_expires, result, created_at FROM actions;
DROP TABLE actions;
ALTER TABLE actions_v4 RENAME TO actions;
CREATE INDEX actions_open ON actions (state, agent);
