#!/usr/bin/env bash
# Compiles src/parquet/snappy.c to WebAssembly and writes it, base64, into src/parquet/snappy-wasm.ts
# (committed: building the tool needs no C compiler). Run after editing snappy.c, then
# `bun test tests/snappy.test.ts`, which checks the WebAssembly against snappy-js.ts byte for byte.
# Needs clang and lld 14 (Debian: apt-get install -y --no-install-recommends clang-14 lld-14).
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG=${CLANG:-clang-14}
if ! command -v "$CLANG" >/dev/null; then
  echo "Cannot compile src/parquet/snappy.c: $CLANG is missing; apt-get install clang-14 lld-14" >&2
  exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# -mbulk-memory: memcpy/memset become memory.copy/memory.fill (there is no libc to call)
"$CLANG" --target=wasm32 -O3 -nostdlib -mbulk-memory -Wl,--no-entry -Wl,--export=__heap_base \
  -Wl,--strip-all -o "$out" src/parquet/snappy.c
{
  echo "/**"
  echo " * src/parquet/snappy.c compiled to WebAssembly by scripts/snappy-wasm.sh ($("$CLANG" --version | head -1 | sed 's/ *$//'))."
  echo " * Generated: do not edit; rerun the script."
  echo " */"
  echo "/** The module's bytes, base64. */"
  echo "export const SNAPPY_WASM ="
  echo "  \"$(base64 -w0 "$out")\""
} > src/parquet/snappy-wasm.ts
echo "src/parquet/snappy-wasm.ts: $(stat -c %s "$out") bytes of WebAssembly"
