-- asto OB schema, version 1: tables, views helpers and guards shared by HQ and the sites.
-- Applied on every node before the role-specific part (001_hq.sql or 001_site.sql).

-- Which node this database is; written by `asto ob init` from the configuration.
CREATE TABLE ob_node (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    name text NOT NULL CHECK (name ~ '^[A-Z][A-Z0-9_]{0,30}$'),
    role text NOT NULL CHECK (role IN ('HQ', 'SITE'))
);

-- Observing runs (p2 "run"). mode and site are copied onto every OB of the run.
-- site = 'HQ' for service-mode runs (owned by HQ), the observing site for visitor mode.
CREATE TABLE obs_run (
    run_id bigint PRIMARY KEY CHECK (run_id > 0),
    prog_id text NOT NULL,
    title text,
    period int,
    scheduled_period int,
    mode char(2) NOT NULL CONSTRAINT obs_run_mode_valid CHECK (mode IN ('SM', 'VM')),
    site text NOT NULL,
    instrument text,
    telescope text,
    is_too boolean NOT NULL DEFAULT false,
    pi_name text,
    valid_from timestamptz,
    valid_to timestamptz
);
CREATE UNIQUE INDEX obs_run_replica_key ON obs_run (run_id, mode, site);
ALTER TABLE obs_run REPLICA IDENTITY USING INDEX obs_run_replica_key;

