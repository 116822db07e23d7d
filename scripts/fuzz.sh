#!/usr/bin/env bash
# fuzz.sh — coverage-guided fuzzing of Loader's hostile-input contract with AFL++ and SharpFuzz:
# a malformed ELF file is accepted or refused with a LoaderException, never a crash, a hang, a foreign
# exception, or a mapping or descriptor left behind (fuzz/Loader.Fuzz/Program.cs checks all four).
#
#   scripts/fuzz.sh TARGET MINUTES       TARGET: open | map | load (the EntryPoint under test)
#
# Installs what is missing (afl++ with apt-get, the sharpfuzz tool into artifacts/fuzz/tools), builds the
# fixtures and the harness (Release, into artifacts/fuzz/build, copied to artifacts/fuzz/bin), instruments
# Loader.dll in bin, builds the seeds (artifacts/fuzz/seeds: small stripped copies of a few fixtures),
# then fuzzes for MINUTES.
#
# Output: artifacts/fuzz/TARGET (AFL's own layout: default/queue, crashes, hangs, fuzzer_stats), and
# artifacts/fuzz/TARGET/summary.txt. Every crash and hang is then replayed through `--replay`.
# Resume: an existing artifacts/fuzz/TARGET is resumed (`-i -`), keeping its queue (and moving earlier
# crashes and hangs to crashes.DATE, hangs.DATE); delete the folder to start fresh. Two targets may run
# at once (one core each): they share bin, which is updated file by file.
#
# Environment: AFL_TIMEOUT_MS (per input, default 1000), AFL_EXTRA_ARGS (appended to afl-fuzz's options).
set -euo pipefail

ROOT=$(cd "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/.." && pwd)
ART=$ROOT/artifacts/fuzz
BIN=$ART/bin
TOOLS=$ART/tools
SEEDS=$ART/seeds
SHARPFUZZ_VERSION=2.3.0

