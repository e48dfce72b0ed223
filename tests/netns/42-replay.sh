#!/usr/bin/env bash
# Replay: m, on the path, captures the handshake and transport datagrams of a session, then
# sends every one of them again, three ways: from its own address, from the real peer's
# address and port (forged: m routes the underlay, so nothing tells the copies apart), and
# over the IPv6 underlay.  While nothing else crosses the tunnel, not one packet may reach
# either TUN (their rx counters stay put), the drop counters must say why (drop_replay for
# transport, drop_handshake_replay for the initiation, drop_unknown_index for messages whose
# receiver is the other node or a finished handshake), and the session must be untouched:
# the same handshake count and time on both sides, endpoints unmoved, pings still answered.
# 05-garbage-replay replays to a direct link while pings run; this one counts deliveries.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/netns/attack.sh
. "$(dirname "$0")/attack.sh"

attack_topology
wire_segments a
wire_segments b
cap=$SN_TMP/session.pcap

step "a (${IMPL[a]}) - m - b (${IMPL[b]}); m captures the session from its first datagram"
# On m's link to a: each datagram once.
capture_start m ula "$cap" udp
start_node a
start_node b
check "handshake and ping a -> b" wait_ping a "${OV4[b]}" 10
check "ping a -> b (IPv6 overlay)" ping_ok a "${OV6[b]}" 10
check "ping b -> a" ping_ok b "${OV4[a]}" 10
# Larger packets too, and a burst that leaves as a train.
check "ping a -> b, 1200 bytes" quiet nsx a ping -n -q -c 10 -i 0.05 -s 1200 -W 2 "${OV4[b]}"
SN_IPERF_TIME=1 iperf_check "a -> b at 20 Mbit/s (captured too)" a b "${OV4[b]}" -b 20M
sleep 1
capture_stop
nsx m tcpdump -n -r "$cap" 2>/dev/null | awk '{ print $NF }' | sort -n | uniq -c | sort -rn |
	head -n 4 | sed 's/^/    sizes: /'
captured=$(tcpdump -n -r "$cap" 2>/dev/null | wc -l)
check_gt "datagrams captured" "$captured" 100
out=$("$UDPFUZZ" check "$cap" "${PORT[a]},${PORT[b]}" "no-marker-here" 2>"$SN_TMP/check.err")
rc=$?
say "captured: $out"
sed 's/^/    /' "$SN_TMP/check.err"
# Every datagram well-formed: transport messages padded to 16 bytes (or to the MTU), each
# handshake message of its type's size; nothing else, nothing cut or fragmented.
check_eq "malformed datagrams in the capture" "$(sed -n 's/.* malformed=\([0-9]*\).*/\1/p' <<<"$out")" 0
[ "$rc" = 0 ] || fail "udpfuzz check of the capture: exit $rc (SN_KEEP=1 keeps $cap)"
grep -q ' initiation=[1-9]' <<<"$out" || fail "no initiation captured"
grep -q ' response=[1-9]' <<<"$out" || fail "no response captured"

# Quiet: no traffic from here until the replays are judged.  Wait until neither TUN has
# received anything for 1.5 s: the last TCP segments of iperf3 may still be on their way.
quiet_tuns() {
	local last='' now i
	for i in $(seq 40); do
		now="$(tun_rx a) $(tun_rx b)"
		[ "$now" = "$last" ] && [ "$i" -gt 3 ] && return 0
		last=$now
		sleep 0.5
	done
	return 1
}
check "both TUNs quiet" quiet_tuns
for n in a b; do
	show_counters "$n"
	counters_snapshot "$n" before
done
rx_a=$(tun_rx a) rx_b=$(tun_rx b)
# A datagram that m captured but the node never took in (its socket buffer was full) is not
# a replay when it comes again: its counter is fresh, and WireGuard delivers it late, like
# any reordered packet.  So the copies may deliver at most what was lost the first time:
# captured datagrams from the peer minus those the node authenticated (sealnetd counts them).
lost_to() {
	local n=$1 p=$2 sent got
	sent=$(tcpdump -n -r "$cap" "src host ${UL4[$p]} and udp" 2>/dev/null | wc -l)
	got=$(peer_counter "$n" "$p" rx_packets)
	if [ -z "$got" ]; then
		echo unknown
	elif [ "$sent" -gt "$got" ]; then
		echo $((sent - got))
	else
		echo 0
	fi
}
lost_a=$(lost_to a b) lost_b=$(lost_to b a)
hs_a=$(peer_counter a b handshakes) hs_b=$(peer_counter b a handshakes)
lh_a=$(latest_handshake a b) lh_b=$(latest_handshake b a)
ep_b_of_a=$(peer_counter b a endpoint) ep_a_of_b=$(peer_counter a b endpoint)
say "TUN rx: a $rx_a, b $rx_b; handshakes a $hs_a b $hs_b; latest a $lh_a b $lh_b; captured but not received: a $lost_a, b $lost_b"

replay() {
	local what=$1
	shift
	nsx m "$UDPFUZZ" -i 200 "$@" 2>&1 | sed 's/^/    /'
	[ "${PIPESTATUS[0]}" = 0 ] || fail "udpfuzz replay $what"
}

