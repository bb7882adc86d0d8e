#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test suite; ends with one summary line
# "N passed, N failed, N skipped" over all of them. Exit status 0 only when nothing failed.
#
#   build/       release build: unit tests, the escape battery, fuzzers' regression inputs
#   build-asan/  debug build with AddressSanitizer + UBSan: the C++ tests again
#   tests/e2e/   Node.js tests with the real npm socket.io-client against build/
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
logs=$root/build/test-logs

./scripts/install-deps.sh || exit 1
./scripts/build.sh build || exit 1
./scripts/build.sh build-asan -Dbuildtype=debug -Db_sanitize=address,undefined \
  -Db_lundef=false || exit 1
rm -rf "$logs" && mkdir -p "$logs"

echo "== format check (clang-format)"
git ls-files '*.cpp' '*.hpp' '*.c' '*.h' | xargs -r clang-format --dry-run --Werror \
  >"$logs/format.txt" 2>&1
echo "format: exit $?" >>"$logs/format.txt"
tail -n 1 "$logs/format.txt"

echo "== C++ tests (release)"
meson test -C build --print-errorlogs --num-processes 2 >"$logs/meson-release.txt" 2>&1
tail -n 8 "$logs/meson-release.txt"

echo "== C++ tests (AddressSanitizer + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --suite unit --print-errorlogs --num-processes 2 \
  >"$logs/meson-asan.txt" 2>&1
tail -n 8 "$logs/meson-asan.txt"

echo "== end-to-end tests (node, socket.io-client)"
shopt -s nullglob
e2e_tests=(tests/e2e/*.test.mjs)
if ((${#e2e_tests[@]})); then
  NOSPACE_BUILD_DIR=$root/build timeout 1800 node --test --test-concurrency=1 --test-timeout=300000 --test-reporter=tap \
    "${e2e_tests[@]}" >"$logs/e2e.tap" 2>&1
  grep -E '^# (pass|fail|skipped)' "$logs/e2e.tap"
fi

echo "== fuzzers (libFuzzer in build-fuzz, ${FUZZ_SECONDS:-20} s each, tests/fuzz/run.sh)"
tests/fuzz/run.sh >"$logs/fuzz.tap" 2>"$logs/fuzz.log"
grep -E '^(not ok|# (pass|fail|skipped))' "$logs/fuzz.tap"

python3 tests/summarize.py \
  --meson release=build/meson-logs/testlog.json \
  --meson asan=build-asan/meson-logs/testlog.json \
  --tap e2e="$logs/e2e.tap" \
  --tap fuzz="$logs/fuzz.tap" \
  --format "$logs/format.txt"
