#!/usr/bin/env bash
# Fails when the committed sv2.h is not what build_header.sh makes from the current sources,
# or when it does not compile cleanly as C99 and as C++.
set -euo pipefail
cd "$(dirname "$0")/../../.."

header=protocols/v2/sv2-ffi/sv2.h
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT

./build_header.sh "$fresh/sv2.h"
if ! diff -u "$header" "$fresh/sv2.h"; then
    echo "$header is stale: run ./build_header.sh and commit the result" >&2
    exit 1
fi

printf '#include "sv2.h"\nint main(void) { return sv2_status_text(SV2_OK) == 0; }\n' > "$fresh/c.c"
gcc -std=c99 -Wall -Wextra -Werror -pedantic -I protocols/v2/sv2-ffi -c "$fresh/c.c" -o "$fresh/c.o"
cp "$fresh/c.c" "$fresh/cpp.cpp"
g++ -std=c++11 -Wall -Wextra -Werror -pedantic -I protocols/v2/sv2-ffi -c "$fresh/cpp.cpp" -o "$fresh/cpp.o"
echo "sv2.h is up to date and compiles as C99 and C++11"
