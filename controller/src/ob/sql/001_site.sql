-- asto OB schema, version 1, observing-site part: SM and VM views, the replicated SM archiving
-- (run by a REPLICA trigger on rpc_call) and the local VM archiving.

-- Service-mode OBs replicated from HQ (rule 1: must equal HQ's operational OBs).
CREATE VIEW sm_ob AS SELECT * FROM ob WHERE mode = 'SM';
-- This site's visitor-mode OBs (rule 2: must all exist in HQ's repository).
CREATE VIEW vm_ob AS SELECT * FROM ob WHERE mode = 'VM';

-- rpc_call rows arrive from HQ only: a local insert would collide with HQ's call ids.
CREATE FUNCTION rpc_call_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_catalog
AS $$
BEGIN
    RAISE EXCEPTION 'rpc_call is written at HQ only; this node is %', ob_node_name()
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER rpc_call_guard BEFORE INSERT ON rpc_call FOR EACH ROW EXECUTE FUNCTION rpc_call_guard();

-- The site's counterpart of ob_archive_sm: drop local SM copies that HQ archived.
CREATE FUNCTION ob_site_archive_sm(cutoff timestamptz) RETURNS bigint
LANGUAGE plpgsql SET search_path = public, pg_catalog
AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM ob o WHERE o.ob_id IN (SELECT ob_sm_archivable(cutoff));
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Runs inside the apply worker for each replicated rpc_call row (ENABLE REPLICA below).
-- Never raises (an error would stop replication from HQ): failures and unknown procedures are
-- logged in rpc_log, which asto ob status reports.
CREATE FUNCTION rpc_exec() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_catalog
AS $$
DECLARE
    me text := ob_node_name();
    n bigint;
BEGIN
    IF NEW.target <> 'ALL' AND NEW.target <> me THEN
        RETURN NEW;
    END IF;
    IF NEW.proc = 'archive_sm' THEN
        BEGIN
            n := ob_site_archive_sm((NEW.args->>'cutoff')::timestamptz);
            INSERT INTO rpc_log (call_id, node, proc, args, rows_affected, outcome)
                VALUES (NEW.call_id, me, NEW.proc, NEW.args, n, 'ok');
        EXCEPTION WHEN OTHERS THEN
            -- Logged, not raised: an error here would stop all replication from HQ.
            INSERT INTO rpc_log (call_id, node, proc, args, rows_affected, outcome)
                VALUES (NEW.call_id, me, NEW.proc, NEW.args, NULL, 'failed: ' || SQLERRM);
        END;
    ELSE
        INSERT INTO rpc_log (call_id, node, proc, args, rows_affected, outcome)
            VALUES (NEW.call_id, me, NEW.proc, NEW.args, NULL, 'ignored: unknown procedure');
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER rpc_exec AFTER INSERT ON rpc_call FOR EACH ROW EXECUTE FUNCTION rpc_exec();
ALTER TABLE rpc_call ENABLE REPLICA TRIGGER rpc_exec;

-- VM archiving, monthly at each site: delete this site's VM OBs untouched since as_of - age.
-- The site publication carries no deletes, so HQ keeps its copies. With dry_run, only report.
CREATE FUNCTION ob_archive_vm(as_of timestamptz, age interval, dry_run boolean)
RETURNS TABLE (ob_id bigint, run_id bigint, status char(1), last_changed timestamptz)
LANGUAGE plpgsql SET search_path = public, pg_catalog
AS $$
#variable_conflict use_column
DECLARE
    cutoff timestamptz := as_of - age;
    n bigint;
BEGIN
    IF (SELECT role FROM ob_node) IS DISTINCT FROM 'SITE' THEN
        RAISE EXCEPTION 'VM archiving runs at the observing sites only; this node is %', ob_node_name();
    END IF;
    IF age < interval '0' THEN
        RAISE EXCEPTION 'archive age must not be negative, got %', age USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF dry_run THEN
        RETURN QUERY SELECT o.ob_id, o.run_id, o.status, o.last_changed FROM ob o
                      WHERE o.mode = 'VM' AND o.last_changed < cutoff ORDER BY o.ob_id;
        RETURN;
    END IF;
    RETURN QUERY
        WITH gone AS (
            DELETE FROM ob o WHERE o.mode = 'VM' AND o.last_changed < cutoff
            RETURNING o.ob_id, o.run_id, o.status, o.last_changed
        )
        SELECT * FROM gone ORDER BY 1;
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO rpc_log (call_id, node, proc, args, rows_affected, outcome)
        VALUES (NULL, ob_node_name(), 'archive_vm',
                jsonb_build_object('cutoff', cutoff, 'as_of', as_of), n, 'ok');
END $$;
