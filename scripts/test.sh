#!/usr/bin/env bash
# Runs every test: each crate's tests on the embedded default (SQLite + local directory), with
# the store suites' PostgreSQL and S3 cases when ASSETLIB_TEST_POSTGRES_URL and
# ASSETLIB_TEST_S3_* are set (.ci/run sets them; without them those cases say they were
# skipped, and fail under CI=true), then the API tests again on PostgreSQL + S3.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
if [ -n "${ASSETLIB_TEST_POSTGRES_URL:-}" ] && [ -n "${ASSETLIB_TEST_S3_ENDPOINT:-}" ]; then
    echo "== API tests on PostgreSQL + S3"
    ASSETLIB_TEST_BACKEND=postgres-s3 cargo test --locked -p assetlib --tests
elif [ -n "${CI:-}" ]; then
    echo "CI: the PostgreSQL + S3 run needs ASSETLIB_TEST_POSTGRES_URL and ASSETLIB_TEST_S3_*" >&2
    exit 1
else
    echo "== API tests on PostgreSQL + S3: skipped (no services configured; .ci/run starts them)"
fi
