#!/usr/bin/env bash
# build-fixtures.sh — compiles the C test fixtures (tests/fixtures/) into
# tests/fixtures/build/ with the host gcc (gcc 12, binutils 2.40: ld.bfd, ld.gold).
#
#   scripts/build-fixtures.sh            build what is missing or out of date
#   scripts/build-fixtures.sh --force    delete tests/fixtures/build first, rebuild all
#
# Incremental like make: an output is rebuilt when it is missing or older than one
# of its inputs (its sources, the libraries it links against, or this script).
# Every fresh output is checked: `readelf -W -a` must print no "Error:" (and no
# "Warning:" unless the fixture expects it), and the flag it exists for must have
# taken effect. At the end, build/.stamp is touched: tests/Loader.Tests/Fixtures.targets
# uses it as the output of its MSBuild target. tests/fixtures/README.md lists the
# fixtures and why each exists; tests/Loader.Tests/Fixtures.cs lists them for tests.
set -euo pipefail

SCRIPT=$(realpath "${BASH_SOURCE[0]}")
ROOT=$(cd "$(dirname "$SCRIPT")/.." && pwd)
SRC=$ROOT/tests/fixtures
OUT=$SRC/build
CC=${CC:-gcc}
READELF=${READELF:-readelf}

if [[ ${1:-} == --force ]]; then
    rm -rf "$OUT"
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [--force]" >&2
    exit 2
fi

mkdir -p "$OUT"
# Two builds at once (e.g. parallel MSBuild nodes) would race on the same files.
exec 9>"$OUT/.lock"
flock 9

# Common flags: position-independent shared objects, optimized, no debug info.
# --no-as-needed: Debian's gcc passes --as-needed; every DT_NEEDED here is deliberate.
CFLAGS=(-fPIC -shared -O2 -g0 -Wall -Wextra -Wl,--no-as-needed)
TOOL_CFLAGS=(-O2 -g0 -Wall -Wextra)

built=0
current=0

# up_to_date OUTPUT INPUT... — OUTPUT exists and is newer than every input and this script.
up_to_date() {
    local out=$1 input
    shift
    [[ -e $out ]] || return 1
    for input in "$@" "$SCRIPT"; do
        [[ $input -nt $out ]] && return 1
    done
    return 0
}

