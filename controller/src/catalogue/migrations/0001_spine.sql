-- The spine: files in data stages, requests, units, copies, volumes, devices, groups, events.

CREATE TABLE files (
    id          INTEGER PRIMARY KEY,
    stage       TEXT    NOT NULL CHECK (stage IN ('archive', 'user')),
    path        TEXT    NOT NULL,             -- relative to the stage root, '/'-separated
    size        INTEGER NOT NULL CHECK (size >= 0),
    sha256      TEXT    NOT NULL,             -- hex
    crc32       INTEGER NOT NULL,
    format      TEXT    NOT NULL,             -- by extension: fits, text, ...
    compression TEXT    NOT NULL,             -- none, gzip, rice, ...
    data_class  TEXT,                         -- archive stage: the class it was ingested as
    mode        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    ingested_at TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'staged' CHECK (state IN ('staged', 'archived', 'delivered')),
    UNIQUE (stage, path)
);

CREATE TABLE requests (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('archive', 'user')),
    source       TEXT    NOT NULL,            -- who submitted it: cli, ingest, demo, ...
    requester    TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    copies       INTEGER NOT NULL CHECK (copies >= 1),
    media_type   TEXT    NOT NULL,
    device_group TEXT    NOT NULL,
    compress     INTEGER NOT NULL DEFAULT 0,
    layout       TEXT    NOT NULL DEFAULT 'keep',   -- keep | flat
    prefix       TEXT    NOT NULL DEFAULT '',       -- directory on the medium the files go under
    data_class   TEXT,
    state        TEXT    NOT NULL CHECK (state IN ('open', 'queued', 'done', 'rolled_back')),
    updated_at   TEXT    NOT NULL
);
-- At most one open (accumulating) archive request per data class.
CREATE UNIQUE INDEX requests_open_class ON requests (data_class) WHERE state = 'open';

CREATE TABLE request_files (
    request_id  INTEGER NOT NULL REFERENCES requests (id),
    file_id     INTEGER NOT NULL REFERENCES files (id),
    medium_path TEXT    NOT NULL,
    PRIMARY KEY (request_id, file_id)
);
CREATE INDEX request_files_file ON request_files (file_id);

CREATE TABLE units (
    id            INTEGER PRIMARY KEY,
    request_id    INTEGER NOT NULL REFERENCES requests (id),
    name          TEXT    NOT NULL UNIQUE,
    seq           INTEGER NOT NULL,          -- 1-based within the request
    state         TEXT    NOT NULL CHECK (state IN ('queued', 'prepared', 'verified', 'ingested', 'cleaned', 'rolled_back')),
    bytes         INTEGER NOT NULL,          -- payload bytes of its files
    image_bytes   INTEGER,                   -- exact image size, known once prepared
    prepared      TEXT,                      -- JSON: the prepared unit (agent wire type)
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
CREATE INDEX units_request ON units (request_id);

CREATE TABLE unit_files (
    unit_id     INTEGER NOT NULL REFERENCES units (id),
    file_id     INTEGER NOT NULL REFERENCES files (id),
    medium_path TEXT    NOT NULL,
    data_offset INTEGER,                     -- byte offset of the file's data in the image
    PRIMARY KEY (unit_id, file_id)
);
CREATE INDEX unit_files_file ON unit_files (file_id);

CREATE TABLE volumes (
    id          INTEGER PRIMARY KEY,
    barcode     TEXT    NOT NULL UNIQUE,
    media_type  TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('writing', 'full', 'scratch', 'bad', 'discarded')),
    location    TEXT    NOT NULL,            -- drive:<name>, shelf, jukebox:<name>:<slot>, export
    bytes_used  INTEGER NOT NULL DEFAULT 0,
    capacity    INTEGER NOT NULL,
    note        TEXT,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE devices (
    name        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('tape', 'optical')),
    backend     TEXT NOT NULL,
    serial      TEXT,
    state       TEXT NOT NULL DEFAULT 'up' CHECK (state IN ('up', 'down')),
    reserved_by INTEGER,                     -- copies.id holding the device
    note        TEXT
);

CREATE TABLE device_groups (
    name TEXT PRIMARY KEY
);

CREATE TABLE device_group_members (
    group_name  TEXT NOT NULL REFERENCES device_groups (name),
    device_name TEXT NOT NULL REFERENCES devices (name),
    PRIMARY KEY (group_name, device_name)
);

CREATE TABLE copies (
    id           INTEGER PRIMARY KEY,
    unit_id      INTEGER NOT NULL REFERENCES units (id),
    copy_no      INTEGER NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'writing', 'written', 'verified', 'rolled_back')),
    device       TEXT    REFERENCES devices (name),
    volume_id    INTEGER REFERENCES volumes (id),
    tape_file    INTEGER,                    -- tape: file number of the unit on the volume
    start_block  INTEGER,                    -- tape: logical block where the unit starts
    image_sha256 TEXT,                       -- checksum of the written stream
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    written_at   TEXT,
    verified_at  TEXT,
    UNIQUE (unit_id, copy_no)
);
CREATE INDEX copies_volume ON copies (volume_id);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    at         TEXT    NOT NULL,
    action     TEXT    NOT NULL,             -- ingest, queue, prepare, write, verify, jukebox_ingest, cleanup, rollback, recover
    phase      TEXT    NOT NULL CHECK (phase IN ('start', 'done', 'failed', 'info')),
    request_id INTEGER,
    unit_id    INTEGER,
    copy_id    INTEGER,
    device     TEXT,
    volume     TEXT,
    detail     TEXT
);
CREATE INDEX events_request ON events (request_id);
