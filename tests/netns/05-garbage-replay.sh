#!/usr/bin/env bash
# Hostile datagrams at a live tunnel: while a pings b, udpfuzz (run in a's namespace, from
# another port) sends b garbage shaped like WireGuard messages, then replays datagrams
# captured earlier on b's link to both nodes.  Pings must keep being answered, nothing may
# move b's idea of a's endpoint, and b's drop counters must rise: drop_handshake_replay by
# exactly three times the initiations captured towards each node, with no new handshake.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

[ -x "$UDPFUZZ" ] || fail "udpfuzz not found at $UDPFUZZ (make build/tests/udpfuzz)"
node_new a
node_new b
link_veth a b

step "a (${IMPL[a]}) <-> b (${IMPL[b]}); capture of the tunnel traffic on b's link"
# b knows no endpoint and starts first; a greets b with an initiation as it comes up (a peer
# made with an endpoint is contacted at once), so the capture, started before either, holds
# only initiations that reached a running daemon: each replayed copy must be refused.
{ conf_interface a; conf_peer b endpoint=4; } >"$(conf_path a)"
{ conf_interface b; conf_peer a; } >"$(conf_path b)"
cap=$SN_TMP/tunnel.pcap
capture_start b ula "$cap" udp port "${PORT[b]}"
start_node b
start_node a
check "first ping a -> b (handshake)" wait_ping a "${OV4[b]}" 10
check "ping a -> b" ping_ok a "${OV4[b]}" 10
check "ping b -> a" ping_ok b "${OV4[a]}" 10
check "ping a -> b, IPv6 overlay" ping_ok a "${OV6[b]}" 5
sleep 1 # tcpdump reads the ring buffer behind the traffic
capture_stop
captured=$(tcpdump -n -r "$cap" 2>/dev/null | wc -l)
check_gt "datagrams captured" "$captured" 20

fuzz() { nsx a "$UDPFUZZ" "$@" 2>&1 | sed 's/^/    /'; }

pinglog=$SN_TMP/ping.log
bg_start "$pinglog" a ping -n -q -c 100 -i 0.1 -W 1 "${OV4[b]}"
ping_pid=$BG_PID
has_drop_counters b && show_counters b
drops0=$(drops_total b)

step "garbage at b's port, over the IPv4 and the IPv6 underlay"
fuzz -i 200 garbage "${UL4[b]}" "${PORT[b]}" 10000 || fail "udpfuzz garbage (IPv4)"
fuzz -i 200 garbage "${UL6[b]}" "${PORT[b]}" 3000 || fail "udpfuzz garbage (IPv6)"
check "b still running" node_alive b
if has_drop_counters b; then
	show_counters b
	drops1=$(drops_total b)
	check_gt "b: drops during garbage (13000 sent)" "$((drops1 - drops0))" 6500
	check_gt "b: drop_bad_size + drop_unknown_type" \
		"$(($(counter b drop_bad_size) + $(counter b drop_unknown_type)))" 0
	check_gt "b: drop_bad_mac1 (random initiations)" "$(counter b drop_bad_mac1)" 0
	check_gt "b: drop_unknown_index (random transport)" "$(counter b drop_unknown_index)" 0
else
	skip "drop counters (${IMPL[b]} has none)"
fi

# Initiations in the capture, by the node they went to (148 bytes of type 1: a UDP length of
# 156): each copy of one is a replay for that node, and for the other its mac1 is wrong.
inits_to() {
	tcpdump -n -r "$cap" "udp dst port ${PORT[$1]} and udp[4:2] = 156 and udp[8] = 1" 2>/dev/null | wc -l
}
inits_a=$(inits_to a) inits_b=$(inits_to b)
check_gt "initiations captured (to a: $inits_a, to b: $inits_b)" "$((inits_a + inits_b))" 0
for n in a b; do
	counters_of "$n" >/dev/null
	cp "$SN_TMP/$n.counters" "$SN_TMP/$n.counters.replay"
done
hs_a=$(peer_counter a b handshakes) hs_b=$(peer_counter b a handshakes)
# The time of the latest handshake too, through the control socket: wireguard-go's handshake
# count is only 0 or 1 (see counters_of).
latest() { nsx "$1" wg show "${IFACE[$1]}" latest-handshakes | awk -v k="${PUB[$2]}" '$1 == k { print $2 }'; }
lh_a=$(latest a b) lh_b=$(latest b a)

step "replay of the $captured captured datagrams, three times, to b and to a"
for _ in 1 2 3; do
	fuzz -i 100 replay "${UL4[b]}" "${PORT[b]}" "$cap" || fail "udpfuzz replay to b"
	fuzz -i 100 replay "${UL4[a]}" "${PORT[a]}" "$cap" || fail "udpfuzz replay to a"
done
check "a still running" node_alive a
check "b still running" node_alive b
if has_drop_counters b; then
	show_counters b
	check_gt "b: drop_replay" "$(counter b drop_replay)" 0
	check_gt "b: drops during replay" "$(($(drops_total b) - drops1))" 0
fi
# Exactly: every copy of an initiation is refused as a replay (its timestamp is not newer),
# and none completes a handshake.
for n in a b; do
	p=b want=$((3 * inits_a))
	[ "$n" = b ] && p=a want=$((3 * inits_b))
	if has_drop_counters "$n"; then
		counters_of "$n" >/dev/null
		before=$(tr ' ' '\n' <"$SN_TMP/$n.counters.replay" | sed -n 's/^drop_handshake_replay=//p' | head -n 1)
		check_eq "$n: drop_handshake_replay rose by the $want initiations replayed to it" \
			"$(($(counter "$n" drop_handshake_replay) - before))" "$want"
	else
		skip "$n: drop_handshake_replay (${IMPL[$n]} has no drop counters)"
	fi
	hs=$hs_a lh=$lh_a
	[ "$n" = b ] && hs=$hs_b lh=$lh_b
	check_eq "$n: handshakes with $p unchanged by the replays" "$(handshakes "$n" "$p")" "$hs"
	check_eq "$n: latest handshake with $p unchanged by the replays" "$(latest "$n" "$p")" "$lh"
done

wait "$ping_pid"
untrack "$ping_pid"
sed -n 's/^/  /; /packets transmitted/p' "$pinglog"
got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$pinglog")
check_gt "echo replies during the attack (of 100)" "${got:-0}" 89
# b first: a's pings would fix b's endpoint for a if a replay had moved it.
check "ping b -> a afterwards (b still sends to a's real endpoint)" ping_ok b "${OV4[a]}" 5
check "ping a -> b afterwards" ping_ok a "${OV4[b]}" 5
iperf_check "a -> b afterwards" a b "${OV4[b]}"
show_counters a
show_counters b
say "done"
