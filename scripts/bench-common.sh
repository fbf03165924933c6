# shellcheck shell=bash
# Shared by the bench-*.sh scripts (sourced, from the repository root).

# The PostgreSQL role the programs make their databases with (it needs CREATEDB), and where
# cargo puts the release binaries.
export BENCH_POSTGRES_URL=${BENCH_POSTGRES_URL:-postgres://assetlib:assetlib@127.0.0.1:5432/postgres}
# shellcheck disable=SC2034 # used by the scripts that source this file
target=${CARGO_TARGET_DIR:-target}

# The label of a run: `commit abc1234`, with " with uncommitted changes" when the work tree
# differs from it (BENCHMARKS.md aside, which the runs themselves rewrite); empty outside git.
bench_label() {
    local rev label=""
    if rev=$(git rev-parse --short HEAD 2>/dev/null); then
        label="commit $rev"
        if [ -n "$(git --no-optional-locks status --porcelain --untracked-files=no -- . ':!BENCHMARKS.md' 2>/dev/null)" ]; then
            label="$label with uncommitted changes"
        fi
    fi
    echo "$label"
}

# Starts the Debian PostgreSQL cluster if nothing answers on 127.0.0.1:5432, and waits for it
# (it is left running: the tests share it). $1 names the calling script in the log line.
start_postgres() {
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        echo "$1: starting PostgreSQL (pg_ctlcluster 15 main start)" >&2
        pg_ctlcluster 15 main start
        for _ in $(seq 1 60); do
            pg_isready -q -h 127.0.0.1 -p 5432 && break
            sleep 0.5
        done
        pg_isready -h 127.0.0.1 -p 5432 >&2
    fi
}
