#!/usr/bin/env bash
# No blackout on reload or restart (issue 14): b pings into a across 5 reloads and 2
# restarts of a's sealnetd, a's peers being its registry's (docs/cluster.md), with a real
# etcd in b's namespace on b's underlay address.
#
# A reload of a file that names no peer keeps the peers the registry added, with their
# sessions: not one ping is lost beyond the 1 s allowed. A restart loses the sessions: b
# keeps sending with its old one until a is heard from, and before the fix that was b's 15 s
# new-handshake timer. Now a peer the registry adds back with an endpoint gets an initiation
# at once, so the blackout is the time the daemon was down, plus the registry's next look at
# it (TICK_SEC, 1 s), plus one round trip: the check is the longest gap between two answers
# less the time a was down, at most 1 s beyond the registry's tick.
#
#	SN_ETCD     etcd binary (default: etcd from PATH)
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

ETCD_BIN=${SN_ETCD:-$(command -v etcd)}
[ -x "$ETCD_BIN" ] || fail "etcd not found (make deps: etcd-server)"
command -v curl >/dev/null || fail "curl is not installed (make deps)"
[ -x "$SEALNET" ] || fail "sealnet not found at $SEALNET (make)"

PREFIX=/sealnet/t25
INTERVAL=0.05 # between pings: 20 a second

node_new a
node_new b
link_veth a b
ETCD="http://${UL4[b]}:2379"
bg_start "$SN_TMP/etcd.log" b "$ETCD_BIN" --name t25 --data-dir "$SN_TMP/etcd" \
	--listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
	--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
	--initial-cluster t25=http://127.0.0.1:2380
wait_for 15 nsx b curl -sf -m 1 "$ETCD/health" || fail "etcd did not answer in 15 s"

declare -A REG
reg_start() {
	local n=$1
	ip netns exec "${NS[$n]}" "$SEALNET" registry "${IFACE[$n]}" --etcd "$ETCD" \
		--prefix "$PREFIX" --overlay "${OV4[$n]}" --pod-subnet "100.96.${IDX[$n]}.0/24" \
		--ttl 5 --cluster-cidr 100.64.0.0/10 --endpoint "${UL4[$n]}:${PORT[$n]}" \
		--state "$SN_TMP/$n.state" >>"${LOG[$n]}" 2>&1 &
	REG[$n]=$!
	track "${REG[$n]}"
}
has_peer() { wg show "${IFACE[$1]}" peers 2>/dev/null | grep -qxF "$2"; }

step "a and b, no peer in either file, each other's peer through the registry"
for n in a b; do
	conf_interface "$n" >"$(conf_path "$n")"
	start_node "$n"
	reg_start "$n"
done
check "a has b" wait_for 10 has_peer a "${PUB[b]}"
check "b has a" wait_for 10 has_peer b "${PUB[a]}"
check "ping b -> a" wait_ping b "${OV4[a]}" 10

# pinging SECONDS: b pings a every INTERVAL for SECONDS in the background, timestamped.
pinging() {
	T_START=$(date +%s.%N)
	nsx b ping -n -D -i "$INTERVAL" -W 1 -w "$1" "${OV4[a]}" >"$SN_TMP/ping.out" 2>&1 &
	PING_PID=$!
	track "$PING_PID"
}
# pinged: waits for the ping to end (in this shell: blackout runs in a subshell).
pinged() {
	wait "$PING_PID"
	untrack "$PING_PID"
	T_END=$(date +%s.%N)
}
# blackout: the longest time without an answer in the window (from its start to the first
# answer, between two, from the last to its end), in ms, and how many pings got none.
blackout() {
	awk -v start="$T_START" -v end="$T_END" '
		/bytes from/ { t = substr($1, 2, length($1) - 2) + 0
			       if (t - last > gap) gap = t - last; last = t }
		/ packets transmitted/ { lost = $1 - $4 }
		BEGIN { last = start }
		END { if (end - last > gap) gap = end - last; printf "%d %d\n", gap * 1000, lost }' \
		"$SN_TMP/ping.out"
}

step "5 reloads of a file that names no peer"
for i in 1 2 3 4 5; do
	# Every other one changes the MTU, so the reload does change something.
	if [ $((i % 2)) = 1 ]; then
		conf_interface a mtu=1400 >"$(conf_path a)"
	else
		conf_interface a >"$(conf_path a)"
	fi
	pinging 3
	sleep 1
	nsx a "$SEALNET" reload "${IFACE[a]}" >>"$SN_TMP/reload.out" 2>&1 ||
		fail "reload $i: $(tail -n 3 "$SN_TMP/reload.out")"
	pinged
	read -r gap lost < <(blackout)
	say "reload $i: longest gap ${gap} ms, $lost pings lost"
	check "reload $i: b still a's peer" has_peer a "${PUB[b]}"
	check "reload $i: no gap over 1 s (${gap} ms)" test "$gap" -le 1000
done
conf_interface a >"$(conf_path a)"

step "2 restarts of a's sealnetd (its registry re-adds b)"
for i in 1 2; do
	pinging 6
	sleep 1
	t0=$(date +%s%N)
	stop_node a
	start_node a
	down=$((($(date +%s%N) - t0) / 1000000))
	pinged
	read -r gap lost < <(blackout)
	say "restart $i: a down ${down} ms, longest gap ${gap} ms, $lost pings lost"
	check "restart $i: a has b again" has_peer a "${PUB[b]}"
	check "restart $i: gap (${gap} ms) within down time + registry tick + 1 s" \
		test "$gap" -le $((down + 1000 + 1000))
done
check "the registry saw the restarts" grep -qF "is gone from the daemon (restarted?)" "${LOG[a]}"
say "done"
