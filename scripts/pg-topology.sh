#!/usr/bin/env bash
# A local OB topology for tests and demos: HQ and two observing sites (PARANAL, LASILLA) as three
# PostgreSQL 15 clusters on loopback ports, run as the postgres user, all under one directory.
#
#   scripts/pg-topology.sh start  DIR [--base-port N] [--node hq|paranal|lasilla] [--no-fsync]
#   scripts/pg-topology.sh stop   DIR [--node hq|paranal|lasilla]
#   scripts/pg-topology.sh status DIR
#
# start creates the clusters on first use (ports N, N+1, N+2; default N = 55411) and writes
# DIR/asto.toml with the matching [ob] table for `asto ob <command> --config DIR/asto.toml`; later
# starts reuse them. --node starts or stops one cluster only (to take a site offline and back).
# --no-fsync trades crash safety for speed (test clusters only). stop without --node also stops
# every cluster; the directory is left for the caller to remove.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
NODES=(hq paranal lasilla)

usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

die() {
    echo "pg-topology: $*" >&2
    exit 1
}

# Run a command as the postgres user when we are root (initdb refuses to run as root).
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

[ $# -ge 2 ] || usage
action=$1
dir=$2
shift 2
base_port=55411
only_node=""
fsync=on
while [ $# -gt 0 ]; do
    case "$1" in
        --base-port)
            [ $# -ge 2 ] || die "--base-port needs a value"
            base_port=$2
            shift 2
            ;;
        --node)
            [ $# -ge 2 ] || die "--node needs a value"
            only_node=$2
            shift 2
            ;;
        --no-fsync)
            fsync=off
            shift
            ;;
        *) die "unknown argument '$1'" ;;
    esac
done
[[ "$base_port" =~ ^[0-9]+$ ]] && [ "$base_port" -ge 1024 ] && [ "$base_port" -le 65533 ] \
    || die "--base-port must be a number between 1024 and 65533, got '$base_port'"
if [ -n "$only_node" ]; then
    case " ${NODES[*]} " in
        *" $only_node "*) ;;
        *) die "unknown node '$only_node' (one of: ${NODES[*]})" ;;
    esac
    selected=("$only_node")
else
    selected=("${NODES[@]}")
fi
[ -x "$PG_BIN/initdb" ] || die "PostgreSQL binaries not found in $PG_BIN (install postgresql-15 or set PG_BIN)"

port_of() {
    local i
    for i in "${!NODES[@]}"; do
        if [ "${NODES[$i]}" = "$1" ]; then
            echo $((base_port + i))
            return
        fi
    done
}

# The port an existing cluster was created with (so later commands need no --base-port).
configured_port() {
    sed -n "s/^port = \([0-9]*\).*/\1/p" "$dir/$1/postgresql.conf" | tail -n 1
}

create_node() {
    local node=$1 port=$2
    as_pg "$PG_BIN/initdb" -D "$dir/$node" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 \
        >"$dir/$node.initdb.log" 2>&1 || die "initdb for $node failed: see $dir/$node.initdb.log"
    as_pg tee -a "$dir/$node/postgresql.conf" >/dev/null <<EOF
# pg-topology.sh
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
max_logical_replication_workers = 6
track_commit_timestamp = on
wal_retrieve_retry_interval = 1s
cluster_name = '$node'
fsync = $fsync
synchronous_commit = on
shared_buffers = 64MB
log_min_messages = warning
EOF
}

start_node() {
    local node=$1
    if as_pg "$PG_BIN/pg_ctl" -D "$dir/$node" status >/dev/null 2>&1; then
        return
    fi
    as_pg "$PG_BIN/pg_ctl" -D "$dir/$node" -l "$dir/$node.log" -w -t 60 start >/dev/null \
        || die "starting $node failed: see $dir/$node.log"
}

write_config() {
    local db=asto_ob
    local f="$dir/asto.toml"
    {
        echo "# Written by scripts/pg-topology.sh for the clusters under $dir."
        echo "[ob]"
        echo "[ob.hq]"
        echo "name = \"HQ\""
        echo "conninfo = \"host=127.0.0.1 port=$(configured_port hq) user=postgres dbname=$db\""
        for site in paranal lasilla; do
            echo ""
            echo "[[ob.sites]]"
            echo "name = \"${site^^}\""
            echo "conninfo = \"host=127.0.0.1 port=$(configured_port "$site") user=postgres dbname=$db\""
        done
    } >"$f.tmp"
    mv "$f.tmp" "$f"
}

case "$action" in
    start)
        mkdir -p "$dir"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
        pids=()
        for node in "${selected[@]}"; do
            if [ ! -f "$dir/$node/PG_VERSION" ]; then
                create_node "$node" "$(port_of "$node")" &
                pids+=($!)
            fi
        done
        for pid in "${pids[@]}"; do wait "$pid" || exit 1; done
        for node in "${selected[@]}"; do start_node "$node"; done
        [ -f "$dir/hq/PG_VERSION" ] && [ -f "$dir/paranal/PG_VERSION" ] && [ -f "$dir/lasilla/PG_VERSION" ] \
            && write_config
        for node in "${selected[@]}"; do
            echo "$node started on 127.0.0.1:$(configured_port "$node")"
        done
        ;;
    stop)
        [ -d "$dir" ] || die "no topology in '$dir'"
        for node in "${selected[@]}"; do
            [ -f "$dir/$node/PG_VERSION" ] || continue
            if as_pg "$PG_BIN/pg_ctl" -D "$dir/$node" status >/dev/null 2>&1; then
                as_pg "$PG_BIN/pg_ctl" -D "$dir/$node" -m fast -w -t 60 stop >/dev/null \
                    || die "stopping $node failed: see $dir/$node.log"
                echo "$node stopped"
            fi
        done
        ;;
    status)
        [ -d "$dir" ] || die "no topology in '$dir'"
        rc=0
        for node in "${NODES[@]}"; do
            if [ ! -f "$dir/$node/PG_VERSION" ]; then
                echo "$node absent"
                rc=3
            elif as_pg "$PG_BIN/pg_ctl" -D "$dir/$node" status >/dev/null 2>&1; then
                echo "$node running on 127.0.0.1:$(configured_port "$node")"
            else
                echo "$node stopped (port $(configured_port "$node"))"
                rc=3
            fi
        done
        exit $rc
        ;;
    *) usage ;;
esac
