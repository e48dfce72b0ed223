#!/usr/bin/env bash
# `sealnet bench`, smoke: one round of one second for plain and sealnet must give every figure
# in the JSON (present and sane, never "fast enough"), a table and a chart, and leave no
# namespace or process behind.  Then the ways a run can end early: iperf3 missing, Ctrl-C
# (SIGINT) in the middle of a system, and with --peer, a peer that does not answer; each must
# say what went wrong and clean up.  And --peer itself, against a sealnetd pair built here.
# Not built on lib.sh: the bench builds its own namespaces (sn-bench-PID-*).
set -u -o pipefail

NAME=$(basename "$0" .sh)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SEALNET=${SEALNET:-$ROOT/build/tools/sealnet}
SEALNETD=${SEALNETD:-$ROOT/build/daemon/sealnetd}
export SEALNETD

if [ "$(id -u)" != 0 ]; then
	echo "$NAME: needs root for network namespaces: run it with sudo" >&2
	exit 1
fi
[ -x "$SEALNET" ] || { echo "$NAME: no $SEALNET (make)" >&2; exit 1; }
[ -x "$SEALNETD" ] || { echo "$NAME: no $SEALNETD (make)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sn-30.XXXXXX") || exit 1
# make asan: every sanitized process here (the tool, the bench's daemons, the pair below)
# reports into $TMP/san/r.PID, not into output nobody reads; a report fails the scenario. The
# daemons write it as nobody: the directory is open to them.
chmod 711 "$TMP" && mkdir -m 1777 "$TMP/san" || exit 1
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$TMP/san/r
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$TMP/san/r
MY_PIDS=()
MY_NS=()
START=$SECONDS