step "replay of all $captured datagrams from m's own addresses, to both nodes"
replay "from m to b" replay "${UL4[b]}" "${PORT[b]}" "$cap"
replay "from m to a" replay "${UL4[a]}" "${PORT[a]}" "$cap"

step "replay from the real peer's address and port (forged by m)"
replay "as a to b" -B "${UL4[a]}" -P "${PORT[a]}" replay "${UL4[b]}" "${PORT[b]}" "$cap"
replay "as b to a" -B "${UL4[b]}" -P "${PORT[b]}" replay "${UL4[a]}" "${PORT[a]}" "$cap"

step "replay over the IPv6 underlay, as a and from m"
replay "as a to b, IPv6" -B "${UL6[a]}" -P "${PORT[a]}" replay "${UL6[b]}" "${PORT[b]}" "$cap"
replay "from m to a, IPv6" replay "${UL6[a]}" "${PORT[a]}" "$cap"
sleep 0.5

step "nothing delivered, every copy dropped for its reason, the session untouched"
check "a still running" node_alive a
check "b still running" node_alive b
for n in a b; do
	rx=${rx_a} lost=${lost_a}
	[ "$n" = b ] && rx=${rx_b} lost=${lost_b}
	got=$(($(tun_rx "$n") - rx))
	if [ "$lost" = unknown ]; then
		skip "$n: $got packets delivered by the replays; ${IMPL[$n]} does not count what it received, so what was lost the first time is unknown"
	elif [ "$lost" = 0 ]; then
		check_eq "packets delivered to $n's TUN by the replays" "$got" 0
	else
		check "packets delivered to $n's TUN by the replays: $got, at most the $lost lost the first time" \
			test "$got" -le "$lost"
	fi
done
for n in a b; do
	show_counters "$n"
	has_drop_counters "$n" && say "$n: moved: $(drop_deltas "$n" before)"
done
# Every copy must be dropped, and each for the reason that fits what it is:
#   to b: a's transport           drop_replay (b's session, counter already seen)
#         a's initiation          drop_handshake_replay (timestamp not newer)
#         b's transport, response drop_unknown_index, drop_bad_mac1 (meant for a: a's
#                                 indexes, a mac1 keyed to a's public key)
#   to a: the mirror image, and b's response finds its handshake already turned into a
#         session: drop_unknown_index.
for n in a b; do
	if ! has_drop_counters "$n"; then
		skip "$n: drop counters (${IMPL[$n]} has none)"
		continue
	fi
	accounted=0
	for c in drop_replay drop_handshake_replay drop_unknown_index drop_bad_mac1; do
		accounted=$((accounted + $(counter_delta "$n" before "$c")))
	done
	check "$n: received all $((3 * captured)) copies" \
		test "$(counter_delta "$n" before rx_datagrams)" -ge $((3 * captured))
	lost=$lost_a
	[ "$n" = b ] && lost=$lost_b
	check "$n: of them dropped as replays, unknown indexes or foreign mac1: $accounted (all but the $lost lost the first time)" \
		test "$accounted" -ge $((3 * captured - lost)) -a "$accounted" -le $((3 * captured))
	check_gt "$n: drop_replay" "$(counter_delta "$n" before drop_replay)" 0
	check_gt "$n: drop_unknown_index" "$(counter_delta "$n" before drop_unknown_index)" 0
done
if has_drop_counters b; then
	check_gt "b: drop_handshake_replay (a's initiation)" \
		"$(counter_delta b before drop_handshake_replay)" 0
fi
check_eq "a: handshakes with b" "$(peer_counter a b handshakes)" "$hs_a"
check_eq "b: handshakes with a" "$(peer_counter b a handshakes)" "$hs_b"
check_eq "a: latest handshake with b" "$(latest_handshake a b)" "$lh_a"
check_eq "b: latest handshake with a" "$(latest_handshake b a)" "$lh_b"
# A datagram lost the first time is fresh from any address, and moves the endpoint (roaming).
if [ "$lost_b" = 0 ]; then
	check_eq "b: a's endpoint" "$(peer_counter b a endpoint)" "$ep_b_of_a"
else
	skip "b: a's endpoint (now $(peer_counter b a endpoint)): $lost_b datagrams lost the first time"
fi
if [ "$lost_a" = 0 ]; then
	check_eq "a: b's endpoint" "$(peer_counter a b endpoint)" "$ep_a_of_b"
else
	skip "a: b's endpoint (now $(peer_counter a b endpoint)): $lost_a datagrams lost the first time"
fi

step "the session carries on"
# a first: where a late delivery moved b's endpoint for a, a's next datagram moves it back.
check "ping a -> b" ping_ok a "${OV4[b]}" 5
check "ping b -> a" ping_ok b "${OV4[a]}" 5
check_gt "b's TUN counts deliveries (positive control)" "$(($(tun_rx b) - rx_b))" 4
counters_of a >/dev/null
check_eq "a: no new handshake for those pings" "$(peer_counter a b handshakes)" "$hs_a"
say "done"
