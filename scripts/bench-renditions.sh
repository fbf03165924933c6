#!/usr/bin/env bash
# The renditions benchmark: 200 photo-like JPEGs of 4000x3000 and 50 PNGs of 2000x1500 with
# alpha (generated from a seed once, then kept in BENCH_RENDITIONS_DIR) are uploaded to a fresh
# `assetlib serve` on the embedded default (SQLite + local files) with its render workers off;
# the server is then started again with its defaults and timed until every file has both its
# `thumbnail` and `web` versions, its peak RSS measured meanwhile, and `vipsthumbnail` makes the
# same two sizes of the same files in the same run (see crates/bench/src/renditions.rs);
# rewrites the renditions section of BENCHMARKS.md. Builds the release binaries first; installs
# nothing.
#
# Extra arguments go to the program (e.g. --rounds 1 --skip-serial; see
# `target/release/assetlib-bench renditions --help`).
#
# Environment: BENCH_RENDITIONS_DIR (default target/bench-renditions under the cargo target
# dir: about 1.2 GB of pictures); BENCH_WORK_DIR (the servers' data and vips' output, about
# 1.3 GB; default the system's temp dir); CARGO_TARGET_DIR as cargo reads it (default target/).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

images=${BENCH_RENDITIONS_DIR:-$target/bench-renditions}

log() { echo "bench-renditions.sh: $*" >&2; }

if ! command -v vipsthumbnail >/dev/null; then
    log "vipsthumbnail is not installed; on Debian: apt-get install -y libvips-tools"
    exit 1
fi

cargo build --release -p assetlib -p assetlib-bench

LABEL=$(bench_label)

"$target/release/assetlib-bench" renditions \
    --assetlib "$target/release/assetlib" \
    --cache-dir "$images" \
    ${BENCH_WORK_DIR:+--work-dir "$BENCH_WORK_DIR"} \
    --markdown BENCHMARKS.md \
    --command "bash scripts/bench-renditions.sh${*:+ $*}" \
    ${LABEL:+--label "$LABEL"} \
    "$@"
