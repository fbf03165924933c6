#!/usr/bin/env bash
# Coverage-guided fuzzing with cargo-afl (AFL++) on the stable toolchain: builds the targets of
# fuzz/ and runs each for SECONDS, two at a time, from its seeds (fuzz/corpus/<target>/ and any
# fuzz/regressions/<target>/). Exits non-zero if a target crashed or hung, naming the inputs.
# docs/fuzzing.md tells what each target covers and what the runs so far found.
#
#   bash scripts/fuzz.sh                 # CI: every target, 20 s each, about 90 s in all
#   bash scripts/fuzz.sh 600             # a longer run: 10 minutes per target
#   bash scripts/fuzz.sh 300 zip range   # some targets only
#   bash scripts/fuzz.sh lock            # fuzz/Cargo.lock again from the workspace's Cargo.lock
#
# Environment: FUZZ_SECONDS (instead of the first argument), FUZZ_JOBS (targets run at once;
# default 2, at most the cores), FUZZ_TIMEOUT_MS (an input slower than this is a hang; 1000),
# FUZZ_OUT (AFL++'s output folders; fuzz/target/afl). It installs the pinned cargo-afl and
# builds AFL++ if they are missing; that needs make and a C compiler (Debian: build-essential).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

CARGO_AFL_VERSION=0.18.2
ALL_TARGETS=(rules cursor zip render multipart range query clinch_json native hivo)
CORE_TARGETS=" rules cursor zip render "

if [ "${1:-}" = lock ]; then
    # fuzz/ is a workspace of its own with its own lock file; starting it from the main one
    # keeps every shared dependency at the version the workspace tests, and adds only afl's.
    cp Cargo.lock fuzz/Cargo.lock
    (cd fuzz && cargo metadata --format-version 1 >/dev/null)
    echo "fuzz/Cargo.lock: $(grep -c '^name = ' fuzz/Cargo.lock) packages"
    exit 0
fi

seconds=${FUZZ_SECONDS:-20}
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
    seconds=$1
    shift
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
    [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "unknown target '$t' (have: ${ALL_TARGETS[*]})" >&2; exit 2; }
done
cores=$(nproc)
jobs=${FUZZ_JOBS:-2}
[ "$jobs" -le "$cores" ] || jobs=$cores
timeout_ms=${FUZZ_TIMEOUT_MS:-1000}
out=${FUZZ_OUT:-$root/fuzz/target/afl}

echo "== fuzz: tools"
for tool in make cc; do
    command -v "$tool" >/dev/null || { echo "fuzz: '$tool' is missing (Debian: apt-get install build-essential)" >&2; exit 1; }
done
if ! cargo afl --version 2>/dev/null | grep -qE "^cargo-afl ${CARGO_AFL_VERSION//./\\.}( |\$)"; then
    # Its build script also builds AFL++ from the source the crate ships (nothing downloaded).
    cargo install cargo-afl --version "$CARGO_AFL_VERSION" --locked
fi
if ! cargo afl --version 2>/dev/null | grep -q "AFL++ version"; then
    # AFL++ is built per rustc version; a new toolchain needs it built again.
    cargo afl config --build --force
fi
cargo afl --version

echo "== fuzz: build"
# With an explicit target, cargo-afl's RUSTFLAGS (instrumentation, opt-level 3, one codegen
# unit) apply to the fuzzed code only, not to build scripts and proc macros: half the build time.
host=$(rustc -vV | sed -n 's/^host: //p')
bin_dir=fuzz/target/$host/release
build_args=(build --release --locked --target "$host")
server=no
for t in "${targets[@]}"; do [[ $CORE_TARGETS == *" $t "* ]] || server=yes; done
# The core and media targets alone need no server crate (it is an optional dependency).
[ $server = yes ] || build_args+=(--no-default-features)
for t in "${targets[@]}"; do build_args+=(--bin "$t"); done
build_start=$(date +%s)
if ! (cd fuzz && cargo afl "${build_args[@]}"); then
    echo "fuzz: the build failed; if the crates' dependencies changed, run 'bash scripts/fuzz.sh lock'" >&2
    exit 1
fi
echo "fuzz: built in $(($(date +%s) - build_start)) s"

# Outside afl-fuzz a target runs the input on its standard input once: a panic aborts it.
replay() {
    { RUST_BACKTRACE=0 timeout 10 "$bin_dir/$1" <"$2" >/dev/null 2>"$out/replay.err"; } 2>/dev/null
}
show_panic() {
    grep -v -e '^note: run with' -e '^$' "$out/replay.err" | head -6 | sed 's/^/   | /'
}