cleanup() {
	local rc=$? pid ns
	trap - EXIT INT TERM
	for pid in "${MY_PIDS[@]}"; do kill -s TERM "$pid" 2>/dev/null; done
	for pid in "${MY_PIDS[@]}"; do
		for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -s KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for ns in "${MY_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	if grep -Eq 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$TMP"/san/* 2>/dev/null; then
		echo "FAIL: $NAME: sanitizer report:" >&2
		cat "$TMP"/san/* | head -n 60 >&2
		rc=1
	fi
	if [ "$rc" != 0 ]; then
		for f in "$TMP"/*.err; do
			[ -s "$f" ] || continue
			echo "--- $f:" >&2
			tail -n 20 "$f" >&2
		done
	fi
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ok() { printf '  ok: %s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
fail() {
	printf 'FAIL: %s: %s\n' "$NAME" "$*" >&2
	exit 1
}

wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# left_behind PID: the namespaces and processes a bench run with that PID left (its
# namespaces are sn-bench-PID-*, its interfaces snb<k><a|b>PID).
left_behind() {
	ip netns list | awk '{ print $1 }' | grep "^sn-bench-$1-"
	pgrep -af "snb[0-9]+[ab]$1( |\$)"
	return 0
}

# bench OUT ARGS...: a run of `sealnet bench` in the background, so that its PID (the PID
# bench.sh runs as: the tool execs it) is known; sets BPID; returns nothing (see bench_wait).
bench() {
	local out=$1
	shift
	"$SEALNET" bench "$@" >"$TMP/$out.out" 2>"$TMP/$out.err" </dev/null &
	BPID=$!
	MY_PIDS+=("$BPID")
}

# bench_wait: waits for the last bench; sets BRC to its exit code.
bench_wait() {
	wait "$BPID"
	BRC=$?
}

# check_json FILE REF OTHER ROUNDS: every figure of REF and OTHER present, sane, and REF's
# ratios 1.  Speed is never judged: only that numbers are numbers of the right kind.
check_json() {
	if command -v python3 >/dev/null; then
		python3 - "$@" <<-'EOF'
			import json, math, sys
			path, ref, other, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
			d = json.load(open(path))
			figs = ["tcp1_mbps", "tcp4_mbps", "udp64_pps", "rtt_median_ms", "rtt_p99_ms",
			        "cpu_s_per_gb", "rss_peak_kib"]
			traffic = figs[:5]
			# Loose bounds: a unit mistake (bits for Mbit, s for ms, bytes for KiB) falls out.
			upper = {"tcp1_mbps": 1e6, "tcp4_mbps": 1e6, "udp64_pps": 1e8, "rtt_median_ms": 5000,
			         "rtt_p99_ms": 5000, "cpu_s_per_gb": 1e5, "rss_peak_kib": 16 * 1024 * 1024}
			bad = []
			def num(x):
			    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
			assert d["rounds"] == rounds and d["reference"] == ref, (d["rounds"], d["reference"])
			for name in (ref, other):
			    s = d["systems"].get(name)
			    if s is None:
			        bad.append(f"{name}: missing"); continue
			    if s["failed"] is not None:
			        bad.append(f"{name}: failed: {s['failed']}")
			    for part in ("median", "ratio", "samples"):
			        missing = [f for f in figs if f not in s[part]]
			        if missing:
			            bad.append(f"{name}: {part} lacks {missing}")
			    for f in figs:
			        m, r = s["median"].get(f), s["ratio"].get(f)
			        # The reference has no daemon of its own, except a peer's overlay side.
			        if name == ref and f not in traffic:
			            if m is not None or r is not None:
			                bad.append(f"{name}.{f}: {m}/{r}, expected null (no daemon)")
			            continue
			        if not num(m) or not 0 < m < upper[f]:
			            bad.append(f"{name}.median.{f} = {m!r}, expected a positive number < {upper[f]:g}")
			        if len(s["samples"].get(f, [])) != rounds:
			            bad.append(f"{name}.samples.{f}: {s['samples'].get(f)!r}, expected {rounds} value(s)")
			        if f not in traffic:
			            if r is not None:
			                bad.append(f"{name}.ratio.{f} = {r!r}, expected null (no reference figure)")
			        elif name == ref:
			            if r != 1:
			                bad.append(f"{name}.ratio.{f} = {r!r}, expected 1")
			        elif not num(r) or not r > 0:
			            bad.append(f"{name}.ratio.{f} = {r!r}, expected a positive number")
			    if all(num(s["median"].get(k)) for k in ("rtt_median_ms", "rtt_p99_ms")) and \
			            s["median"]["rtt_p99_ms"] < s["median"]["rtt_median_ms"]:
			        bad.append(f"{name}: RTT p99 below the median")
			for b in bad:
			    print("  bad: " + b)
			sys.exit(1 if bad else 0)
		EOF
	else
		# No python3: at least a number for every traffic figure of both systems.
		local f n
		for f in tcp1_mbps tcp4_mbps udp64_pps rtt_median_ms rtt_p99_ms; do
			n=$(grep -c "\"median\": {.*\"$f\": [0-9.]*[1-9]" "$1")
			[ "$n" -ge 2 ] || { echo "  bad: $f not a positive number for both systems"; return 1; }
		done
	fi
}

# --- 1. a prerequisite missing ---------------------------------------------------------------
step "iperf3 missing: refused at once, with the package to install"
mkdir -p "$TMP/bin"
for t in bash ip ss ping awk timeout dirname getconf; do
	p=$(command -v "$t") && ln -s "$p" "$TMP/bin/$t"
done
PATH=$TMP/bin "$SEALNET" bench -n 1 -t 1 --systems plain,sealnet >"$TMP/noiperf.out" 2>"$TMP/noiperf.err"
rc=$?
[ "$rc" != 0 ] || fail "sealnet bench without iperf3 exited 0"
grep "iperf3 is not installed (Debian package iperf3)" "$TMP/noiperf.err" >/dev/null ||
	fail "no word of iperf3: $(cat "$TMP/noiperf.err")"
ok "exit $rc: $(head -n 1 "$TMP/noiperf.err")"
PATH=$TMP/bin bash "$ROOT/tools/bench/bench.sh" -n 1 >/dev/null 2>"$TMP/noiperf2.err" &&
	fail "bench.sh without iperf3 exited 0"
grep "iperf3 is not installed" "$TMP/noiperf2.err" >/dev/null || fail "bench.sh: $(cat "$TMP/noiperf2.err")"
ok "bench.sh run by hand says the same"

# --- 2. the smoke run ----------------------------------------------------------------------
step "one round of 1 s: plain and sealnet"
plot=()
command -v gnuplot >/dev/null && plot=(--plot "$TMP/b.svg")
bench smoke -n 1 -t 1 --systems plain,sealnet --json "$TMP/b.json" "${plot[@]}"
bench_wait
[ "$BRC" = 0 ] || fail "sealnet bench exited $BRC"
ok "exit 0 after $((SECONDS - START)) s"
sed 's/^/    /' "$TMP/smoke.out"
for want in "TCP, 1 stream" "UDP 64 B" "RTT p99" "CPU (s per GB)" "peak RSS"; do
	grep -F "$want" "$TMP/smoke.out" >/dev/null || fail "the table has no row '$want'"
done
head -n 4 "$TMP/smoke.out" | grep -E '^ +plain +sealnet$' >/dev/null || fail "the table has no plain and sealnet columns"
ok "table: a row per figure, a column per system"
check_json "$TMP/b.json" plain sealnet 1 || fail "the JSON is not complete and sane ($TMP/b.json)"
ok "JSON: every figure of plain and sealnet present and sane, plain's ratios 1"
if [ "${#plot[@]}" -gt 0 ]; then
	grep '<svg' "$TMP/b.svg" >/dev/null && grep '>sealnet<' "$TMP/b.svg" >/dev/null ||
		fail "no usable SVG chart"
	ok "SVG chart with a sealnet series"
else
	echo "  skip: gnuplot not installed, no chart"
fi
left=$(left_behind "$BPID")
[ -z "$left" ] || fail "left behind: $left"
ok "no namespace or daemon left"

# --- 3. Ctrl-C in the middle ---------------------------------------------------------------
step "SIGINT while sealnet runs: everything stopped and deleted, and said so"
# Job control, so that the background run gets SIGINT as it would from a terminal (without
# it, bash starts background jobs with SIGINT ignored).
set -m
bench int -n 1 -t 2 --systems plain,sealnet
set +m
wait_for 40 pgrep -f "snb2a$BPID( |\$)" || fail "sealnetd of the bench run never started"
# The daemons the run started (sealnetd's own helper, their child, exits by itself).
daemons=$(pgrep -P "$BPID" -f "snb2[ab]$BPID( |\$)" | paste -sd ' ')
[ -n "$daemons" ] || fail "no sealnetd found among the children of the bench run"
kill -s INT "$BPID"
bench_wait
[ "$BRC" = 130 ] || fail "exit $BRC after SIGINT, expected 130"
grep "interrupted (SIGINT)" "$TMP/int.err" >/dev/null || fail "no word of the interruption"
grep "cleaned up 4 namespace(s)" "$TMP/int.err" >/dev/null || fail "no word of the cleanup"
ok "exit 130: $(grep 'cleaned up' "$TMP/int.err")"
for pid in $daemons; do
	st=$(ps -o stat= -p "$pid") && [ "${st:0:1}" != Z ] && fail "sealnetd $pid still running"
done
left=$(left_behind "$BPID")
[ -z "$left" ] || fail "left behind: $left"
ok "its daemons ($daemons) stopped, its namespaces gone"

# --- 4. --peer -----------------------------------------------------------------------------
step "--peer: a sealnetd pair in two namespaces, iperf3 -s on the peer"
A="sn-30-a-$$"
B="sn-30-b-$$"
for ns in "$A" "$B"; do
	ip netns add "$ns" || fail "ip netns add $ns"
	MY_NS+=("$ns")
	[ -n "${SN_NSLIST:-}" ] && echo "$ns" >>"$SN_NSLIST"
	ip -n "$ns" link set lo up
done
ip -n "$A" link add ul type veth peer name ul netns "$B" &&
	ip -n "$A" addr add 198.18.230.1/24 dev ul && ip -n "$B" addr add 198.18.230.2/24 dev ul &&
	ip -n "$A" link set ul up && ip -n "$B" link set ul up || fail "veth"
ka=$("$SEALNET" genkey) && kb=$("$SEALNET" genkey) || fail "genkey"
pa=$("$SEALNET" pubkey <<<"$ka") && pb=$("$SEALNET" pubkey <<<"$kb") || fail "pubkey"
conf() { # PRIV OWN PEER_PUB PEER_OV PEER_UL
	printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\nAddress = %s/24\n\n' "$1" "$2"
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = %s/32\nEndpoint = %s:51820\n' "$3" "$4" "$5"
}
(umask 077; conf "$ka" 100.64.230.1 "$pb" 100.64.230.2 198.18.230.2 >"$TMP/a.conf"
	conf "$kb" 100.64.230.2 "$pa" 100.64.230.1 198.18.230.1 >"$TMP/b.conf")
IF_A="sn30a$$"
IF_B="sn30b$$"
ip netns exec "$A" "$SEALNETD" -f -c "$TMP/a.conf" "${IF_A:0:15}" >"$TMP/sealnetd-a.err" 2>&1 &
MY_PIDS+=($!)
ip netns exec "$B" "$SEALNETD" -f -c "$TMP/b.conf" "${IF_B:0:15}" >"$TMP/sealnetd-b.err" 2>&1 &
MY_PIDS+=($!)
ip netns exec "$B" iperf3 -s -p 5201 >"$TMP/iperf3-server.err" 2>&1 &
SERVER=$!
MY_PIDS+=("$SERVER")
wait_for 15 ip netns exec "$A" ping -n -c 1 -W 1 100.64.230.2 || fail "the sealnetd pair does not ping"
ok "tunnel up"
bench_peer() { # OUT ARGS...
	local out=$1
	shift
	ip netns exec "$A" "$SEALNET" bench "$@" >"$TMP/$out.out" 2>"$TMP/$out.err" </dev/null
}
bench_peer peer --peer 198.18.230.2 -n 1 -t 1 --json "$TMP/p.json"
rc=$?
[ "$rc" = 0 ] || fail "sealnet bench --peer exited $rc"
sed 's/^/    /' "$TMP/peer.out"
grep '"overlay": "100.64.230.2"' "$TMP/p.json" >/dev/null || fail "the overlay address was not found"
ok "overlay address 100.64.230.2 found from the tunnel's peer list"
check_json "$TMP/p.json" underlay overlay 1 || fail "the --peer JSON is not complete and sane"
ok "JSON: underlay and overlay figures, overlay's CPU and RSS from the local sealnetd"

step "--peer whose iperf3 server is gone: says so, exit 1"
kill "$SERVER"
wait "$SERVER" 2>/dev/null
bench_peer nopeer --peer 198.18.230.2 -n 1 -t 1
rc=$?
[ "$rc" = 1 ] || fail "exit $rc, expected 1"
grep "Connection refused (is \`iperf3 -s' running on 198.18.230.2?)" "$TMP/nopeer.err" >/dev/null ||
	fail "no useful message: $(cat "$TMP/nopeer.err")"
ok "$(grep 'iperf3 -s' "$TMP/nopeer.err")"
bench_peer noanswer --peer 198.18.230.77 --overlay 100.64.230.77 -n 1 -t 1
rc=$?
[ "$rc" = 1 ] || fail "exit $rc for a peer that does not exist, expected 1"
grep "does not answer ping" "$TMP/noanswer.err" >/dev/null || fail "no useful message: $(cat "$TMP/noanswer.err")"
ok "$(grep 'answer' "$TMP/noanswer.err")"

echo
echo "$NAME: done in $((SECONDS - START)) s"
