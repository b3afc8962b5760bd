-- asto OB schema, version 1, HQ part: the historical repository, the operational and repository
-- views, SM archiving (with its replicated invocation) and recovery.

-- Archived OBs. Visitor-mode OBs replicated from the sites stay in ob (logical replication
-- applies rows to the table of the same name) and are part of the repository view below.
CREATE TABLE ob_history (
    LIKE ob INCLUDING DEFAULTS,
    archived_at timestamptz NOT NULL DEFAULT now(),
    archive_call_id bigint,
    PRIMARY KEY (ob_id)
);
CREATE INDEX ob_history_run_idx ON ob_history (run_id);

-- Service-mode OBs that HQ operates (rule 1 compares this with each site's sm_ob).
CREATE VIEW ob_operational AS SELECT * FROM ob WHERE mode = 'SM';

-- The historical repository: archived OBs plus every visitor-mode OB received from the sites
-- (rule 2 requires each site's vm_ob to be contained in it).
CREATE VIEW ob_repository AS
    SELECT ob_id, run_id, item_type, name, mode, site, status, grade, user_priority, instrument,
           ip_version, exposure_time_s, execution_time_s, parent_container_id, target, constraints,
           time_constraints, obs_description, created_at, last_changed, last_executed, version
      FROM ob_history
    UNION ALL
    SELECT * FROM ob WHERE mode = 'VM';

-- rpc_call rows are written at HQ only; the sites receive them by replication.
CREATE FUNCTION rpc_call_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_catalog
AS $$
BEGIN
    IF NEW.target <> 'ALL' AND NOT EXISTS (SELECT 1 FROM ob_heartbeat WHERE node = NEW.target)
       AND NEW.target <> ob_node_name() THEN
        RAISE EXCEPTION 'rpc_call target % is neither ALL nor a known node', NEW.target
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.proc NOT IN ('archive_sm') THEN
        RAISE EXCEPTION 'rpc_call procedure % is not one the sites run (archive_sm)', NEW.proc
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.proc = 'archive_sm' THEN
        BEGIN
            PERFORM (NEW.args->>'cutoff')::timestamptz;
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION 'rpc_call archive_sm needs args.cutoff as a time, got %', coalesce(NEW.args->>'cutoff', 'nothing')
                USING ERRCODE = 'check_violation';
        END;
        IF NEW.args->>'cutoff' IS NULL THEN
            RAISE EXCEPTION 'rpc_call archive_sm needs args.cutoff as a time, got nothing'
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER rpc_call_guard BEFORE INSERT ON rpc_call FOR EACH ROW EXECUTE FUNCTION rpc_call_guard();

-- SM archiving: move the SM OBs of runs that ended before as_of - age, untouched since then,
-- into ob_history, and replicate the invocation to every site through rpc_call.
-- With dry_run, only report what would move.
CREATE FUNCTION ob_archive_sm(as_of timestamptz, age interval, dry_run boolean)
RETURNS TABLE (ob_id bigint, run_id bigint, status char(1), last_changed timestamptz)
LANGUAGE plpgsql SET search_path = public, pg_catalog
AS $$
#variable_conflict use_column
DECLARE
    cutoff timestamptz := as_of - age;
    call bigint;
    moved bigint;
BEGIN
    IF (SELECT role FROM ob_node) IS DISTINCT FROM 'HQ' THEN
        RAISE EXCEPTION 'SM archiving runs at HQ only; this node is %', ob_node_name();
    END IF;
    IF age < interval '0' THEN
        RAISE EXCEPTION 'archive age must not be negative, got %', age USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF dry_run THEN
        RETURN QUERY
            SELECT o.ob_id, o.run_id, o.status, o.last_changed
              FROM ob o WHERE o.ob_id IN (SELECT ob_sm_archivable(cutoff)) ORDER BY o.ob_id;
        RETURN;
    END IF;
    LOCK TABLE ob_history IN EXCLUSIVE MODE;
    call := nextval(pg_get_serial_sequence('rpc_call', 'call_id'));
    RETURN QUERY
        WITH gone AS (
            DELETE FROM ob o WHERE o.ob_id IN (SELECT ob_sm_archivable(cutoff)) RETURNING o.*
        ), kept AS (
            INSERT INTO ob_history SELECT g.*, now(), call FROM gone g
            RETURNING ob_history.ob_id, ob_history.run_id, ob_history.status, ob_history.last_changed
        )
        SELECT * FROM kept ORDER BY 1;
    GET DIAGNOSTICS moved = ROW_COUNT;
    INSERT INTO rpc_call (call_id, origin, target, proc, args)
        VALUES (call, 'HQ', 'ALL', 'archive_sm', jsonb_build_object('cutoff', cutoff, 'as_of', as_of));
    INSERT INTO rpc_log (call_id, node, proc, args, rows_affected, outcome)
        VALUES (call, 'HQ', 'archive_sm', jsonb_build_object('cutoff', cutoff, 'as_of', as_of), moved, 'ok');
END $$;

-- Recovery: move archived OBs back into HQ's operational table, from where SM OBs replicate to
-- the sites. All or nothing: every id must be in ob_history and none may be operational.
CREATE FUNCTION ob_recover(ids bigint[], dry_run boolean)
RETURNS TABLE (ob_id bigint, run_id bigint, status char(1), last_changed timestamptz)
LANGUAGE plpgsql SET search_path = public, pg_catalog
AS $$
#variable_conflict use_column
DECLARE
    missing text;
    present text;
BEGIN
    IF (SELECT role FROM ob_node) IS DISTINCT FROM 'HQ' THEN
        RAISE EXCEPTION 'recovery runs at HQ only; this node is %', ob_node_name();
    END IF;
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RAISE EXCEPTION 'no OB ids given to recover' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(i::text, ', ' ORDER BY i) INTO missing
      FROM unnest(ids) AS i WHERE NOT EXISTS (SELECT 1 FROM ob_history h WHERE h.ob_id = i);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'not in the historical repository: OB %', missing USING ERRCODE = 'no_data_found';
    END IF;
    SELECT string_agg(i::text, ', ' ORDER BY i) INTO present
      FROM unnest(ids) AS i WHERE EXISTS (SELECT 1 FROM ob o WHERE o.ob_id = i);
    IF present IS NOT NULL THEN
        RAISE EXCEPTION 'already operational: OB %', present USING ERRCODE = 'unique_violation';
    END IF;
    IF dry_run THEN
        RETURN QUERY SELECT h.ob_id, h.run_id, h.status, h.last_changed
                       FROM ob_history h WHERE h.ob_id = ANY (ids) ORDER BY h.ob_id;
        RETURN;
    END IF;
    RETURN QUERY
        WITH back AS (
            DELETE FROM ob_history h WHERE h.ob_id = ANY (ids) RETURNING h.*
        ), ins AS (
            INSERT INTO ob (ob_id, run_id, item_type, name, mode, site, status, grade, user_priority,
                            instrument, ip_version, exposure_time_s, execution_time_s,
                            parent_container_id, target, constraints, time_constraints,
                            obs_description, created_at, last_changed, last_executed, version)
            SELECT b.ob_id, b.run_id, b.item_type, b.name, b.mode, b.site, b.status, b.grade,
                   b.user_priority, b.instrument, b.ip_version, b.exposure_time_s,
                   b.execution_time_s, b.parent_container_id, b.target, b.constraints,
                   b.time_constraints, b.obs_description, b.created_at, b.last_changed,
                   b.last_executed, b.version + 1
              FROM back b
            RETURNING ob.ob_id, ob.run_id, ob.status, ob.last_changed
        )
        SELECT * FROM ins ORDER BY 1;
    INSERT INTO rpc_log (call_id, node, proc, args, rows_affected, outcome)
        VALUES (NULL, 'HQ', 'recover', jsonb_build_object('ob_ids', to_jsonb(ids)), cardinality(ids), 'ok');
END $$;