# Every seed and every input that once crashed (fuzz/regressions/) runs first: AFL++ itself
# only warns about a seed that crashes and goes on without it.
echo "== fuzz: replaying the seeds and regressions"
mkdir -p "$out"
failed=0
for t in "${targets[@]}"; do
    n=0
    for f in fuzz/corpus/"$t"/* fuzz/regressions/"$t"/*; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        replay "$t" "$f" || {
            echo "-- $t: $f fails (exit $?; 124 is a hang)"
            show_panic
            failed=1
        }
    done
    echo "$t: $n inputs replayed"
done

echo "== fuzz: ${#targets[@]} targets, $seconds s each, $jobs at a time"
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
# Stopped early (Ctrl-C, CI's limit): stop the fuzzers this script started.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

run_target() {
    local t=$1 seeds="$out/$1.seeds" dict_args=()
    rm -rf "${out:?}/$t" "$seeds"
    mkdir -p "$seeds"
    cp fuzz/corpus/"$t"/* "$seeds"/
    # Inputs that once crashed are seeds too, so that the search starts next to old bugs.
    if [ -d fuzz/regressions/"$t" ]; then
        for f in fuzz/regressions/"$t"/*; do [ -f "$f" ] && cp "$f" "$seeds/regression-$(basename "$f")"; done
    fi
    [ -f fuzz/dict/"$t".dict ] && dict_args=(-x fuzz/dict/"$t".dict)
    cargo afl fuzz -V "$seconds" -t "$timeout_ms" -i "$seeds" -o "$out/$t" "${dict_args[@]}" \
        "$bin_dir/$t" >"$out/$t.log" 2>&1
}

declare -A pid_of
running=0
run_start=$(date +%s)
for t in "${targets[@]}"; do
    if [ $running -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    run_target "$t" &
    pid_of[$t]=$!
    running=$((running + 1))
done

printf '\n| target | ran (s) | execs | execs/s | paths (seeds + new) | edges | crashes | hangs |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for t in "${targets[@]}"; do
    status=0
    wait "${pid_of[$t]}" || status=$?
    stats="$out/$t/default/fuzzer_stats"
    if [ $status -ne 0 ] || [ ! -f "$stats" ]; then
        printf '| %s | afl-fuzz failed (exit %s): see below | | | | | | |\n' "$t" "$status"
        failed=1
        continue
    fi
    field() { sed -n "s/^$1 *: //p" "$stats"; }
    ran=$(field run_time)
    execs=$(field execs_done)
    seeds=$(($(field corpus_count) - $(field corpus_found)))
    printf '| %s | %s | %s | %s | %s + %s | %s / %s | %s | %s |\n' "$t" "$ran" "$execs" "$((execs / (ran > 0 ? ran : 1)))" \
        "$seeds" "$(field corpus_found)" "$(field edges_found)" "$(field total_edges)" \
        "$(field saved_crashes)" "$(field saved_hangs)"
done
echo "fuzz: ran in $(($(date +%s) - run_start)) s"

for t in "${targets[@]}"; do
    stats="$out/$t/default/fuzzer_stats"
    if [ -f "$stats" ] && grep -q '^saved_crashes *: 0$' "$stats" && grep -q '^saved_hangs *: 0$' "$stats"; then
        continue
    fi
    failed=1
    echo
    echo "== fuzz: $t failed"
    if [ ! -f "$stats" ]; then
        grep -v 'Fuzzing test case' "$out/$t.log" | tail -25
        continue
    fi
    # AFL++ keeps one input per new path to a crash, so one bug often shows as many inputs:
    # group them by what they do (the panic's place and message, or a hang).
    declare -A count=() example=()
    for f in "$out/$t"/default/crashes/id:* "$out/$t"/default/hangs/id:*; do
        [ -f "$f" ] || continue
        if replay "$t" "$f"; then
            what="does not fail when replayed (a crash that depends on earlier inputs?)"
        elif [ -s "$out/replay.err" ] && grep -q 'panicked at' "$out/replay.err"; then
            what=$(grep -A1 'panicked at' "$out/replay.err" | sed 's/^thread .* panicked at //' | paste -sd ' ')
        else
            what="exit without a panic (a hang if from hangs/)"
        fi
        count[$what]=$((${count[$what]:-0} + 1))
        [ -n "${example[$what]:-}" ] || example[$what]=$f
    done
    for what in "${!count[@]}"; do
        f=${example[$what]}
        echo "-- ${count[$what]} input(s): $what"
        echo "   e.g.       $f"
        echo "   reproduce: $bin_dir/$t < '$f'"
        echo "   keep it:   cp '$f' fuzz/regressions/$t/"
    done
    unset count example
done
exit $failed