# rule OUTPUT INPUT... -- COMMAND ARGS...
# Runs `COMMAND TMP ARGS...` (which must write TMP) when OUTPUT is out of date, checks
# the result with `check_readelf`, then renames TMP to OUTPUT. One line per fixture.
rule() {
    local out=$1 name=${1#"$OUT"/}
    shift
    local -a inputs=()
    while [[ $1 != -- ]]; do inputs+=("$1"); shift; done
    shift
    if up_to_date "$out" "${inputs[@]}"; then
        printf '  up to date  %s\n' "$name"
        current=$((current + 1))
        return
    fi
    mkdir -p "$(dirname "$out")"
    local tmp=$out.tmp
    rm -f "$tmp"
    "$@" "$tmp"
    chmod 0755 "$tmp"
    mv -f "$tmp" "$out"
    printf '  built       %s\n' "$name"
    built=$((built + 1))
}

# Commands for `rule`: the output path comes last.
# cc_so SONAME SOURCES-AND-FLAGS... OUT — gcc -shared with the common flags and DT_SONAME.
cc_so() {
    local soname=$1 out=${*: -1}
    local -a args=("${@:2:$#-2}")
    "$CC" "${CFLAGS[@]}" -Wl,-soname,"$soname" -o "$out" "${args[@]}"
}
# cc_plain ARGS... OUT — gcc with exactly the given flags (the 32-bit object).
cc_plain() {
    local out=${*: -1}
    "$CC" "${@:1:$#-1}" -o "$out"
}
# tool NAME — builds a host tool from tools/NAME.c into build/tools/NAME.
tool() {
    local name=$1 out=$OUT/tools/$1
    if ! up_to_date "$out" "$SRC/tools/$name.c"; then
        mkdir -p "$OUT/tools"
        "$CC" "${TOOL_CFLAGS[@]}" -o "$out" "$SRC/tools/$name.c"
    fi
}
# run_tool NAME ARGS... OUT
run_tool() { "$OUT/tools/$1" "${@:2}"; }
# strip_section_headers IN OUT
strip_section_headers() { "$OUT/tools/elfpatch" strip-section-headers "$1" "$2"; }
# dirty_tail SOURCE OUT — link, drop .comment so the 0xA5 fill section directly follows
# .data in the file, and verify the bytes after p_filesz on that page are all 0xA5.
dirty_tail() {
    local src=$1 out=$2
    "$CC" "${CFLAGS[@]}" -Wl,-soname,dirty_bss_tail.so -o "$out.linked" "$src"
    objcopy --remove-section=.comment "$out.linked" "$out"
    rm -f "$out.linked"
    "$OUT/tools/elfpatch" check-dirty-tail "$out" 0xa5
}

# --- checks -------------------------------------------------------------------------------

# check_readelf FILE [EXTRA-READELF-FLAGS] — no "Error:" from readelf, no "Warning:" either.
check_readelf() {
    local file=$1 text
    shift
    text=$("$READELF" -W -a "$@" "$file" 2>&1) || { echo "readelf failed on $file" >&2; exit 1; }
    if grep -E 'Error:|Warning:' <<<"$text" >&2; then
        echo "build-fixtures: readelf complains about ${file#"$OUT"/}" >&2
        exit 1
    fi
}
# expect FILE READELF-FLAGS PATTERN [no] — readelf output matches (or, with "no", does not match) PATTERN.
expect() {
    local file=$1 flags=$2 pattern=$3 negate=${4:-}
    local text
    # shellcheck disable=SC2086
    text=$("$READELF" $flags "$file" 2>&1)
    if [[ -z $negate ]] && ! grep -Eq -- "$pattern" <<<"$text"; then
        echo "build-fixtures: ${file#"$OUT"/}: readelf $flags shows no /$pattern/" >&2
        exit 1
    elif [[ -n $negate ]] && grep -Eq -- "$pattern" <<<"$text"; then
        echo "build-fixtures: ${file#"$OUT"/}: readelf $flags unexpectedly shows /$pattern/" >&2
        exit 1
    fi
}

echo "Building test fixtures into ${OUT#"$ROOT"/}/"

tool elfpatch
tool gen_bigendian
tool dlopen_each
tool load_marked

# 1. Plain exports.
rule "$OUT/basic.so" "$SRC/basic.c" -- cc_so basic.so "$SRC/basic.c"
# 2. Initialized data and a 3 MiB .bss.
rule "$OUT/bigbss.so" "$SRC/bigbss.c" -- cc_so bigbss.so "$SRC/bigbss.c"
# 3. Symbol versioning.
rule "$OUT/versioned.so" "$SRC/versioned.c" "$SRC/versioned.map" -- \
    cc_so versioned.so "$SRC/versioned.c" -Wl,--version-script="$SRC/versioned.map"
# 3a. Relocations against the library's own exports, names with equal GNU hashes, two definitions of one name.
rule "$OUT/self_refs.so" "$SRC/self_refs.c" "$SRC/self_refs.map" -- \
    cc_so self_refs.so "$SRC/self_refs.c" -Wl,--version-script="$SRC/self_refs.map"
# 3b. Symbolic relocations that repeat one symbol (own, libc's, undefined weak) with addends: the relocator's runs.
rule "$OUT/repeat_refs.so" "$SRC/repeat_refs.c" -- cc_so repeat_refs.so "$SRC/repeat_refs.c"
# 4. Hash table styles (basic.c each time).
rule "$OUT/hash_sysv.so" "$SRC/basic.c" -- cc_so hash_sysv.so "$SRC/basic.c" -Wl,--hash-style=sysv
rule "$OUT/hash_gnu.so" "$SRC/basic.c" -- cc_so hash_gnu.so "$SRC/basic.c" -Wl,--hash-style=gnu
rule "$OUT/hash_both.so" "$SRC/basic.c" -- cc_so hash_both.so "$SRC/basic.c" -Wl,--hash-style=both
# 5. DT_RELR.
rule "$OUT/relr.so" "$SRC/relr.c" -- cc_so relr.so "$SRC/relr.c" -Wl,-z,pack-relative-relocs
# 5a. A RELRO of many pages, pointers into itself and into libc (shared RELRO).
rule "$OUT/relro_share.so" "$SRC/relro_share.c" -- cc_so relro_share.so "$SRC/relro_share.c"
# 5b. Many relocations, small and large (allocation per relocation, from the difference).
rule "$OUT/manyrelocs_small.so" "$SRC/manyrelocs.c" -- cc_so manyrelocs_small.so "$SRC/manyrelocs.c" -DCOUNT=2000
rule "$OUT/manyrelocs_large.so" "$SRC/manyrelocs.c" -- cc_so manyrelocs_large.so "$SRC/manyrelocs.c" -DCOUNT=40000
# 6. gold.
rule "$OUT/gold.so" "$SRC/basic.c" -- cc_so gold.so "$SRC/basic.c" -fuse-ld=gold
# 7. 2 MiB segment alignment.
rule "$OUT/maxpage_2m.so" "$SRC/basic.c" -- \
    cc_so maxpage_2m.so "$SRC/basic.c" -Wl,-z,max-page-size=0x200000
# 8. Code and headers in one R+X PT_LOAD.
rule "$OUT/noseparate_code.so" "$SRC/basic.c" -- cc_so noseparate_code.so "$SRC/basic.c" -Wl,-z,noseparate-code
# 9. No PT_GNU_RELRO.
rule "$OUT/norelro.so" "$SRC/basic.c" -- cc_so norelro.so "$SRC/basic.c" -Wl,-z,norelro
# 10. IFUNC.
rule "$OUT/ifunc.so" "$SRC/ifunc.c" -- cc_so ifunc.so "$SRC/ifunc.c"
# 11. ELFCLASS32 / EM_386, no libc.
rule "$OUT/elf32_i386.so" "$SRC/x86_32.c" -- \
    cc_plain -m32 -shared -nostdlib -fPIC -O2 -g0 -Wall -Wextra -Wl,-soname,elf32_i386.so "$SRC/x86_32.c"
# 12. Big-endian, written by hand.
rule "$OUT/bigendian64_ppc64.so" "$SRC/tools/gen_bigendian.c" -- run_tool gen_bigendian 64
rule "$OUT/bigendian32_ppc.so" "$SRC/tools/gen_bigendian.c" -- run_tool gen_bigendian 32
# 13. No section headers (basic.so, sstrip'ed).
rule "$OUT/no_section_headers.so" "$OUT/basic.so" "$SRC/tools/elfpatch.c" -- \
    strip_section_headers "$OUT/basic.so"
# 14. Non-zero file bytes after p_filesz on the last page of the data segment.
rule "$OUT/dirty_bss_tail.so" "$SRC/dirty_tail.c" "$SRC/tools/elfpatch.c" -- dirty_tail "$SRC/dirty_tail.c"

# 15. For the linker: dependencies, search paths, lookup order, init order.
L=$SRC/linking
C=$OUT/chain
rule "$C/lib/deep/libchain_c.so" "$L/chain_c.c" -- cc_so libchain_c.so "$L/chain_c.c"
rule "$C/lib/libchain_b.so" "$L/chain_b.c" "$C/lib/deep/libchain_c.so" -- \
    cc_so libchain_b.so "$L/chain_b.c" "$C/lib/deep/libchain_c.so" -Wl,--enable-new-dtags,-rpath,'$ORIGIN/deep'
rule "$C/libchain_a.so" "$L/chain_a.c" "$C/lib/libchain_b.so" -- \
    cc_so libchain_a.so "$L/chain_a.c" "$C/lib/libchain_b.so" -Wl,--enable-new-dtags,-rpath,'$ORIGIN/lib' \
    -Wl,-rpath-link,"$C/lib/deep"

K=$OUT/linking
rule "$K/libinterpose_first.so" "$L/interpose_first.c" -- cc_so libinterpose_first.so "$L/interpose_first.c"
rule "$K/libinterpose_second.so" "$L/interpose_second.c" -- cc_so libinterpose_second.so "$L/interpose_second.c"
rule "$K/libinterpose_user.so" "$L/interpose_user.c" "$K/libinterpose_first.so" "$K/libinterpose_second.so" -- \
    cc_so libinterpose_user.so "$L/interpose_user.c" "$K/libinterpose_first.so" "$K/libinterpose_second.so" \
    -Wl,--enable-new-dtags,-rpath,'$ORIGIN'
rule "$K/libweak_provider.so" "$L/weak_provider.c" -- cc_so libweak_provider.so "$L/weak_provider.c"
rule "$K/libweak.so" "$L/weak.c" "$K/libweak_provider.so" -- \
    cc_so libweak.so "$L/weak.c" "$K/libweak_provider.so" -Wl,--enable-new-dtags,-rpath,'$ORIGIN'
rule "$K/libctors_log.so" "$L/ctors_log.c" -- cc_so libctors_log.so "$L/ctors_log.c"
rule "$K/libctors.so" "$L/ctors.c" "$K/libctors_log.so" -- \
    cc_so libctors.so "$L/ctors.c" "$K/libctors_log.so" -Wl,--enable-new-dtags,-rpath,'$ORIGIN' \
    -Wl,-init=ctors_dt_init -Wl,-fini=ctors_dt_fini
rule "$K/libmath_user.so" "$L/libm_user.c" -- cc_so libmath_user.so "$L/libm_user.c" -fno-builtin -lm
rule "$K/libtls.so" "$L/tls.c" -- cc_so libtls.so "$L/tls.c"
rule "$K/libhost_versions.so" "$L/host_versions.c" -- cc_so libhost_versions.so "$L/host_versions.c"
# A DT_NEEDED cycle: b's link-time stub first, then a (needs b), then b (needs a), both RUNPATH $ORIGIN.
rule "$K/stub/libcycle_b.so" "$L/cycle_b.c" -- cc_so libcycle_b.so "$L/cycle_b.c" -Wl,--unresolved-symbols=ignore-all
rule "$K/libcycle_a.so" "$L/cycle_a.c" "$K/stub/libcycle_b.so" -- \
    cc_so libcycle_a.so "$L/cycle_a.c" "$K/stub/libcycle_b.so" -Wl,--enable-new-dtags,-rpath,'$ORIGIN'
rule "$K/libcycle_b.so" "$L/cycle_b.c" "$K/libcycle_a.so" -- \
    cc_so libcycle_b.so "$L/cycle_b.c" "$K/libcycle_a.so" -Wl,--enable-new-dtags,-rpath,'$ORIGIN'
rule "$K/libversioned_user.so" "$L/versioned_user.c" "$OUT/versioned.so" -- \
    cc_so libversioned_user.so "$L/versioned_user.c" "$OUT/versioned.so" -Wl,--enable-new-dtags,-rpath,'$ORIGIN/..'
# Code that leaves a mark when it runs (constructor, IFUNC resolver): `loader deps`/`bind` must run none of it.
rule "$K/libctor_marker.so" "$L/ctor_marker.c" -- cc_so libctor_marker.so "$L/ctor_marker.c"
# The (argc, argv, envp) a constructor is given, kept for a test to compare with glibc's.
rule "$K/libctor_args.so" "$L/ctor_args.c" -- cc_so libctor_args.so "$L/ctor_args.c"
# A DT_NEEDED that exists nowhere at run time: linked against a stub in stub/, which no search path names.
rule "$K/stub/libloader_absent.so" "$L/loader_absent_stub.c" -- cc_so libloader_absent.so "$L/loader_absent_stub.c"
rule "$K/libneeds_missing.so" "$L/needs_missing.c" "$K/libctor_marker.so" "$K/stub/libloader_absent.so" -- \
    cc_so libneeds_missing.so "$L/needs_missing.c" "$K/libctor_marker.so" "$K/stub/libloader_absent.so" \
    -Wl,--enable-new-dtags,-rpath,'$ORIGIN'

# 16. Symbol binding rules (tests/fixtures/binding/, tests/Loader.Tests/Linking/SymbolBinding*Tests.cs):
#     interposition vs DT_SYMBOLIC / -Bsymbolic / STV_PROTECTED, STB_GNU_UNIQUE, glibc's check_match
#     for unversioned references, weak and strong undefined references, hidden definitions.
#     Everything lands in build/binding/; build/binding/stub/ holds link-time stubs (same DT_SONAME as
#     the runtime library, never loaded: no RUNPATH points there) and build/binding/unpatched/ the
#     inputs of tools/bindpatch. Every runtime library has its own DT_SONAME, so fixtures loaded in one
#     process never share a dependency by name.
# ---- begin: binding fixtures ----
BS=$SRC/binding
B=$OUT/binding
BINDPATCH=$OUT/tools/bindpatch
if ! up_to_date "$BINDPATCH" "$BS/bindpatch.c"; then
    mkdir -p "$OUT/tools"
    "$CC" "${TOOL_CFLAGS[@]}" -o "$BINDPATCH" "$BS/bindpatch.c"
fi
# bindpatch ARGS... IN OUT (see binding/bindpatch.c)
bindpatch() { "$BINDPATCH" "$@"; }
# cc_unique SONAME ADDR_NAME EXTRA... OUT — binding/unique.c as C++, linked by gcc (no libstdc++).
cc_unique() {
    local soname=$1 name=$2 out=${*: -1}
    local -a extra=("${@:3:$#-3}")
    "$CC" "${CFLAGS[@]}" -Wl,-soname,"$soname" -DADDR_NAME="$name" -o "$out" -x c++ "$BS/unique.c" -x none "${extra[@]}"
}
ORIGIN_RUNPATH=(-Wl,--enable-new-dtags,-rpath,'$ORIGIN')

# 16a. Interposition, and what stops it. Each root (who_root.c) needs one build of who_dep.c.
rule "$B/libbind_plain_dep.so" "$BS/who_dep.c" -- cc_so libbind_plain_dep.so "$BS/who_dep.c"
rule "$B/libbind_bsym_dep.so" "$BS/who_dep.c" -- cc_so libbind_bsym_dep.so "$BS/who_dep.c" -Wl,-Bsymbolic
rule "$B/unpatched/libbind_dtsym_dep.so" "$BS/who_dep.c" -- cc_so libbind_dtsym_dep.so "$BS/who_dep.c" -Wl,-z,now
rule "$B/libbind_dtsym_dep.so" "$B/unpatched/libbind_dtsym_dep.so" "$BS/bindpatch.c" -- \
    bindpatch symbolic "$B/unpatched/libbind_dtsym_dep.so"
rule "$B/unpatched/libbind_prot_dep.so" "$BS/who_dep.c" -- cc_so libbind_prot_dep.so "$BS/who_dep.c"
rule "$B/unpatched/libbind_prot_dep_who.so" "$B/unpatched/libbind_prot_dep.so" "$BS/bindpatch.c" -- \
    bindpatch visibility who protected "$B/unpatched/libbind_prot_dep.so"
rule "$B/libbind_prot_dep.so" "$B/unpatched/libbind_prot_dep_who.so" "$BS/bindpatch.c" -- \
    bindpatch visibility shared_value protected "$B/unpatched/libbind_prot_dep_who.so"
for kind in plain bsym dtsym prot; do
    rule "$B/libbind_${kind}_root.so" "$BS/who_root.c" "$B/libbind_${kind}_dep.so" -- \
        cc_so "libbind_${kind}_root.so" "$BS/who_root.c" "$B/libbind_${kind}_dep.so" "${ORIGIN_RUNPATH[@]}"
done

# 16b. STB_GNU_UNIQUE: two independent libraries, and a root whose dependency is -Bsymbolic.
rule "$B/libbind_unique_a.so" "$BS/unique.c" -- cc_unique libbind_unique_a.so unique_a_addr
rule "$B/libbind_unique_b.so" "$BS/unique.c" -- cc_unique libbind_unique_b.so unique_b_addr
rule "$B/libbind_unique_symdep.so" "$BS/unique.c" -- cc_unique libbind_unique_symdep.so unique_symdep_addr -Wl,-Bsymbolic
rule "$B/libbind_unique_root.so" "$BS/unique.c" "$B/libbind_unique_symdep.so" -- \
    cc_unique libbind_unique_root.so unique_root_addr "$B/libbind_unique_symdep.so" "${ORIGIN_RUNPATH[@]}"

# 16c. Unversioned references meet versioned definitions (check_match). vuser.c is linked against the
#      unversioned stub of each dependency, then runs against the versioned build of the same DT_SONAME.
for kind in two one hiddenonly; do
    case $kind in two) def=TWO_VERSIONS ;; one) def=ONLY_DEFAULT ;; hiddenonly) def=ONLY_HIDDEN ;; esac
    rule "$B/stub/libbind_vdep_$kind.so" "$BS/vdep.c" -- cc_so "libbind_vdep_$kind.so" "$BS/vdep.c"
    rule "$B/libbind_vdep_$kind.so" "$BS/vdep.c" "$BS/vdep.map" -- \
        cc_so "libbind_vdep_$kind.so" "-D$def" "$BS/vdep.c" -Wl,--version-script="$BS/vdep.map"
    rule "$B/libbind_vuser_$kind.so" "$BS/vuser.c" "$B/stub/libbind_vdep_$kind.so" -- \
        cc_so "libbind_vuser_$kind.so" "$BS/vuser.c" "$B/stub/libbind_vdep_$kind.so" "${ORIGIN_RUNPATH[@]}"
