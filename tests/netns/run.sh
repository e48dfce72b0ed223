#!/usr/bin/env bash
# Runs the network-namespace scenarios tests/netns/NN-*.sh in order (or the ones named on the
# command line, by number or file name), each under a timeout, and checks that none leaves a
# namespace behind.  Ends with "netns: N passed, N failed".
#
#	SN_TIMEOUT=120   seconds per scenario
#	IMPL=wggo        run every node on wireguard-go (see lib.sh)
set -u

if [ "$(id -u)" != 0 ]; then
	echo "netns: the scenarios need root (network namespaces); run: sudo $0" >&2
	exit 1
fi
for tool in ip ping iperf3 tcpdump wg wireguard-go timeout ss; do
	command -v "$tool" >/dev/null || { echo "netns: missing '$tool' (make deps)" >&2; exit 1; }
done

dir=$(cd "$(dirname "$0")" && pwd)
timeout_s=${SN_TIMEOUT:-120}

scenarios=()
if [ $# -eq 0 ]; then
	scenarios=("$dir"/[0-9][0-9]-*.sh)
else
	for want in "$@"; do
		for f in "$dir"/[0-9][0-9]-*.sh; do
			case $(basename "$f") in "$want" | "$want"-* | "$want".sh) scenarios+=("$f") ;; esac
		done
	done
fi

# leftovers NSLIST: namespaces a scenario recorded in NSLIST that still exist.  Their
# processes are ours (started in a namespace we created) and are killed by PID before the
# namespace goes.
leftovers() {
	local ns pid
	while read -r ns; do
		ip netns list | awk '{ print $1 }' | grep -qxF "$ns" || continue
		echo "$ns"
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -s KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done <"$1"
}

# run_one FILE OUT: the scenario under its timeout, everything it says and its verdict in
# OUT, "pass" or "fail" in OUT.verdict.
run_one() {
	local f=$1 out=$2 name limit start rc left why list=$2.ns
	name=$(basename "$f" .sh)
	: >"$list"
	start=$SECONDS
	# A scenario that needs longer says so in a "# timeout: N" line (a QEMU guest under TCG).
	limit=$(sed -n 's/^# timeout: \([0-9][0-9]*\).*/\1/p' "$f" | head -n 1)
	limit=${limit:-$timeout_s}
	[ "$limit" -lt "$timeout_s" ] && limit=$timeout_s
	{
		echo "--- $name"
		SN_NSLIST=$list timeout -k 15 "$limit" bash "$f" 2>&1 | sed 's/^/    /'
		rc=${PIPESTATUS[0]}
		left=$(leftovers "$list")
		why=
		[ "$rc" = 124 ] && why=" (timeout after ${limit}s)"
		[ "$rc" = 137 ] && why=" (killed after timeout)"
		if [ -n "$left" ]; then
			why="$why (left namespaces behind: ${left//$'\n'/ })"
			[ "$rc" = 0 ] && rc=1
		fi
		if [ "$rc" = 0 ]; then
			echo "PASS $name ($((SECONDS - start))s)"
			echo pass >"$out.verdict"
		else
			echo "FAIL $name (exit $rc)$why"
			echo fail >"$out.verdict"
		fi
	} >"$out"
}

# Scenarios marked "# parallel: yes" measure nothing against the clock or the CPU: they run
# SN_PARALLEL (3) at a time, after the others, which run alone.
serial=() light=()
for f in "${scenarios[@]}"; do
	if grep -q '^# parallel: yes' "$f"; then light+=("$f"); else serial+=("$f"); fi
done
work=$(mktemp -d "${TMPDIR:-/tmp}/sn-run.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
n=0
for f in "${serial[@]}"; do
	n=$((n + 1))
	run_one "$f" "$work/$n"
	cat "$work/$n"
done
# A pool of SN_PARALLEL (3): the next starts as soon as one ends; outputs in order at the end.
width=${SN_PARALLEL:-3}
first=$((n + 1))
running=0
for f in "${light[@]}"; do
	if [ "$running" -ge "$width" ]; then
		wait -n
		running=$((running - 1))
	fi
	n=$((n + 1))
	run_one "$f" "$work/$n" &
	running=$((running + 1))
done
wait
for ((k = first; k <= n; k++)); do
	cat "$work/$k"
done
pass=$(cat "$work"/*.verdict 2>/dev/null | grep -c '^pass$')
fail=$(cat "$work"/*.verdict 2>/dev/null | grep -c '^fail$')
echo "netns: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
