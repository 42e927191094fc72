#!/usr/bin/env bash
# Build libsv2_ffi.a with rustc alone, without cargo, then the C++ template provider of
# examples/interop-cpp against it: for build systems (firmware SDKs, a node's own build) that
# can call a compiler but not cargo.
#
#   examples/interop-cpp-no-cargo/build.sh [OUT_DIR]     (default: target/no-cargo)
#
# What it builds, in dependency order: the proc-macro stack of our derive macro (unicode-ident,
# proc-macro2, quote, syn) and hex, from crates.io sources; then our crates const_sv2,
# binary_sv2 (+ derive_codec_sv2), framing_sv2, codec_sv2, the four subprotocols' message
# crates and sv2_ffi.
#
# The library is built without its `noise` feature: noise pulls in secp256k1 and ring, whose
# build scripts compile C and assembly; doing that by hand is what cargo is for. The header is
# the same sv2.h, and the noise constructors return SV2_ERR_UNSUPPORTED; the template provider
# runs with --plain (a pool without tp_authority_public_key, on the same host).
#
# Sources of the external crates come from cargo's registry cache when it has them (any machine
# that ever built this workspace), otherwise from static.crates.io with curl. The versions are
# the ones Cargo.lock pins.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$(mkdir -p "${1:-$root/target/no-cargo}" && cd "${1:-$root/target/no-cargo}" && pwd)"
vendor="$out/vendor"
mkdir -p "$vendor"

RUSTC="${RUSTC:-rustc}"
# Our crates are optimised; the build-time-only proc-macro stack is not worth the time.
OPT="${OPT:--C opt-level=2}"

# The version of crate $1 that Cargo.lock pins, the first starting with $2 if given (the lock
# can hold several majors of one crate).
locked_version() {
    awk -v name="$1" -v major="${2:-}" '$0 == "name = \"" name "\"" {
        getline; gsub(/version = |"/, "");
        if (index($0, major) == 1) { print; exit } }' "$root/Cargo.lock"
}

# Print the source directory of crate $1 (major version prefix $2) as Cargo.lock pins it.
source_dir() {
    local name="$1" version
    version="$(locked_version "$name" "${2:-}")"
    [ -n "$version" ] || { echo "$name is not in Cargo.lock" >&2; exit 1; }
    local cached
    for cached in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$name-$version"; do
        if [ -d "$cached" ]; then echo "$cached"; return; fi
    done
    if [ ! -d "$vendor/$name-$version" ]; then
        curl -sSfL "https://static.crates.io/crates/$name/$name-$version.crate" \
            | tar -xz -C "$vendor"
    fi
    echo "$vendor/$name-$version"
}

# rustc_lib NAME EDITION SRC [rustc args...]: an rlib in $out.
rustc_lib() {
    local name="$1" edition="$2" src="$3"
    shift 3
    echo "rustc $name" >&2
    "$RUSTC" --crate-name "$name" --edition "$edition" --crate-type rlib \
        --out-dir "$out" -L "$out" "$@" "$src"
}

ext() { echo "--extern $1=$out/lib$1.rlib"; }

# The derive macro's dependencies (third-party: lints capped, default features as cargo
# would enable them; proc-macro2's build script would set wrap_proc_macro on this rustc).
rustc_lib unicode_ident 2021 "$(source_dir unicode-ident)/src/lib.rs" --cap-lints allow
rustc_lib proc_macro2 2021 "$(source_dir proc-macro2)/src/lib.rs" --cap-lints allow \
    --cfg 'feature="proc-macro"' --cfg wrap_proc_macro $(ext unicode_ident)
rustc_lib quote 2021 "$(source_dir quote)/src/lib.rs" --cap-lints allow \
    --cfg 'feature="proc-macro"' $(ext proc_macro2)
rustc_lib syn 2021 "$(source_dir syn 2.)/src/lib.rs" --cap-lints allow \
    --cfg 'feature="derive"' --cfg 'feature="parsing"' --cfg 'feature="printing"' \
    --cfg 'feature="clone-impls"' --cfg 'feature="proc-macro"' --cfg 'feature="full"' \
    $(ext proc_macro2) $(ext quote) $(ext unicode_ident)
rustc_lib hex 2018 "$(source_dir hex)/src/lib.rs" --cap-lints allow $OPT \
    --cfg 'feature="std"' --cfg 'feature="alloc"'

echo "rustc derive_codec_sv2" >&2
"$RUSTC" --crate-name derive_codec_sv2 --edition 2021 --crate-type proc-macro \
    --out-dir "$out" -L "$out" --extern proc_macro $(ext proc_macro2) $(ext quote) $(ext syn) \
    "$root/protocols/v2/binary-sv2/derive_codec/src/lib.rs"

v2="$root/protocols/v2"
rustc_lib const_sv2 2021 "$v2/const-sv2/src/lib.rs" $OPT
rustc_lib binary_sv2 2021 "$v2/binary-sv2/src/lib.rs" $OPT \
    --extern derive_codec_sv2="$out/libderive_codec_sv2.so" $(ext hex)
rustc_lib framing_sv2 2021 "$v2/framing-sv2/src/lib.rs" $OPT $(ext binary_sv2) $(ext const_sv2)
rustc_lib codec_sv2 2021 "$v2/codec-sv2/src/lib.rs" $OPT \
    $(ext binary_sv2) $(ext const_sv2) $(ext framing_sv2)
messages=""
for crate in common_messages_sv2:common-messages mining_sv2:mining \
    template_distribution_sv2:template-distribution job_declaration_sv2:job-declaration; do
    name="${crate%%:*}"
    rustc_lib "$name" 2021 "$v2/subprotocols/${crate##*:}/src/lib.rs" $OPT \
        $(ext binary_sv2) $(ext const_sv2) $(ext framing_sv2)
    messages="$messages $(ext "$name")"
done

echo "rustc sv2_ffi (staticlib)" >&2
"$RUSTC" --crate-name sv2_ffi --edition 2021 --crate-type staticlib --out-dir "$out" -L "$out" \
    $OPT -C panic=unwind $(ext binary_sv2) $(ext const_sv2) $(ext framing_sv2) $(ext codec_sv2) \
    $messages "$v2/sv2-ffi/src/lib.rs"

echo "g++ template_provider" >&2
"${CXX:-g++}" -std=c++17 -Wall -Wextra -Werror -pedantic -O1 -g -I "$v2/sv2-ffi" \
    "$root/examples/interop-cpp/template_provider.cpp" "$out/libsv2_ffi.a" \
    -lpthread -ldl -lm -lrt -lutil -lgcc_s -o "$out/template_provider"
echo "$out/template_provider"
