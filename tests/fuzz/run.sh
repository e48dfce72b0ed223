#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS, one after another, on a scratch copy of its corpus
# (tests/fuzz/corpus/NAME: the committed corpus never grows by itself), and sums up.
# A target fails if it crashes, leaks, trips a sanitizer or hangs on one input; the input
# is left in build-fuzz/artifacts/NAME/ and the whole log in build-fuzz/logs/NAME.log.
#
# usage: tests/fuzz/run.sh SECONDS build-fuzz/bin/TARGET...
set -u

secs=$1
shift
corpus_root=$(cd "$(dirname "$0")" && pwd)/corpus
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

pass=0 fail=0
for bin in "$@"; do
	name=$(basename "$bin")
	out=$(cd "$(dirname "$bin")/.." && pwd)
	artifacts=$out/artifacts/$name
	log=$out/logs/$name.log
	mkdir -p "$scratch/$name" "$artifacts" "$out/logs"
	if [ -d "$corpus_root/$name" ]; then
		cp -r "$corpus_root/$name/." "$scratch/$name/"
	fi
	ASAN_OPTIONS=detect_leaks=1:symbolize=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$bin" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$artifacts/" "$scratch/$name" >"$log" 2>&1
	rc=$?
	# The last status line: "#N DONE cov: C ft: F corp: ... exec/s: E rss: R".
	status=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1))
		echo "fuzz: $name: ok, ${runs:-?} runs in ${secs}s, ${eps:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}"
	else
		fail=$((fail + 1))
		echo "fuzz: $name: FAILED (exit $rc), log $log, input in $artifacts/:"
		# The report, the harness's own complaint if any, and the stack without libFuzzer.
		grep -E 'ERROR: |SUMMARY: |runtime error|^(allowedips|config|datapath|fuzz|offload|uapi): |Test unit written' \
			"$log" | head -n 10
		grep -E '^ *#[0-9]+ 0x' "$log" | grep -v -E 'fuzzer::|libc_start|in _start|in main ' |
			head -n 16
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
