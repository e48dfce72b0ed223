#!/usr/bin/env bash
# sealnet bench's report and process bookkeeping, without root and without measuring:
# tools/bench/report.sh renders the committed results files in tests/bench-report/ (a local
# run with a failed and a skipped system, and a peer run), and the table and JSON must be
# those committed beside them; tools/bench/procs.sh stops what it tracks.
# Usage: tests/bench-report.sh
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
report=$root/tools/bench/report.sh
fixtures=$root/tests/bench-report
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
bad() {
	echo "FAILED: $*"
	fail=$((fail + 1))
}

# expect_same NAME GOT_FILE WANT_FILE
expect_same() {
	if cmp -s "$2" "$3"; then ok; else bad "$1 differs from ${3#"$root"/}:" && diff -u "$3" "$2" | head -n 20; fi
}

# expect_status NAME WANT CMD...: runs CMD with stdout and stderr in $tmp/out and $tmp/err.
expect_status() {
	local name=$1 want=$2 got
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" = "$want" ]; then ok; else bad "$name: exit status $got, want $want: $(cat "$tmp/err")"; fi
}

for run in local peer; do
	expect_status "report of $run" 0 "$report" --json "$tmp/$run.json" --txt "$tmp/$run.txt" \
		"$fixtures/$run.results"
	expect_same "$run: the table on stdout" "$tmp/out" "$fixtures/$run.txt"
	expect_same "$run: --txt" "$tmp/$run.txt" "$fixtures/$run.txt"
	expect_same "$run: --json" "$tmp/$run.json" "$fixtures/$run.json"
	if python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$tmp/$run.json" 2>"$tmp/err"; then
		ok
	else
		bad "$run: --json is not JSON: $(cat "$tmp/err")"
	fi
done

# The chart, where gnuplot is installed: an SVG with one bar label per ratio.
if command -v gnuplot >/dev/null 2>&1; then
	expect_status "report --plot" 0 "$report" --plot "$tmp/local.svg" "$fixtures/local.results"
	if grep -q '<svg' "$tmp/local.svg" 2>/dev/null && grep -q '0\.22x' "$tmp/local.svg"; then
		ok
	else
		bad "report --plot: no chart of the ratios in $tmp/local.svg"
	fi
fi

# What it refuses, with a reason and exit status 1.
expect_status "no results file" 1 "$report"
expect_status "missing results file" 1 "$report" "$tmp/none"
printf 'meta\tmode\tlocal\nbogus\tx\ty\n' >"$tmp/bad.results"
expect_status "unknown record" 1 "$report" "$tmp/bad.results"
if grep -q "bad.results:2: unknown record 'bogus'" "$tmp/err"; then ok; else bad "unknown record: $(cat "$tmp/err")"; fi
grep -v $'^meta\tcpus' "$fixtures/local.results" >"$tmp/nocpus.results"
expect_status "missing meta" 1 "$report" "$tmp/nocpus.results"
if grep -q "no 'meta cpus' record" "$tmp/err"; then ok; else bad "missing meta: $(cat "$tmp/err")"; fi
expect_status "unwritable --json" 1 "$report" --json "$tmp/no/such/dir.json" "$fixtures/local.results"
expect_status "unknown option" 1 "$report" --bogus "$fixtures/local.results"

# procs.sh: a tracked process is stopped by PID, reaped with its status, and untracked; one
# that ignores SIGTERM is killed after the grace period.
if (
	. "$root/tools/bench/procs.sh"
	sleep 30 &
	procs_track $!
	sh -c 'trap "" TERM; exec sleep 30' &
	procs_track $!
	[ "${#PROCS_PIDS[@]}" = 2 ] || exit 1
	sleep 0.3 # for sh to ignore SIGTERM before it comes
	procs_stop_all 3
	[ "${#PROCS_PIDS[@]}" = 0 ] && [ "$STOP_RC" = 137 ]
);  then
	ok
else
	bad "procs.sh: tracked processes not stopped"
fi

echo "bench-report: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
