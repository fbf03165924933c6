#!/usr/bin/env bash
# The soak: 200 clients mixing uploads, zips, listings, public GETs, copies and deletes for 60 s
# against the embedded default, the server killed with SIGKILL at 20 s and 40 s and restarted at
# once, then every acknowledged write read back byte for byte; rewrites the soak section of
# BENCHMARKS.md. Builds the release binaries first. Exits 2 when a target is missed (a 5xx
# outside the kill windows, a lost or corrupt file, ...).
# Extra arguments go to the program (e.g. --clients 50 --secs 30 --kill-at 10,20 --keep; see
# `target/release/assetlib-bench soak --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

cargo build --release -p assetlib -p assetlib-bench

LABEL=$(bench_label)

exec target/release/assetlib-bench soak \
    --assetlib target/release/assetlib \
    --markdown BENCHMARKS.md \
    --command "bash scripts/bench-soak.sh${*:+ $*}" \
    ${LABEL:+--label "$LABEL"} \
    "$@"
