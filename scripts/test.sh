#!/usr/bin/env bash
# Runs every test: each crate's tests on the embedded default (SQLite + local directory), with
# the store suites' PostgreSQL and S3 cases when ASSETLIB_TEST_POSTGRES_URL and
# ASSETLIB_TEST_S3_* are set (.ci/run sets them; without them those cases are reported as
# ignored, and under CI=true the run fails), then the API tests again on PostgreSQL + S3.
set -euo pipefail
cd "$(dirname "$0")/.."
# The store cases that need PostgreSQL or S3 are #[ignore]d with the reason, so that a run
# without the services reports them as ignored rather than passed; with the services, they run.
if [ -n "${ASSETLIB_TEST_POSTGRES_URL:-}" ] && [ -n "${ASSETLIB_TEST_S3_ENDPOINT:-}" ]; then
    cargo test --workspace --locked -- --include-ignored
else
    cargo test --workspace --locked
fi
if [ -n "${ASSETLIB_TEST_POSTGRES_URL:-}" ] && [ -n "${ASSETLIB_TEST_S3_ENDPOINT:-}" ]; then
    echo "== API tests on PostgreSQL + S3"
    ASSETLIB_TEST_BACKEND=postgres-s3 cargo test --locked -p assetlib --tests
elif [ -n "${CI:-}" ]; then
    echo "CI: the PostgreSQL + S3 run needs ASSETLIB_TEST_POSTGRES_URL and ASSETLIB_TEST_S3_*" >&2
    exit 1
else
    echo "== API tests on PostgreSQL + S3: skipped (no services configured; .ci/run starts them)"
fi
