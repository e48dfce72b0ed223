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
nslist=$(mktemp "${TMPDIR:-/tmp}/sn-nslist.XXXXXX") || exit 1
trap 'rm -f "$nslist"' EXIT

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

# leftovers: namespaces a scenario recorded in $nslist that still exist.  Their processes are
# ours (started in a namespace we created) and are killed by PID before the namespace goes.
leftovers() {
	local ns pid
	while read -r ns; do
		ip netns list | awk '{ print $1 }' | grep -qxF "$ns" || continue
		echo "$ns"
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -s KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done <"$nslist"
}

pass=0
fail=0
for f in "${scenarios[@]}"; do
	name=$(basename "$f" .sh)
	: >"$nslist"
	echo "--- $name"
	start=$SECONDS
	# A scenario that needs longer says so in a "# timeout: N" line (a QEMU guest under TCG).
	limit=$(sed -n 's/^# timeout: \([0-9][0-9]*\).*/\1/p' "$f" | head -n 1)
	limit=${limit:-$timeout_s}
	[ "$limit" -lt "$timeout_s" ] && limit=$timeout_s
	SN_NSLIST=$nslist timeout -k 15 "$limit" bash "$f" 2>&1 | sed 's/^/    /'
	rc=${PIPESTATUS[0]}
	left=$(leftovers)
	why=
	[ "$rc" = 124 ] && why=" (timeout after ${limit}s)"
	[ "$rc" = 137 ] && why=" (killed after timeout)"
	if [ -n "$left" ]; then
		why="$why (left namespaces behind: ${left//$'\n'/ })"
		[ "$rc" = 0 ] && rc=1
	fi
	if [ "$rc" = 0 ]; then
		pass=$((pass + 1))
		echo "PASS $name ($((SECONDS - start))s)"
	else
		fail=$((fail + 1))
		echo "FAIL $name (exit $rc)$why"
	fi
done
echo "netns: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
