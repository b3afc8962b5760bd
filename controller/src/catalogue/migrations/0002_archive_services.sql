-- Archive services (issue 7): versioned names, FITS keywords and full-text browse, data rights,
-- trigger-file ingest queue, distribution requests, consistency check reports.

-- Versions of archive files. `logical_path` is the stage path as it arrived (class/prefix/name);
-- version 1 keeps that name, version N > 1 is stored as `stem.vN.ext` (see archive/versions.rs).
CREATE TABLE file_versions (
    file_id      INTEGER PRIMARY KEY REFERENCES files (id),
    logical_path TEXT    NOT NULL,
    version      INTEGER NOT NULL CHECK (version >= 1),
    UNIQUE (logical_path, version)
);

-- Metadata extracted from file headers (FITS primary HDU), one row per file.
CREATE TABLE file_meta (
    file_id    INTEGER PRIMARY KEY REFERENCES files (id),
    date_obs   TEXT,                      -- ISO 8601 as found in DATE-OBS
    instrument TEXT,
    telescope  TEXT,
    object     TEXT,
    ra         REAL,
    dec        REAL,
    exptime    REAL,
    programme  TEXT,
    obs_id     TEXT,
    keywords   TEXT NOT NULL DEFAULT '{}' -- JSON object of every header keyword with a value
);
-- Keyword values match case-insensitively, so their indexes are NOCASE.
CREATE INDEX file_meta_date ON file_meta (date_obs);
CREATE INDEX file_meta_instrument ON file_meta (instrument COLLATE NOCASE);
CREATE INDEX file_meta_telescope ON file_meta (telescope COLLATE NOCASE);
CREATE INDEX file_meta_object ON file_meta (object COLLATE NOCASE);
CREATE INDEX file_meta_programme ON file_meta (programme COLLATE NOCASE);
CREATE INDEX file_meta_obs_id ON file_meta (obs_id COLLATE NOCASE);

-- Full-text index over the file name and its header text; rowid = files.id.
CREATE VIRTUAL TABLE file_text USING fts5 (path, header, tokenize = 'unicode61');

-- Data rights: who owns a file and until when it is proprietary (NULL: public).
CREATE TABLE file_rights (
    file_id           INTEGER PRIMARY KEY REFERENCES files (id),
    owner             TEXT,
    programme         TEXT,
    proprietary_until TEXT                 -- RFC 3339 UTC; NULL or past: public
);
CREATE INDEX file_rights_owner ON file_rights (owner);
CREATE TABLE programme_members (
    programme TEXT NOT NULL,
    user      TEXT NOT NULL,
    PRIMARY KEY (programme, user)
);

-- The persisted ingest request queue fed by the passive ingest daemon (trigger files).
CREATE TABLE ingest_queue (
    id          INTEGER PRIMARY KEY,
    inbox       TEXT    NOT NULL,
    name        TEXT    NOT NULL,           -- data file name inside the inbox
    options     TEXT    NOT NULL,           -- JSON: class, prefix, owner, programme, proprietary_until
    state       TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    queued_at   TEXT    NOT NULL,
    finished_at TEXT,
    file_id     INTEGER REFERENCES files (id),
    error       TEXT
);
CREATE INDEX ingest_queue_state ON ingest_queue (state);

-- Distribution requests: tar.gz bundles or user media of archive files.
CREATE TABLE distributions (
    id            INTEGER PRIMARY KEY,
    requester     TEXT    NOT NULL,
    principal     TEXT    NOT NULL,         -- JSON: who asked (rights are checked again when it runs)
    method        TEXT    NOT NULL CHECK (method IN ('bundle', 'media')),
    media_type    TEXT,
    copies        INTEGER,
    state         TEXT    NOT NULL CHECK (state IN ('queued', 'copying', 'verifying', 'done', 'failed')),
    created_at    TEXT    NOT NULL,
    started_at    TEXT,
    finished_at   TEXT,
    bundle        TEXT,                     -- path of the tar.gz
    bytes         INTEGER,
    sha256        TEXT,
    user_request  INTEGER REFERENCES requests (id),
    error         TEXT
);
CREATE INDEX distributions_state ON distributions (state);
CREATE TABLE distribution_files (
    distribution_id INTEGER NOT NULL REFERENCES distributions (id),
    file_id         INTEGER NOT NULL REFERENCES files (id),
    PRIMARY KEY (distribution_id, file_id)
);

-- Reports of the consistency check tool.
CREATE TABLE check_reports (
    id       INTEGER PRIMARY KEY,
    at       TEXT    NOT NULL,
    problems INTEGER NOT NULL,
    report   TEXT    NOT NULL              -- JSON
);
