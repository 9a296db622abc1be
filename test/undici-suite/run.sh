#!/usr/bin/env bash
# Runs undici's own fetch tests (its repository's test/fetch) against our faces: first as they
# are (the baseline: some need a build or a network this machine lacks), then with NQ_FACE=
# dispatcher and NQ_FACE=fetch (see preload.ts). Prints each run's tally and the tests that fail
# with our face but not without it. Not part of `npm test`: it needs undici's repository and its
# dev dependencies, and takes a few minutes.
#
#   test/undici-suite/run.sh <undici checkout>   # the tag of the installed undici, or near it
#   NQ_TESTS="test/redirect-request.js test/request.js" test/undici-suite/run.sh <checkout>
#                                                 # other files: each test's own dispatcher is
#                                                 # put under a client (NQ_FACE=under)
#
# The checkout's lib/ is replaced by the installed undici's, so the tests meet the code we ship
# against. Nothing of undici's is kept in this repository.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
checkout="$(cd "${1:?usage: run.sh <undici checkout>}" && pwd)"
node="$root/node_modules/.bin/node"
installed="$root/node_modules/undici"
echo "undici tests from $checkout, lib from the installed undici $(node -p "require('$installed/package.json').version")"
rm -rf "$checkout/lib"
cp -r "$installed/lib" "$checkout/lib"
cp "$installed/index.js" "$installed/index-fetch.js" "$checkout/"
[ -d "$checkout/node_modules" ] || (cd "$checkout" && npm install --ignore-scripts --no-audit --no-fund > /dev/null)
out="$(mktemp -d)"
cd "$checkout"
run() {
  local name=$1
  shift
  # A test that hangs under a face fails after a minute, and a file whose sockets stay open
  # exits once its tests are done, rather than stalling the run.
  # shellcheck disable=SC2086
  "$node" "$@" --test --test-concurrency=1 --test-timeout=60000 --test-force-exit --expose-gc $files > "$out/$name.tap" 2>&1 || true
  printf '%-10s %s\n' "$name" "$(grep -E '^ℹ (tests|pass|fail) ' "$out/$name.tap" | tr '\n' ' ')"
  { grep '^✖' "$out/$name.tap" || true; } | sed 's/ ([0-9.]*ms)$//' | sort -u > "$out/$name.failed"
}
files="${NQ_TESTS:-test/fetch/*.js}"
run baseline
if [ -n "${NQ_TESTS:-}" ]; then
  faces="under"
  NQ_FACE=under run under --import "$here/preload.ts"
else
  faces="dispatcher fetch"
  NQ_FACE=dispatcher run dispatcher --import "$here/preload.ts"
  NQ_FACE=fetch run fetch --import "$here/preload.ts"
fi
for face in $faces; do
  echo "--- failing with $face only:"
  comm -13 "$out/baseline.failed" "$out/$face.failed"
done
echo "(TAP output in $out)"