if [[ $# -ne 2 || ! $1 =~ ^(open|map|load)$ || ! $2 =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 open|map|load MINUTES" >&2
    exit 2
fi
TARGET=$1
MINUTES=$2
OUT=$ART/$TARGET
HARNESS=(dotnet "$BIN/Loader.Fuzz.dll" "$TARGET")

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# --- tools ---------------------------------------------------------------------------------------
if ! command -v afl-fuzz >/dev/null; then
    echo "== installing afl++"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q afl++
fi
if [[ ! -x $TOOLS/sharpfuzz ]]; then
    echo "== installing SharpFuzz.CommandLine $SHARPFUZZ_VERSION"
    dotnet tool install SharpFuzz.CommandLine --version "$SHARPFUZZ_VERSION" --tool-path "$TOOLS"
fi

# --- build ---------------------------------------------------------------------------------------
echo "== building fixtures and the harness"
"$ROOT/scripts/build-fixtures.sh"
mkdir -p "$ART"
# The build and the instrumentation rewrite the shared bin folder: one at a time.
exec 9>"$ART/.build.lock"
flock 9
dotnet build "$ROOT/fuzz/Loader.Fuzz/Loader.Fuzz.csproj" -c Release -o "$ART/build" -nologo -v quiet
# Into bin, a file at a time by rename, and only what changed: a running fuzzer (the other target's)
# has these files mapped, and restarts its child from them.
install_file() { cp "$1" "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2"; }
while IFS= read -r -d '' file; do
    name=${file#"$ART/build/"}
    [[ $name != Loader.dll ]] || continue
    mkdir -p "$(dirname "$BIN/$name")"
    cmp -s "$file" "$BIN/$name" || install_file "$file" "$BIN/$name"
done < <(find "$ART/build" -type f -print0)
# Only Loader.dll is instrumented (the harness, the runtime and Tmds.LibC are not under test).
# .Loader.uninstrumented.dll remembers what bin's Loader.dll was instrumented from.
if ! cmp -s "$ART/build/Loader.dll" "$BIN/.Loader.uninstrumented.dll"; then
    echo "== instrumenting Loader.dll"
    cp "$ART/build/Loader.dll" "$ART/Loader.instrumenting.dll"
    "$TOOLS/sharpfuzz" "$ART/Loader.instrumenting.dll"
    mv -f "$ART/Loader.instrumenting.dll" "$BIN/Loader.dll"
    cp "$ART/build/Loader.dll" "$BIN/.Loader.uninstrumented.dll"
fi
flock -u 9

# --- seeds ---------------------------------------------------------------------------------------
# A few small, diverse fixtures: plain, IFUNC, TLS (descriptors), RELR, symbol versions, SysV hash
# only, gold-linked, 32-bit, big-endian, no section headers, symbolic relocations in runs. Stripped: AFL works best on small files.
FIXTURES=$ROOT/tests/fixtures/build
SEED_FIXTURES=(basic.so ifunc.so tls/libtls_desc.so relr.so versioned.so hash_sysv.so gold.so
    elf32_i386.so bigendian64_ppc64.so no_section_headers.so noseparate_code.so linking/libctors.so repeat_refs.so)
mkdir -p "$SEEDS"
for fixture in "${SEED_FIXTURES[@]}"; do
    [[ -e $FIXTURES/$fixture ]] || continue
    seed=$SEEDS/${fixture//\//_}
    if [[ ! -e $seed || $FIXTURES/$fixture -nt $seed ]]; then
        # strip's generic BFD target handles the foreign fixtures (32-bit, big-endian) too.
        strip --strip-all -R .comment -o "$seed" "$FIXTURES/$fixture" 2>/dev/null || cp "$FIXTURES/$fixture" "$seed"
    fi
done
echo "== seeds: $(ls "$SEEDS" | wc -l) files, $(du -sb "$SEEDS" | cut -f1) bytes"

# --- fuzz ----------------------------------------------------------------------------------------
if [[ -d $OUT/default/queue ]]; then
    INPUT=-        # resume
else
    INPUT=$SEEDS
fi
# The fork server is the harness itself (SharpFuzz's, in .NET): `dotnet` has no AFL runtime to check for.
export AFL_SKIP_BIN_CHECK=1
export AFL_NO_UI=1                     # plain status lines: runs in CI and under nohup
export AFL_SKIP_CPUFREQ=1              # the CPU governor is not ours to set
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1   # core_pattern neither
export AFL_AUTORESUME=1                # a crashed earlier run's folder is resumed, not refused
export AFL_NO_CRASH_README=1
# Start-up (runtime, JIT of the first input) takes far longer than one input does.
export AFL_FORKSRV_INIT_TMOUT=60000
echo "== fuzzing $TARGET for $MINUTES minutes into $OUT"
# -m none: the runtime reserves far more address space than AFL's default memory limit.
# shellcheck disable=SC2086
afl-fuzz -V $((MINUTES * 60)) -i "$INPUT" -o "$OUT" -x "$ROOT/fuzz/elf.dict" \
    -t "${AFL_TIMEOUT_MS:-1000}" -m none ${AFL_EXTRA_ARGS:-} -- "${HARNESS[@]}" || echo "afl-fuzz exited with $?"

# The harness's child process is killed, not ended, so its input file stays: remove those of dead processes.
# A child polls for its parent, so it can outlive afl-fuzz by a second or two: wait up to 5 s for it.
for leftover in "${TMPDIR:-/dev/shm}"/loader-fuzz-*.so; do
    [[ -e $leftover ]] || continue
    pid=${leftover#*/loader-fuzz-}; pid=${pid%%-*}
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null || rm -f "$leftover"
done

# --- summary -------------------------------------------------------------------------------------
STATS=$OUT/default/fuzzer_stats
if [[ ! -e $STATS ]]; then
    echo "no $STATS: afl-fuzz did not start" >&2
    exit 1
fi
stat_of() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$STATS"; }
{
    echo "target:          $TARGET"
    echo "run time:        $(stat_of run_time) s"
    echo "execs_done:      $(stat_of execs_done)"
    echo "execs_per_sec:   $(stat_of execs_per_sec)"
    echo "edges_found:     $(stat_of edges_found) / $(stat_of total_edges)"
    echo "bitmap_cvg:      $(stat_of bitmap_cvg)"
    echo "corpus_count:    $(stat_of corpus_count)"
    echo "saved_crashes:   $(stat_of saved_crashes)"
    echo "saved_hangs:     $(stat_of saved_hangs)"
} | tee "$OUT/summary.txt"

# --- triage --------------------------------------------------------------------------------------
# One process per file: a crash that kills the process, or a hang, takes only its own line with it.
shopt -s nullglob
found=0
# crashes.DATE and hangs.DATE are what earlier sessions of a resumed folder found.
for file in "$OUT"/default/crashes*/id:* "$OUT"/default/hangs*/id:*; do
    found=1
    echo "-- ${file#"$ROOT"/}"
    status=0
    timeout 20 "${HARNESS[@]}" --replay "$file" 2>&1 | sed 's/^/   /' || status=${PIPESTATUS[0]}
    case $status in
        0 | 1) ;;
        124) echo "   (still running after 20 s: a hang)" ;;
        *) echo "   (process ended with status $status)" ;;
    esac
done
[[ $found -eq 1 ]] || echo "no crashes or hangs"