done

# 16d. Undefined references: versioned strong (the load fails) and weak (0).
rule "$B/stub/libbind_missing.so" "$BS/missing.c" "$BS/missing.map" -- \
    cc_so libbind_missing.so -DLINK_STUB "$BS/missing.c" -Wl,--version-script="$BS/missing.map"
rule "$B/libbind_missing.so" "$BS/missing.c" "$BS/missing.map" -- \
    cc_so libbind_missing.so "$BS/missing.c" -Wl,--version-script="$BS/missing.map"
rule "$B/libbind_missing_strong.so" "$BS/missing_strong.c" "$B/stub/libbind_missing.so" -- \
    cc_so libbind_missing_strong.so "$BS/missing_strong.c" "$B/stub/libbind_missing.so" "${ORIGIN_RUNPATH[@]}"
rule "$B/libbind_missing_weak.so" "$BS/missing_weak.c" "$B/stub/libbind_missing.so" -- \
    cc_so libbind_missing_weak.so "$BS/missing_weak.c" "$B/stub/libbind_missing.so" "${ORIGIN_RUNPATH[@]}"

# 16e. A hidden definition (in .dynsym, STV_HIDDEN) is no definition for a dependent.
rule "$B/stub/libbind_hidden_dep.so" "$BS/hidden_dep.c" -- cc_so libbind_hidden_dep.so "$BS/hidden_dep.c"
rule "$B/libbind_hidden_dep.so" "$B/stub/libbind_hidden_dep.so" "$BS/bindpatch.c" -- \
    bindpatch visibility secret_value hidden "$B/stub/libbind_hidden_dep.so"
