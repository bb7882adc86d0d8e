#!/usr/bin/env python3
"""Adds up every suite's results into the one closing line "N passed, N failed, N skipped".

Counts test cases, not binaries: a Catch2 binary reports its own line
"catch-summary: P passed, F failed, S skipped" (tests/unit/main.cpp); a binary that crashed
after that line, or never printed it, counts as one more failure. Other meson tests (exit 77
means skipped) count once each. Node's TAP output gives "# pass/# fail/# skipped".
Prints each failure by name so the log says where to look. Exit status 1 when anything failed.
"""
import argparse
import json
import re
import sys

CATCH = re.compile(r"^catch-summary: (\d+) passed, (\d+) failed, (\d+) skipped$", re.M)
SKIP_LINE = re.compile(r"^SKIPPED: (.*)$", re.M)


class Totals:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []
        self.skips = []

    def add(self, passed=0, failed=0, skipped=0):
        self.passed += passed
        self.failed += failed
        self.skipped += skipped


def read_meson(totals, label, path):
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        totals.add(failed=1)
        totals.failures.append(f"{label}: no meson test log at {path}")
        return
    for line in lines:
        if not line.strip():
            continue
        test = json.loads(line)
        name, result, out = test["name"], test["result"], test.get("stdout") or ""
        summary = CATCH.findall(out)
        for skip in SKIP_LINE.findall(out):
            totals.skips.append(f"{label}/{name}: {skip}")
        if summary:
            p, f, s = (int(x) for x in summary[-1])
            totals.add(p, f, s)
            if f:
                totals.failures.append(f"{label}/{name}: {f} test case(s) failed")
            if result not in ("OK", "EXPECTEDFAIL") and not f:
                totals.add(failed=1)
                totals.failures.append(f"{label}/{name}: {result} after its tests ran")
        elif result == "SKIP":
            totals.add(skipped=1)
            totals.skips.append(f"{label}/{name}: skipped (exit 77)")
        elif result in ("OK", "EXPECTEDFAIL"):
            totals.add(passed=1)
        else:
            totals.add(failed=1)
            totals.failures.append(f"{label}/{name}: {result}")


def read_tap(totals, label, path):
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return
    counts = {k: int(v) for k, v in re.findall(r"^# (pass|fail|skipped) (\d+)$", text, re.M)}
    if not counts:
        totals.add(failed=1)
        totals.failures.append(f"{label}: the test runner printed no totals (see {path})")
        return
    totals.add(counts.get("pass", 0), counts.get("fail", 0), counts.get("skipped", 0))
    for name in re.findall(r"^\s*not ok \d+ - (.*)$", text, re.M):
        totals.failures.append(f"{label}: {name}")
    for name, why in re.findall(r"^\s*ok \d+ - (.*) # SKIP ?(.*)$", text, re.M):
        totals.skips.append(f"{label}: {name}: {why}")


def read_format(totals, path):
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        text = ""
    if "format: exit 0" in text:
        totals.add(passed=1)
    else:
        totals.add(failed=1)
        totals.failures.append(f"format: clang-format finds differences (see {path})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meson", action="append", default=[], metavar="LABEL=TESTLOG.JSON")
    ap.add_argument("--tap", action="append", default=[], metavar="LABEL=FILE")
    ap.add_argument("--format")
    args = ap.parse_args()
    totals = Totals()
    for item in args.meson:
        label, path = item.split("=", 1)
        read_meson(totals, label, path)
    for item in args.tap:
        label, path = item.split("=", 1)
        read_tap(totals, label, path)
    if args.format:
        read_format(totals, args.format)
    for skip in totals.skips:
        print(f"skipped: {skip}")
    for failure in totals.failures:
        print(f"FAILED: {failure}")
    print(f"{totals.passed} passed, {totals.failed} failed, {totals.skipped} skipped")
    return 1 if totals.failed else 0


if __name__ == "__main__":
    sys.exit(main())
