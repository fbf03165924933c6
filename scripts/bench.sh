#!/usr/bin/env bash
# Benchmarks assetlib against nginx on this machine and rewrites the run's section of
# BENCHMARKS.md: installs nginx if missing, builds the release binaries, runs assetlib-bench.
# Extra arguments go to assetlib-bench (e.g. --files 500 --get-secs 5; see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    echo "bench.sh: installing nginx (Debian package)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y nginx; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y nginx
    fi
    # The package may start a system nginx on port 80; the benchmark runs its own.
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release -p assetlib -p assetlib-bench

LABEL=$(bench_label)

exec target/release/assetlib-bench \
    --assetlib target/release/assetlib \
    --nginx "$NGINX" \
    --markdown BENCHMARKS.md \
    --command "bash scripts/bench.sh${*:+ $*}" \
    ${LABEL:+--label "$LABEL"} \
    "$@"