rule "$B/libbind_hidden_user.so" "$BS/hidden_user.c" "$B/stub/libbind_hidden_dep.so" -- \
    cc_so libbind_hidden_user.so "$BS/hidden_user.c" "$B/stub/libbind_hidden_dep.so" "${ORIGIN_RUNPATH[@]}"

# 16f'. Kept loaded: the same library (keep.c, with a dependency) marked DF_1_NODELETE (-z nodelete), and not.
rule "$B/libbind_keep_dep.so" "$BS/keep_dep.c" -- cc_so libbind_keep_dep.so "$BS/keep_dep.c"
rule "$B/libbind_nodelete.so" "$BS/keep.c" "$B/libbind_keep_dep.so" -- \
    cc_so libbind_nodelete.so "$BS/keep.c" "$B/libbind_keep_dep.so" -Wl,-z,nodelete "${ORIGIN_RUNPATH[@]}"
rule "$B/libbind_keep.so" "$BS/keep.c" "$B/libbind_keep_dep.so" -- \
    cc_so libbind_keep.so "$BS/keep.c" "$B/libbind_keep_dep.so" "${ORIGIN_RUNPATH[@]}"
# 16f''. A unique object its library never refers to: entered (and the library kept) by the first lookup of it — a
#       dependent's load that succeeds, or one that fails afterwards (the mark is dropped with it), or dlsym.
rule "$B/stub/libbind_lone_unique.so" "$BS/lone_unique.c" -- cc_so libbind_lone_unique.so -DLINK_STUB "$BS/lone_unique.c"
rule "$B/libbind_lone_unique.so" "$BS/lone_unique.c" -- cc_so libbind_lone_unique.so "$BS/lone_unique.c"
rule "$B/libbind_lone_user.so" "$BS/lone_user.c" "$B/stub/libbind_lone_unique.so" -- \
    cc_so libbind_lone_user.so "$BS/lone_user.c" "$B/stub/libbind_lone_unique.so" "${ORIGIN_RUNPATH[@]}"
