#!/usr/bin/env bash
# Regenerate protocols/v2/sv2-ffi/sv2.h (the C header of the sv2_ffi crate) with cbindgen.
# Usage: ./build_header.sh [output path]   (default: protocols/v2/sv2-ffi/sv2.h)
set -euo pipefail
cd "$(dirname "$0")"

# The header is compared byte for byte in CI, so everyone must use the same cbindgen.
CBINDGEN_VERSION=0.29.4
if ! command -v cbindgen >/dev/null || [ "$(cbindgen --version)" != "cbindgen $CBINDGEN_VERSION" ]; then
    echo "cbindgen $CBINDGEN_VERSION is required: cargo install cbindgen --version $CBINDGEN_VERSION --locked" >&2
    exit 1
fi

out="${1:-protocols/v2/sv2-ffi/sv2.h}"
cbindgen --quiet --config protocols/v2/sv2-ffi/cbindgen.toml --crate sv2_ffi \
    --output "$out" protocols/v2/sv2-ffi
