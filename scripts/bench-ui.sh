#!/usr/bin/env bash
# The web UI benchmark: a fresh `assetlib serve` on the embedded default (SQLite + local files)
# gets a folder of 10,000 assets (most of them small PNGs, whose thumbnails its render workers
# make before the timing), then headless Chromium, driven through chromedriver, opens that
# folder again and again: a fresh load of its address and a navigation inside the app, each
# with the browser's HTTP cache as earlier runs left it and cleared. Times in the page, from
# the navigation's start to the first tiles and to the first row of thumbnails loaded and
# decoded, p50/p95/max (see crates/bench/src/ui.rs); rewrites the ui section of BENCHMARKS.md.
# Builds the release binaries first.
#
# Needs chromium and chromedriver on the PATH (Debian: apt-get install chromium chromium-driver).
# Extra arguments go to the program (e.g. --runs 10, --assets 2000, --strict; see
# `target/release/assetlib-bench ui --help`). Environment: CARGO_TARGET_DIR as cargo reads it
# (default target/).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

for tool in chromium chromedriver; do
    command -v "$tool" >/dev/null || { echo "bench-ui.sh: $tool is not on the PATH (apt-get install chromium chromium-driver)" >&2; exit 1; }
done

cargo build --release -p assetlib -p assetlib-bench

LABEL=$(bench_label)

"$target/release/assetlib-bench" ui \
    --assetlib "$target/release/assetlib" \
    --markdown BENCHMARKS.md \
    --command "bash scripts/bench-ui.sh${*:+ $*}" \
    ${LABEL:+--label "$LABEL"} \
    "$@"