rule "$B/libbind_lone_user_fail.so" "$BS/lone_user.c" "$B/stub/libbind_lone_unique.so" -- \
    cc_so libbind_lone_user_fail.so -DCALL_VANISHED "$BS/lone_user.c" "$B/stub/libbind_lone_unique.so" "${ORIGIN_RUNPATH[@]}"
# ---- end: binding fixtures (verified below) ----

# 17. C++ exceptions through Loader-mapped code (tests/fixtures/cxx/, tests/Loader.Tests/Linking/CxxException*Tests.cs):
#     libcxx_thrower.so throws, catches and takes backtraces; libcxx_catcher.so needs it (RUNPATH $ORIGIN) and
#     catches its exceptions by its types; libcxx_thread_local.so registers a thread_local destructor.
X=$SRC/cxx
CX=$OUT/cxx
CXX=${CXX:-g++}
# cxx_so SONAME SOURCES-AND-FLAGS... OUT — g++ -shared with the common flags and DT_SONAME.
cxx_so() {
    local soname=$1 out=${*: -1}
    local -a args=("${@:2:$#-2}")
    "$CXX" "${CFLAGS[@]}" -Wl,-soname,"$soname" -o "$out" "${args[@]}"
}
rule "$CX/libcxx_thrower.so" "$X/cxx_thrower.cpp" "$X/cxx_shapes.h" -- cxx_so libcxx_thrower.so "$X/cxx_thrower.cpp"
rule "$CX/libcxx_thread_local.so" "$X/cxx_thread_local.cpp" -- cxx_so libcxx_thread_local.so "$X/cxx_thread_local.cpp"
rule "$CX/libcxx_catcher.so" "$X/cxx_catcher.cpp" "$X/cxx_shapes.h" "$CX/libcxx_thrower.so" -- \
    cxx_so libcxx_catcher.so "$X/cxx_catcher.cpp" "$CX/libcxx_thrower.so" "${ORIGIN_RUNPATH[@]}"
# basic.c without .eh_frame_hdr: no PT_GNU_EH_FRAME, so nothing to register.
rule "$CX/libno_eh_frame_hdr.so" "$SRC/basic.c" -- cc_so libno_eh_frame_hdr.so "$SRC/basic.c" -Wl,--no-eh-frame-hdr

# --- verify what was just built --------------------------------------------------------------
# Only files newer than the last stamp are checked, so a no-op run stays quick.
stamp=$OUT/.stamp
fresh() { [[ ! -e $stamp || $1 -nt $stamp ]]; }
verify() {
    local name=$1 file=$OUT/$1
    shift
    fresh "$file" || return 0
    check_readelf "$file" "${READELF_EXTRA[@]}"
    "$@" "$file"
}
READELF_EXTRA=()
v_none() { :; }
v_basic() { expect "$1" "-W --dyn-syms" ' format_to$' && expect "$1" "-d" 'NEEDED.*libc\.so\.6'; }
v_bigbss() { expect "$1" "-lW" 'LOAD .* 0x[0-9a-f]+ 0x3[0-9a-f]{5} RW'; }
v_versioned() { expect "$1" "-W --dyn-syms" 'compute@VERS_1' && expect "$1" "-W --dyn-syms" 'compute@@VERS_2' \
    && expect "$1" "-V" 'Parent 1: VERS_1'; }
