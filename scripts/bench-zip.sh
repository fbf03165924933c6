#!/usr/bin/env bash
# The zip expansion benchmark: a fresh `assetlib serve` on the embedded default (SQLite + local
# files) expands zips of 10,000 small entries, one at a time; entries per second from the 202 to
# `completed`, p50 over the runs, every entry checked through the API afterwards (see
# crates/bench/src/zip_expand.rs); rewrites the zip section of BENCHMARKS.md. Builds the release
# binaries first.
#
# Extra arguments go to the program (e.g. --zips 3; see
# `target/release/assetlib-bench zip --help`). For PostgreSQL + S3 as well, start SeaweedFS
# (`eval "$(bash scripts/seaweedfs.sh start DIR)"`, which exports the AWS_* variables) and pass
# `--setups embedded,postgres-s3`; the PostgreSQL cluster is started here if it is down.
#
# Environment: BENCH_POSTGRES_URL (default postgres://assetlib:assetlib@127.0.0.1:5432/postgres,
# a role with CREATEDB; used by postgres-s3 only); CARGO_TARGET_DIR as cargo reads it (default
# target/).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

cargo build --release -p assetlib -p assetlib-bench

if [[ " $* " == *postgres-s3* ]]; then
    start_postgres bench-zip.sh
fi

LABEL=$(bench_label)

"$target/release/assetlib-bench" zip \
    --assetlib "$target/release/assetlib" \
    --markdown BENCHMARKS.md \
    --command "bash scripts/bench-zip.sh${*:+ $*}" \
    ${LABEL:+--label "$LABEL"} \
    "$@"
