#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/meson.build in build-fuzz (clang, ASan + UBSan,
# -Dfuzzing=true) and runs each for a bounded time (FUZZ_SECONDS, default 20) from its corpus
# tests/fuzz/corpus/<target>/ plus its seed directories. New interesting inputs go to a
# scratch directory (the repository corpus stays small and curated); a crash input is written
# into tests/fuzz/corpus/<target>/ so that, once committed, it is a regression test in every
# build (<target>-regression). Prints TAP on stdout (tests/summarize.py counts it), the
# fuzzers' own output on stderr. Exit status 1 when a target failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-20}

echo "TAP version 13"
if ! command -v clang++ >/dev/null; then
  echo "ok 1 - fuzzers # SKIP clang++ is not installed"
  printf '1..1\n# pass 0\n# fail 0\n# skipped 1\n'
  exit 0
fi

if [[ ! -f $build/build.ninja ]]; then
  CC=clang CXX=clang++ meson setup "$build" -Dfuzzing=true -Dbuildtype=debugoptimized \
    -Db_sanitize=address,undefined -Db_lundef=false >&2 || {
    printf 'not ok 1 - fuzzers: meson setup %s failed\n1..1\n# pass 0\n# fail 1\n' "$build"
    exit 1
  }
fi

# Every executable defined in tests/fuzz/meson.build, as "name<TAB>output path".
mapfile -t targets < <(meson introspect --targets "$build" | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["type"] == "executable" and t["defined_in"].endswith("tests/fuzz/meson.build"):
        print(t["name"] + "\t" + t["filename"][0])')
names=("${targets[@]%%$'\t'*}")
if ((${#targets[@]} == 0)) || ! ninja -C "$build" "${names[@]/#/tests/fuzz/}" >&2; then
  printf 'not ok 1 - fuzzers: building %s failed\n1..1\n# pass 0\n# fail 1\n' "$build"
  exit 1
fi

# Seed directories besides the corpus, as declared in tests/fuzz/meson.build ('seeds').
seeds_of() {
  python3 - "$1" <<'PY'
import re, sys
text = open("tests/fuzz/meson.build").read()
m = re.search(r"'%s'\s*:\s*\{[^}]*'seeds'\s*:\s*\[([^\]]*)\]" % re.escape(sys.argv[1]), text)
for seed in re.findall(r"'([^']+)'", m.group(1)) if m else []:
    print(seed)
PY
}

pass=0 fail=0 n=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for entry in "${targets[@]}"; do
  name=${entry%%$'\t'*} binary=${entry#*$'\t'}
  n=$((n + 1))
  corpus=$root/tests/fuzz/corpus/$name
  mkdir -p "$corpus" "$scratch/$name"
  mapfile -t seeds < <(seeds_of "$name")
  echo "== $name: ${seconds}s" >&2
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$corpus/" "$scratch/$name" "$corpus" "${seeds[@]/#/$root/}" \
    >"$scratch/$name.log" 2>&1
  status=$?
  tail -n 30 "$scratch/$name.log" >&2
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$scratch/$name.log" | grep -oE '[0-9]+$')
  if ((status == 0)); then
    pass=$((pass + 1))
    echo "ok $n - $name: ${runs:-?} inputs in ${seconds}s, no crash"
  else
    fail=$((fail + 1))
    found=$(grep -oE "Test unit written to [^ ]+" "$scratch/$name.log" | head -n 1)
    echo "not ok $n - $name: exit $status; ${found:-no crash input written} (keep it in $corpus)"
  fi
done
printf '1..%d\n# pass %d\n# fail %d\n' "$n" "$pass" "$fail"
((fail == 0))