v_sysv() { expect "$1" "-d" '\(HASH\)' && expect "$1" "-S" '\.gnu\.hash' no; }
v_gnu() { expect "$1" "-d" '\(GNU_HASH\)' && expect "$1" "-d" '\(HASH\)' no; }
v_both() { expect "$1" "-d" '\(GNU_HASH\)' && expect "$1" "-d" '\(HASH\)'; }
v_relr() {
    expect "$1" "-d" '\(RELR\)' && expect "$1" "-rW" 'R_X86_64_(RELATIVE|64) ' no
    # 200 pointers in a row need an address entry and several bitmap entries; 211 in all.
    local text entries offsets
    text=$("$READELF" -W -r "$1")
    entries=$(sed -n "s/^Relocation section '.relr.dyn' at offset 0x[0-9a-f]* contains \([0-9]*\) entr.*/\1/p" <<<"$text")
    offsets=$(sed -n 's/^ *\([0-9]*\) offsets$/\1/p' <<<"$text")
    if [[ ${entries:-0} -lt 5 || ${offsets:-0} -lt 200 ]]; then
        echo "build-fixtures: relr.so: ${entries:-0} RELR entries for ${offsets:-0} offsets" >&2
        exit 1
    fi
}
v_gold() { expect "$1" "-p .note.gnu.gold-version" 'gold'; }
v_maxpage() { expect "$1" "-lW" 'LOAD .* 0x200000$'; }
v_noseparate() { expect "$1" "-lW" 'LOAD +0x000000 .* R E '; }
v_norelro() { expect "$1" "-lW" 'GNU_RELRO' no; }
v_ifunc() { expect "$1" "-W --dyn-syms" 'IFUNC +GLOBAL DEFAULT +[0-9]+ doubled$' && expect "$1" "-rW" 'R_X86_64_IRELATIV'; }
v_elf32() { expect "$1" "-h" 'ELF32' && expect "$1" "-h" 'Intel 80386'; }
v_be64() { expect "$1" "-h" 'big endian' && expect "$1" "-h" 'ELF64' && expect "$1" "-h" 'PowerPC64'; }
v_be32() { expect "$1" "-h" 'big endian' && expect "$1" "-h" 'ELF32' && expect "$1" "-h" 'PowerPC'; }
v_noshdr() {
    expect "$1" "-h" 'Number of section headers: +0$' && expect "$1" "-lW" 'DYNAMIC' \
        && expect "$1" "-W -D -s" ' format_to$'
}
v_chain_a() { expect "$1" "-d" 'RUNPATH.*\[\$ORIGIN/lib\]' && expect "$1" "-d" 'NEEDED.*\[libchain_b\.so\]'; }
v_chain_b() { expect "$1" "-d" 'RUNPATH.*\[\$ORIGIN/deep\]' && expect "$1" "-d" 'NEEDED.*\[libchain_c\.so\]'; }
v_interpose() {
    expect "$1" "-d" 'NEEDED.*libinterpose_first\.so' && expect "$1" "-d" 'NEEDED.*libinterpose_second\.so'
    # DT_NEEDED order matters: first before second.
    "$READELF" -d "$1" | grep -o 'libinterpose_[a-z]*\.so' | head -2 | paste -sd' ' | grep -qx 'libinterpose_first.so libinterpose_second.so' \
        || { echo "build-fixtures: libinterpose_user.so: DT_NEEDED order is wrong" >&2; exit 1; }
}
v_weak() { expect "$1" "-W --dyn-syms" 'WEAK +DEFAULT +UND weak_absent$' && expect "$1" "-W --dyn-syms" 'WEAK +DEFAULT +[0-9]+ weak_defined$'; }
v_ctors() { expect "$1" "-d" '\(INIT_ARRAY\)' && expect "$1" "-d" '\(FINI_ARRAY\)' && expect "$1" "-d" '\(INIT\)' && expect "$1" "-d" '\(FINI\)'; }
v_math() { expect "$1" "-d" 'NEEDED.*libm\.so\.6' && expect "$1" "-W --dyn-syms" 'UND cos@'; }
v_cycle_a() { expect "$1" "-d" 'NEEDED.*\[libcycle_b\.so\]'; }
v_cycle_b() { expect "$1" "-d" 'NEEDED.*\[libcycle_a\.so\]'; }
v_tls() { expect "$1" "-lW" '^ +TLS ' && expect "$1" "-rW" 'R_X86_64_DTPMOD64'; }
v_host_versions() { expect "$1" "-rW" 'GLOB_DAT .* realpath@GLIBC_2\.2\.5 ' && expect "$1" "-rW" 'GLOB_DAT .* realpath@GLIBC_2\.3 '; }
v_versioned_user() { expect "$1" "-V" 'Name: VERS_1' && expect "$1" "-V" 'Name: VERS_2'; }

verify basic.so v_basic
verify bigbss.so v_bigbss
verify versioned.so v_versioned
verify hash_sysv.so v_sysv
verify hash_gnu.so v_gnu
verify hash_both.so v_both
verify relr.so v_relr
verify manyrelocs_small.so v_none
verify manyrelocs_large.so v_none
verify gold.so v_gold
verify maxpage_2m.so v_maxpage
verify noseparate_code.so v_noseparate
verify norelro.so v_norelro
verify ifunc.so v_ifunc
verify elf32_i386.so v_elf32
verify bigendian64_ppc64.so v_be64
verify bigendian32_ppc.so v_be32
READELF_EXTRA=(-D)    # without section headers readelf needs -D to find the dynamic symbols
verify no_section_headers.so v_noshdr
READELF_EXTRA=()
verify dirty_bss_tail.so v_none
verify chain/libchain_a.so v_chain_a
verify chain/lib/libchain_b.so v_chain_b
verify chain/lib/deep/libchain_c.so v_none
verify linking/libinterpose_first.so v_none
verify linking/libinterpose_second.so v_none
verify linking/libinterpose_user.so v_interpose
verify linking/libweak_provider.so v_none
verify linking/libweak.so v_weak
verify linking/libctors_log.so v_none
verify linking/libctors.so v_ctors
verify linking/libmath_user.so v_math
verify linking/libtls.so v_tls
verify linking/libcycle_a.so v_cycle_a
verify linking/libcycle_b.so v_cycle_b
verify linking/libversioned_user.so v_versioned_user
verify linking/libhost_versions.so v_host_versions

