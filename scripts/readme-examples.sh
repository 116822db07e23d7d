#!/usr/bin/env bash
# readme-examples.sh — regenerates the README's `loader` examples from real runs: builds the tool and the fixtures,
# runs each command below from tests/fixtures/build, and writes the transcripts between the README's
# "<!-- examples:begin -->" and "<!-- examples:end -->" markers. Addresses change from run to run; nothing else should.
#
#   scripts/readme-examples.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/.." && pwd)
dotnet build "$ROOT/src/Loader.Cli" -c Release -v quiet -nologo >/dev/null
"$ROOT/scripts/build-fixtures.sh" >/dev/null
LOADER=$ROOT/src/Loader.Cli/bin/Release/net10.0/loader
cd "$ROOT/tests/fixtures/build"

# One example: "$ loader ARGS" then what it printed (stdout and stderr, as a terminal shows them), optionally cut
# to its first or last lines, and the exit code when it is not 0.
example() {
    local cut=$1; shift
    local output status=0
    output=$(COLUMNS=200 "$LOADER" "$@" 2>&1) || status=$?
    printf '$ loader'
    local word
    for word in "$@"; do
        if [[ $word =~ ^[A-Za-z0-9_./:=+@-]+$ ]]; then printf ' %s' "$word"; else printf " '%s'" "$word"; fi
    done
    printf '\n'
    case $cut in
        all) printf '%s\n' "$output" ;;
        head:*) printf '%s\n' "$output" | head -n "${cut#head:}"; echo "..." ;;
        tail:*) echo "...  (the end of it)"; printf '%s\n' "$output" | tail -n "${cut#tail:}" ;;
    esac
    [[ $status -eq 0 ]] || echo "(exit $status)"
}

block() { echo '```'; "$@"; echo '```'; echo; }

generate() {
    block example tail:20
    block eval 'example all call libz.so.1 "const char *zlibVersion(void)"; example all call libm.so.6 "double cos(double)" 1;
        example all call libc.so.6 "int printf(const char *, ...)" "x=%d %s %.3f|" 42 hi 2.5;
        example all call libcrypto.so.3 "unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md)" abc 3 buf:32;
        example all call basic.so "int add(int, int)" 2 abc'
    block example head:16 layout basic.so
    block example all trace basic.so
    block eval 'example all deps chain/libchain_a.so; example all deps linking/libneeds_missing.so'
    block eval 'example all bind libz.so.1 memcpy; example head:8 bind libz.so.1 --all'
    block example all bind linking/libinterpose_user.so interposed_name
    block example all info libz.so.1
    block example all symbols libz.so.1 --defined --filter crc32
    block eval 'example all symbols /etc/passwd; example all info /usr/lib/x86_64-linux-gnu/libc.so'
}

generate > "${TMPDIR:-/tmp}/loader-readme-examples.md"
python3 - "$ROOT/README.md" "${TMPDIR:-/tmp}/loader-readme-examples.md" <<'PY'
import sys
readme, examples = sys.argv[1], open(sys.argv[2]).read()
text = open(readme).read()
begin, end = "<!-- examples:begin -->\n", "<!-- examples:end -->"
start, stop = text.index(begin) + len(begin), text.index(end)
open(readme, "w").write(text[:start] + examples + text[stop:])
PY
echo "README.md: examples regenerated"
