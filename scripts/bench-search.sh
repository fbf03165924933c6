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
# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

cargo build --release -p assetlib -p assetlib-bench

start_postgres bench-search.sh

LABEL=$(bench_label)

"$target/release/assetlib-bench" search \
    --assetlib "$target/release/assetlib" \
    --markdown BENCHMARKS.md \
    --command "bash scripts/bench-search.sh${*:+ $*}" \
    ${LABEL:+--label "$LABEL"} \
    "$@"