# ---- begin: binding fixtures ----
v_who_dep() {   # the dependency's own uses of who/shared_value stay dynamic relocations
    expect "$1" "-rW" 'R_X86_64_JUMP_SLOT .* who \+ 0' && expect "$1" "-rW" 'R_X86_64_GLOB_DAT .* shared_value \+ 0'
}
v_bsym_dep() { expect "$1" "-d" '\(SYMBOLIC\)' && expect "$1" "-rW" ' (who|shared_value) \+ 0' no; }
v_dtsym_dep() { v_who_dep "$1" && expect "$1" "-d" 'FLAGS\) +SYMBOLIC BIND_NOW' && expect "$1" "-d" '\(SYMBOLIC\)' no; }
v_prot_dep() {
    v_who_dep "$1" && expect "$1" "-W --dyn-syms" 'FUNC +GLOBAL PROTECTED +[0-9]+ who$' \
        && expect "$1" "-W --dyn-syms" 'OBJECT +GLOBAL PROTECTED +[0-9]+ shared_value$'
}
v_who_root() { expect "$1" "-d" 'NEEDED.*libbind_[a-z]*_dep\.so' && expect "$1" "-W --dyn-syms" 'GLOBAL DEFAULT +[0-9]+ who$'; }
v_unique() { expect "$1" "-W --dyn-syms" 'OBJECT +UNIQUE +DEFAULT +[0-9]+ _ZN7CounterIiE5valueE$' \
    && expect "$1" "-rW" 'R_X86_64_GLOB_DAT .* _ZN7CounterIiE5valueE' && expect "$1" "-d" 'libstdc\+\+' no; }
v_unique_symdep() { v_unique "$1" && expect "$1" "-d" '\(SYMBOLIC\)'; }
v_vdep_two() { expect "$1" "-W --dyn-syms" ' vfunc@VERS_1$' && expect "$1" "-W --dyn-syms" ' vfunc@@VERS_2$' \
    && expect "$1" "-V" 'Index: 2 .*Name: VERS_1' && expect "$1" "-V" 'Index: 3 .*Name: VERS_2'; }
v_vdep_one() { expect "$1" "-W --dyn-syms" ' vfunc@@VERS_2$' && expect "$1" "-W --dyn-syms" ' vfunc@VERS_1$' no; }
v_vdep_hiddenonly() { expect "$1" "-W --dyn-syms" ' vfunc@VERS_2$' && expect "$1" "-W --dyn-syms" ' vfunc@@' no; }
v_vuser() {   # the reference carries no version: no .gnu.version_r entry for the dependency
    expect "$1" "-W --dyn-syms" 'UND vfunc$' && expect "$1" "-V" 'File: libbind_vdep' no
}
v_missing_strong() { expect "$1" "-W --dyn-syms" 'GLOBAL DEFAULT +UND gone@VERS_1 '; }
v_missing_weak() { expect "$1" "-W --dyn-syms" 'WEAK +DEFAULT +UND weak_absent@VERS_1 ' \
    && expect "$1" "-W --dyn-syms" 'WEAK +DEFAULT +UND weak_absent_data$'; }
v_missing() { expect "$1" "-W --dyn-syms" ' present@@VERS_1$' && expect "$1" "-W --dyn-syms" ' (gone|weak_absent)' no; }
v_hidden_dep() { expect "$1" "-W --dyn-syms" 'FUNC +GLOBAL HIDDEN +[0-9]+ secret_value$'; }
v_hidden_user() { expect "$1" "-W --dyn-syms" 'UND secret_value$'; }
v_nodelete() { expect "$1" "-d" 'FLAGS_1\) +Flags: NODELETE' && expect "$1" "-d" 'NEEDED.*libbind_keep_dep\.so'; }
v_lone_unique() { expect "$1" "-W --dyn-syms" 'OBJECT +UNIQUE +DEFAULT +[0-9]+ lone_unique$' && expect "$1" "-rW" 'lone_unique' no \
    && expect "$1" "-W --dyn-syms" ' vanished$' no; }
v_lone_user() { expect "$1" "-rW" 'R_X86_64_GLOB_DAT .* lone_unique'; }
v_lone_user_fail() { v_lone_user "$1" && expect "$1" "-rW" 'R_X86_64_JUMP_SLO.* vanished'; }
v_keep() { expect "$1" "-d" 'NODELETE' no && expect "$1" "-d" 'NEEDED.*libbind_keep_dep\.so'; }
verify binding/libbind_plain_dep.so v_who_dep
verify binding/libbind_dtsym_dep.so v_dtsym_dep
verify binding/libbind_bsym_dep.so v_bsym_dep
verify binding/libbind_prot_dep.so v_prot_dep
for kind in plain bsym dtsym prot; do verify "binding/libbind_${kind}_root.so" v_who_root; done
verify binding/libbind_unique_a.so v_unique
verify binding/libbind_unique_b.so v_unique
verify binding/libbind_unique_symdep.so v_unique_symdep
verify binding/libbind_unique_root.so v_unique
for kind in two one hiddenonly; do
    verify "binding/libbind_vdep_$kind.so" "v_vdep_$kind"
    verify "binding/libbind_vuser_$kind.so" v_vuser
