#!/usr/bin/env bash
# Builds the guest programs guests/src/*.c into WASI command modules guests/bin/*.wasm and records
# their digests in guests/SHA256SUMS (and the compiler in guests/TOOLCHAIN).
#
#   guests/build.sh           rebuild guests/bin, SHA256SUMS and TOOLCHAIN
#   guests/build.sh --check   rebuild into a temporary directory and compare with SHA256SUMS;
#                             exits 1 naming every file that differs. CI runs this to prove the
#                             shipped .wasm files are exactly what this source produces.
#
# Reproducible by construction: fixed flags, no debug info, source paths given relative to this
# directory and mapped to ".", C locale and sorted inputs. Only guests/src is read, so other
# folders under guests/ (e.g. guests/linux) are never touched.
set -euo pipefail
export LC_ALL=C TZ=UTC

usage="usage: guests/build.sh [--check]"
mode=build
case "$#:${1:-}" in
  0:) ;;
  1:--check) mode=check ;;
  1:-h | 1:--help) echo "$usage"; exit 0 ;;
  *) echo "$usage" >&2; exit 2 ;;
esac

guests_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$guests_dir"

cc=${CC:-clang}
if ! command -v "$cc" >/dev/null; then
  echo "build.sh: '$cc' not found; install clang lld wasi-libc libclang-rt-14-dev-wasm32" >&2
  exit 2
fi

common_flags=(
  --target=wasm32-wasi -O2 -std=c11 -Wall -Wextra -Werror
  -g0 "-ffile-prefix-map=$guests_dir=." "-fdebug-prefix-map=$guests_dir=." -Wl,--strip-debug
)

# The few guests that need something else say why here.
extra_flags() {
  case "$1" in
    reactor) echo "-mexec-model=reactor" ;; # a library module: _initialize, no _start
  esac
}

toolchain() { "$cc" --version | head -n 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sources=(src/*.c)
for src in "${sources[@]}"; do
  name=$(basename "$src" .c)
  # shellcheck disable=SC2046 # extra_flags is a word list on purpose
  "$cc" "${common_flags[@]}" $(extra_flags "$name") "$src" -o "$tmp/$name.wasm"
done
(cd "$tmp" && sha256sum -- *.wasm) >"$tmp/SHA256SUMS"

if [[ $mode == build ]]; then
  mkdir -p bin
  rm -f bin/*.wasm
  mv "$tmp"/*.wasm bin/
  mv "$tmp/SHA256SUMS" SHA256SUMS
  toolchain >TOOLCHAIN
  echo "build.sh: built ${#sources[@]} guests into guests/bin"
  exit 0
fi

if [[ ! -f SHA256SUMS ]]; then
  echo "build.sh: guests/SHA256SUMS is missing; run guests/build.sh first" >&2
  exit 1
fi
differ=0
while read -r expected name; do
  actual=$(awk -v name="$name" '$2 == name { print $1 }' "$tmp/SHA256SUMS")
  if [[ -z $actual ]]; then
    echo "build.sh: $name is listed in SHA256SUMS but has no source in guests/src" >&2
    differ=1
  elif [[ $actual != "$expected" ]]; then
    echo "build.sh: $name differs: SHA256SUMS has $expected, source builds $actual" >&2
    differ=1
  fi
done <SHA256SUMS
while read -r _ name; do
  if [[ -z $(awk -v name="$name" '$2 == name' SHA256SUMS) ]]; then
    echo "build.sh: $name is built from guests/src but missing from SHA256SUMS" >&2
    differ=1
  fi
done <"$tmp/SHA256SUMS"

if ((differ)); then
  echo "build.sh: guests do not reproduce. Recorded toolchain: $(cat TOOLCHAIN 2>/dev/null ||
    echo unknown); this machine: $(toolchain). Rebuild with guests/build.sh if the source changed." >&2
  exit 1
fi
echo "build.sh: all ${#sources[@]} guests reproduce guests/SHA256SUMS"