-- Observation blocks with p2 field names (obId -> ob_id, obStatus -> status, ...).
CREATE TABLE ob (
    ob_id bigint PRIMARY KEY,
    run_id bigint NOT NULL REFERENCES obs_run (run_id),
    item_type text NOT NULL DEFAULT 'OB',
    name text,
    mode char(2) NOT NULL CONSTRAINT ob_mode_valid CHECK (mode IN ('SM', 'VM')),
    site text NOT NULL,
    status char(1) NOT NULL DEFAULT 'P',
    grade char(1),
    user_priority int,
    instrument text,
    ip_version numeric(6, 2),
    exposure_time_s int,
    execution_time_s int,
    parent_container_id bigint,
    target jsonb,
    constraints jsonb,
    time_constraints jsonb,
    obs_description jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_changed timestamptz NOT NULL DEFAULT now(),
    last_executed timestamptz,
    version bigint NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX ob_replica_key ON ob (ob_id, mode, site);
ALTER TABLE ob REPLICA IDENTITY USING INDEX ob_replica_key;
CREATE INDEX ob_run_idx ON ob (run_id);
CREATE INDEX ob_last_changed_idx ON ob (mode, last_changed);

-- Command table: a row is a replicated procedure invocation (insert-only; purge with TRUNCATE).
CREATE TABLE rpc_call (
    call_id bigserial PRIMARY KEY,
    origin text NOT NULL,
    target text NOT NULL,
    proc text NOT NULL,
    args jsonb NOT NULL DEFAULT '{}',
    called_at timestamptz NOT NULL DEFAULT now()
);

-- What each node did, locally (never replicated).
CREATE TABLE rpc_log (
    log_id bigserial PRIMARY KEY,
    call_id bigint,
    node text NOT NULL,
    proc text NOT NULL,
    args jsonb NOT NULL DEFAULT '{}',
    rows_affected bigint,
    outcome text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);

-- One row per node, bumped by its owner and replicated: proves everything before it arrived.
CREATE TABLE ob_heartbeat (
    node text PRIMARY KEY,
    beat bigint NOT NULL,
    at timestamptz NOT NULL
);

CREATE FUNCTION ob_node_name() RETURNS text
LANGUAGE sql STABLE SET search_path = public, pg_catalog
AS $$ SELECT name FROM ob_node $$;

-- Validation of locally written runs: clear messages naming the run and the problem.
-- The two guards never run in the apply worker (ordinary triggers fire only for local writes),
-- so they qualify names instead of SET search_path, which would cost ~16 µs on every row.
CREATE FUNCTION obs_run_guard() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    me text := (SELECT n.name FROM public.ob_node n);
    r public.obs_run;
    owner text;
BEGIN
    IF me IS NULL THEN
        RAISE EXCEPTION 'this database is not an initialised OB node (run asto ob init)';
    END IF;
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    IF TG_OP = 'UPDATE' AND (NEW.mode IS DISTINCT FROM OLD.mode OR NEW.site IS DISTINCT FROM OLD.site
                             OR NEW.run_id IS DISTINCT FROM OLD.run_id) THEN
        RAISE EXCEPTION 'run %: run_id, mode and site never change after creation (mode % -> %, site % -> %)',
            OLD.run_id, OLD.mode, NEW.mode, OLD.site, NEW.site USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF r.mode IS NULL OR r.mode NOT IN ('SM', 'VM') THEN
            RAISE EXCEPTION 'run %: mode must be SM or VM, got %', r.run_id, coalesce(r.mode, 'NULL')
                USING ERRCODE = 'check_violation';
        END IF;
        IF r.mode = 'SM' AND r.site IS DISTINCT FROM 'HQ' THEN
            RAISE EXCEPTION 'run %: a service-mode run belongs to HQ (site must be HQ, got %)',
                r.run_id, coalesce(r.site, 'NULL') USING ERRCODE = 'check_violation';
        END IF;
        IF r.mode = 'VM' AND (r.site IS NULL OR r.site = 'HQ') THEN
            RAISE EXCEPTION 'run %: a visitor-mode run belongs to an observing site, got site %',
                r.run_id, coalesce(r.site, 'NULL') USING ERRCODE = 'check_violation';
        END IF;
        IF r.valid_from IS NOT NULL AND r.valid_to IS NOT NULL AND r.valid_to < r.valid_from THEN
            RAISE EXCEPTION 'run %: valid_to % is before valid_from %', r.run_id, r.valid_to, r.valid_from
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    owner := CASE WHEN r.mode = 'SM' THEN 'HQ' ELSE r.site END;
    IF owner <> me THEN
        RAISE EXCEPTION 'run % is owned by % and cannot be changed at %; change it there',
            r.run_id, owner, me USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER obs_run_guard BEFORE INSERT OR UPDATE OR DELETE ON obs_run
    FOR EACH ROW EXECUTE FUNCTION obs_run_guard();

-- Validation, ownership and bookkeeping of locally written OBs. Fires only for local writes
-- (not inside the replication apply worker), so each OB is checked once, at its owner.
CREATE FUNCTION ob_guard() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    me text := (SELECT n.name FROM public.ob_node n);
    o public.ob;
    owner text;
    run public.obs_run;
BEGIN
    IF me IS NULL THEN
        RAISE EXCEPTION 'this database is not an initialised OB node (run asto ob init)';
    END IF;
    IF TG_OP = 'DELETE' THEN o := OLD; ELSE o := NEW; END IF;
    IF TG_OP = 'UPDATE' AND (NEW.mode IS DISTINCT FROM OLD.mode OR NEW.site IS DISTINCT FROM OLD.site) THEN
        RAISE EXCEPTION 'OB %: mode and site never change after creation (mode % -> %, site % -> %)',
            OLD.ob_id, OLD.mode, NEW.mode, OLD.site, NEW.site USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.ob_id <> OLD.ob_id THEN
        RAISE EXCEPTION 'OB %: ob_id never changes (asked for %)', OLD.ob_id, NEW.ob_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF o.ob_id IS NULL OR o.ob_id <= 0 THEN
            RAISE EXCEPTION 'OB id must be a positive number, got %', coalesce(o.ob_id::text, 'NULL')
                USING ERRCODE = 'check_violation';
        END IF;
        IF o.mode IS NULL OR o.mode NOT IN ('SM', 'VM') THEN
            RAISE EXCEPTION 'OB %: mode must be SM or VM, got %', o.ob_id, coalesce(o.mode, 'NULL')
                USING ERRCODE = 'check_violation';
        END IF;
        IF o.mode = 'SM' AND o.site IS DISTINCT FROM 'HQ' THEN
            RAISE EXCEPTION 'OB %: a service-mode OB belongs to HQ (site must be HQ, got %)',
                o.ob_id, coalesce(o.site, 'NULL') USING ERRCODE = 'check_violation';
        END IF;
        IF o.mode = 'VM' AND (o.site IS NULL OR o.site = 'HQ') THEN
            RAISE EXCEPTION 'OB %: a visitor-mode OB belongs to an observing site, got site %',
                o.ob_id, coalesce(o.site, 'NULL') USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    -- Ownership before content: a site may not write HQ's OBs, whatever they contain.
    owner := CASE WHEN o.mode = 'SM' THEN 'HQ' ELSE o.site END;
    IF owner <> me THEN
        RAISE EXCEPTION 'OB % is owned by % and cannot be changed at %; change it there',
            o.ob_id, owner, me USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF o.item_type NOT IN ('OB', 'CB') THEN
            RAISE EXCEPTION 'OB %: item_type must be OB or CB, got %', o.ob_id, o.item_type
                USING ERRCODE = 'check_violation';
        END IF;
        IF o.status IS NULL OR o.status NOT IN ('P', 'D', '+', '-', 'C', 'M', 'A', 'F', 'X', 'S') THEN
            RAISE EXCEPTION 'OB %: status % is not a p2 OB status (one of P D + - C M A F X S)',
                o.ob_id, coalesce(o.status, 'NULL') USING ERRCODE = 'check_violation';
        END IF;
        IF o.grade IS NOT NULL AND o.grade NOT IN ('A', 'B', 'C', 'D', 'X', '?') THEN
            RAISE EXCEPTION 'OB %: grade % is not a p2 grade (one of A B C D X ?)', o.ob_id, o.grade
                USING ERRCODE = 'check_violation';
        END IF;
        IF o.user_priority IS NOT NULL AND o.user_priority < 1 THEN
            RAISE EXCEPTION 'OB %: user_priority must be 1 or more, got %', o.ob_id, o.user_priority
                USING ERRCODE = 'check_violation';
        END IF;
        IF o.exposure_time_s < 0 OR o.execution_time_s < 0 THEN
            RAISE EXCEPTION 'OB %: exposure and execution times cannot be negative', o.ob_id
                USING ERRCODE = 'check_violation';
        END IF;
        IF o.mode = 'SM' AND o.execution_time_s > 3600 THEN
            RAISE EXCEPTION 'OB %: a service-mode OB may not exceed 1 h of execution time, got % s',
                o.ob_id, o.execution_time_s USING ERRCODE = 'check_violation';
        END IF;
        IF o.target IS NOT NULL THEN
            IF jsonb_typeof(o.target) <> 'object' THEN
                RAISE EXCEPTION 'OB %: target must be a JSON object', o.ob_id USING ERRCODE = 'check_violation';
            END IF;
            IF o.target ? 'ra' AND (o.target->>'ra') !~ '^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?$' THEN
                RAISE EXCEPTION 'OB %: target ra % is not hh:mm:ss.sss', o.ob_id, o.target->>'ra'
                    USING ERRCODE = 'check_violation';
            END IF;
            IF o.target ? 'dec' AND ((o.target->>'dec') !~ '^[+-]?[0-9]{2}:[0-5][0-9]:[0-5][0-9](\.[0-9]+)?$'
                                     OR abs(split_part(o.target->>'dec', ':', 1)::int) > 90) THEN
                RAISE EXCEPTION 'OB %: target dec % is not ±dd:mm:ss.sss within ±90°', o.ob_id, o.target->>'dec'
                    USING ERRCODE = 'check_violation';
            END IF;
        END IF;
        SELECT * INTO run FROM public.obs_run WHERE obs_run.run_id = o.run_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'OB %: run % does not exist', o.ob_id, coalesce(o.run_id::text, 'NULL')
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        IF run.mode <> o.mode OR run.site <> o.site THEN
            RAISE EXCEPTION 'OB %: mode/site %/% differ from its run % (%/%)',
                o.ob_id, o.mode, o.site, run.run_id, run.mode, run.site USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    IF TG_OP = 'INSERT' THEN
        NEW.created_at := coalesce(NEW.created_at, now());
        NEW.last_changed := now();
    ELSE
        NEW.created_at := OLD.created_at;
        NEW.last_changed := now();
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ob_guard BEFORE INSERT OR UPDATE OR DELETE ON ob
    FOR EACH ROW EXECUTE FUNCTION ob_guard();

-- SM OBs whose run ended, and which have not been touched, before the cutoff.
CREATE FUNCTION ob_sm_archivable(cutoff timestamptz) RETURNS SETOF bigint
LANGUAGE sql STABLE SET search_path = public, pg_catalog
AS $$
    SELECT o.ob_id
      FROM ob o LEFT JOIN obs_run r ON r.run_id = o.run_id
     WHERE o.mode = 'SM'
       AND coalesce(r.valid_to, '-infinity') < cutoff
       AND o.last_changed < cutoff
$$;

-- Bump this node's heartbeat; returns the new beat.
CREATE FUNCTION ob_beat() RETURNS bigint
LANGUAGE sql SET search_path = public, pg_catalog
AS $$
    INSERT INTO ob_heartbeat AS h (node, beat, at) VALUES (ob_node_name(), 1, clock_timestamp())
    ON CONFLICT (node) DO UPDATE SET beat = h.beat + 1, at = clock_timestamp()
    RETURNING beat
$$;