done
verify binding/libbind_missing.so v_missing
verify binding/libbind_missing_strong.so v_missing_strong
verify binding/libbind_missing_weak.so v_missing_weak
verify binding/libbind_hidden_dep.so v_hidden_dep
verify binding/libbind_hidden_user.so v_hidden_user
verify binding/libbind_nodelete.so v_nodelete
verify binding/libbind_keep.so v_keep
verify binding/libbind_lone_unique.so v_lone_unique
verify binding/libbind_lone_user.so v_lone_user
verify binding/libbind_lone_user_fail.so v_lone_user_fail
# ---- end: binding fixtures ----

# 19. A library that waits in its own code, for gdb -p (tests/Loader.Tests/Linking/DebuggerGdbTests.cs).
rule "$OUT/debug/libsleeper.so" "$SRC/debug/sleeper.c" -- cc_so libsleeper.so "$SRC/debug/sleeper.c"
v_sleeper() { expect "$1" "-sW" ' sleeper_inner$' && expect "$1" "-W --dyn-syms" ' sleeper_wait$'; }
verify debug/libsleeper.so v_sleeper

# ---- begin: TLS fixtures ----
# 18. Thread-local storage (tests/fixtures/tls/, tests/Loader.Tests/Linking/ThreadLocalStorageTests.cs): one source
#     per TLS model (global dynamic also without its 4 KiB .tbss: a smaller block), a 1 MiB initial-exec block that cannot fit static TLS, and references to the host's TLS.
T=$SRC/tls
TO=$OUT/tls
rule "$TO/libtls_gd.so" "$T/tls_models.c" -- cc_so libtls_gd.so "$T/tls_models.c" -ftls-model=global-dynamic
rule "$TO/libtls_ld.so" "$T/tls_models.c" -- cc_so libtls_ld.so "$T/tls_models.c" -ftls-model=local-dynamic
rule "$TO/libtls_gd_small.so" "$T/tls_models.c" -- cc_so libtls_gd_small.so "$T/tls_models.c" -ftls-model=global-dynamic -DSMALL
rule "$TO/libtls_ie.so" "$T/tls_models.c" -- cc_so libtls_ie.so "$T/tls_models.c" -ftls-model=initial-exec -DSMALL
rule "$TO/libtls_desc.so" "$T/tls_models.c" -- cc_so libtls_desc.so "$T/tls_models.c" -mtls-dialect=gnu2 -DSMALL -DVECTOR_CHECK
rule "$TO/libtls_desc_dynamic.so" "$T/tls_models.c" -- cc_so libtls_desc_dynamic.so "$T/tls_models.c" -mtls-dialect=gnu2 -DVECTOR_CHECK
rule "$TO/libtls_ie_huge.so" "$T/tls_models.c" -- cc_so libtls_ie_huge.so "$T/tls_models.c" -ftls-model=initial-exec -DHUGE
rule "$TO/libtls_host.so" "$T/tls_host.c" -- cc_so libtls_host.so "$T/tls_host.c" -lstdc++
v_tls_gd() { expect "$1" "-lW" '^ +TLS ' && expect "$1" "-rW" 'R_X86_64_DTPOFF64'; }
v_tls_ld() { expect "$1" "-rW" 'R_X86_64_DTPMOD64' && expect "$1" "-rW" 'R_X86_64_DTPOFF64' no; }
v_tls_ie() { expect "$1" "-rW" 'R_X86_64_TPOFF64' && expect "$1" "-rW" 'R_X86_64_DTPMOD64' no && expect "$1" "-d" 'STATIC_TLS'; }
v_tls_desc() { expect "$1" "-rW" 'R_X86_64_TLSDESC' && expect "$1" "-rW" 'R_X86_64_DTPMOD64' no; }
v_tls_host() { expect "$1" "-rW" 'R_X86_64_TPOFF64 .* errno@GLIBC_PRIVATE' && expect "$1" "-rW" 'R_X86_64_DTPMOD64 .* _ZSt15__once_callable'; }
verify tls/libtls_gd.so v_tls_gd
verify tls/libtls_ld.so v_tls_ld
verify tls/libtls_gd_small.so v_tls_gd
verify tls/libtls_ie.so v_tls_ie
verify tls/libtls_desc.so v_tls_desc
verify tls/libtls_desc_dynamic.so v_tls_desc
verify tls/libtls_ie_huge.so v_tls_ie
verify tls/libtls_host.so v_tls_host
# ---- end: TLS fixtures ----
v_cxx() { expect "$1" "-lW" 'GNU_EH_FRAME' && expect "$1" "-lW" '^ +TLS ' no && expect "$1" "-d" 'NEEDED.*libstdc\+\+\.so\.6'; }
v_cxx_catcher() { v_cxx "$1" && expect "$1" "-d" 'NEEDED.*libcxx_thrower\.so' && expect "$1" "-d" 'RUNPATH.*\[\$ORIGIN\]'; }
v_cxx_thread_local() { expect "$1" "-lW" '^ +TLS ' && expect "$1" "-rW" 'R_X86_64_JUMP_SLOT .* __cxa_thread_atexit@'; }
v_no_eh_frame_hdr() { expect "$1" "-lW" 'GNU_EH_FRAME' no && expect "$1" "-S" ' \.eh_frame '; }
verify cxx/libcxx_thrower.so v_cxx
verify cxx/libcxx_thread_local.so v_cxx_thread_local
verify cxx/libcxx_catcher.so v_cxx_catcher
verify cxx/libno_eh_frame_hdr.so v_no_eh_frame_hdr

touch "$stamp"
echo "Fixtures: $built built, $current already current."
