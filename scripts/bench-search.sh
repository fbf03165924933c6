#!/usr/bin/env bash
# The search benchmark: one account of 1,000,000 assets with tags, metadata, collections and the
# rest, loaded in bulk into SQLite and then into PostgreSQL; the native search route timed on
# each (see crates/bench/src/search.rs); rewrites the search section of BENCHMARKS.md. Starts the
# Debian PostgreSQL cluster if it is down (and leaves it running: the tests share it); builds the
# release binaries; `assetlib-bench search` makes a fresh database for the run and drops it at
# the end.
#
# Extra arguments go to the program (e.g. --engines sqlite --requests 100; see
# `target/release/assetlib-bench search --help`).
#
# Environment: BENCH_POSTGRES_URL (default postgres://assetlib:assetlib@127.0.0.1:5432/postgres,
# a role with CREATEDB); CARGO_TARGET_DIR as cargo reads it (default target/).
set -euo pipefail
cd "$(dirname "$0")/.."

export BENCH_POSTGRES_URL=${BENCH_POSTGRES_URL:-postgres://assetlib:assetlib@127.0.0.1:5432/postgres}
target=${CARGO_TARGET_DIR:-target}

log() { echo "bench-search.sh: $*" >&2; }

cargo build --release -p assetlib -p assetlib-bench

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "starting PostgreSQL (pg_ctlcluster 15 main start)"
    pg_ctlcluster 15 main start
    for _ in $(seq 1 60); do
        pg_isready -q -h 127.0.0.1 -p 5432 && break
        sleep 0.5
    done
    pg_isready -h 127.0.0.1 -p 5432 >&2
fi

LABEL=""
if rev=$(git rev-parse --short HEAD 2>/dev/null); then
    LABEL="commit $rev"
    if [ -n "$(git --no-optional-locks status --porcelain --untracked-files=no -- . ':!BENCHMARKS.md' 2>/dev/null)" ]; then
        LABEL="$LABEL with uncommitted changes"
    fi
fi

"$target/release/assetlib-bench" search \
    --assetlib "$target/release/assetlib" \
    --markdown BENCHMARKS.md \
    --command "bash scripts/bench-search.sh${*:+ $*}" \
    ${LABEL:+--label "$LABEL"} \
    "$@"
