#!/usr/bin/env bash
# Garbage at line rate: while a runs iperf3 through b, m sends as fast as it can, for a few
# seconds each (bounded by udpfuzz -t):
#   1. random datagrams, WireGuard-shaped or not, truncated, and oversized up to 64 KB (IP
#      fragments to reassemble), from four addresses over IPv4 and from one over IPv6;
#   2. damaged copies of the session's own datagrams (truncated, bits flipped behind a valid
#      receiver index, extended to 64 KB, reserved bytes set), forged as coming from the
#      real peer's address and port, to both nodes: these reach the decryption.
# Both daemons must live, the drop counters rise for the expected reasons, and the session
# must be untouched: no new handshake, endpoints unmoved, pings and iperf3 afterwards.
# 05-garbage-replay sends paced garbage on a direct link; this one floods through a router
# while data flows and prints the share of iperf3 throughput kept ("figures:" lines).
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/netns/attack.sh
. "$(dirname "$0")/attack.sh"

SECS=${SN_GARBAGE_SECONDS:-4}
SN_IPERF_TIME=${SN_IPERF_TIME:-2}
attack_topology
SRCS=()
for i in 1 2 3 4; do
	ip -n "${NS[m]}" addr add "198.18.2.$((100 + i))/24" dev ulb || fail "address on m"
	SRCS+=(-B "198.18.2.$((100 + i))")
done
cap=$SN_TMP/session.pcap

step "a (${IMPL[a]}) - m - b (${IMPL[b]}); m captures a little of the session"
capture_start m ula "$cap" udp
start_node a
start_node b
check "handshake a -> b" wait_ping a "${OV4[b]}" 10
check "ping a -> b" ping_ok a "${OV4[b]}" 5
check "ping b -> a" ping_ok b "${OV4[a]}" 5
check "ping a -> b, 1400 bytes" quiet nsx a ping -n -q -c 20 -i 0.02 -s 1392 -W 2 "${OV4[b]}"
sleep 0.5
capture_stop
check_gt "datagrams captured" "$(tcpdump -n -r "$cap" 2>/dev/null | wc -l)" 30

step "baseline"
# The better of two runs: one slow run on a shared machine would make every "kept" look good.
SN_IPERF_TIME=2 iperf_check "a -> b before" a b "${OV4[b]}"
MBIT0=$IPERF_MBIT
SN_IPERF_TIME=2 iperf_check "a -> b before, again" a b "${OV4[b]}"
MBIT0=$(max "$MBIT0" "$IPERF_MBIT")
for n in a b; do
	show_counters "$n" >/dev/null
	counters_snapshot "$n" before
done
hs_a=$(peer_counter a b handshakes) hs_b=$(peer_counter b a handshakes)
lh_a=$(latest_handshake a b) lh_b=$(latest_handshake b a)
ep_b_of_a=$(peer_counter b a endpoint) ep_a_of_b=$(peer_counter a b endpoint)

# attack NAME: iperf3 a -> b while the udpfuzz commands started by the caller (FUZZ_PIDS)
# run, then waits for them; sets MBIT[NAME].
declare -A MBIT
FUZZ_PIDS=()
fuzz_bg() {
	local log=$SN_TMP/fuzz-${#FUZZ_PIDS[@]}.log
	bg_start "$log" m "$UDPFUZZ" -i 0 -t "$SECS" "$@"
	FUZZ_PIDS+=("$BG_PID")
}
attack() {
	local pid log
	sleep 0.5
	node_alive b || fail "b died under the garbage"
	if iperf a b "${OV4[b]}"; then
		ok "iperf3 a -> b during the garbage: $IPERF_MBIT Mbit/s"
	else
		IPERF_MBIT=0
		say "iperf3 a -> b during the garbage: failed"
	fi
	MBIT[$1]=$IPERF_MBIT
	for pid in "${FUZZ_PIDS[@]}"; do
		wait "$pid" || fail "udpfuzz failed"
		untrack "$pid"
	done
	FUZZ_PIDS=()
	for log in "$SN_TMP"/fuzz-*.log; do
		sed 's/^/    /' "$log"
		rm -f "$log"
	done
	check "a still running" node_alive a
	check "b still running" node_alive b
}

step "1. random, truncated and oversized datagrams, ${SECS}s at line rate"
fuzz_bg -L 65507 "${SRCS[@]}" garbage "${UL4[b]}" "${PORT[b]}" 1000000
fuzz_bg -L 65507 garbage "${UL6[b]}" "${PORT[b]}" 1000000
attack garbage
show_counters b
if has_drop_counters b; then
	for c in drop_bad_size drop_unknown_type drop_bad_mac1 drop_unknown_index; do
		check_gt "b: $c" "$(counter_delta b before "$c")" 0
	done
else
	skip "b: drop counters (${IMPL[b]} has none)"
fi

step "2. damaged copies of the session's datagrams, forged as the peers', ${SECS}s at line rate"
fuzz_bg -L 65507 -B "${UL4[a]}" -P "${PORT[a]}" mutate "${UL4[b]}" "${PORT[b]}" "$cap" 1000000
fuzz_bg -L 65507 -B "${UL4[b]}" -P "${PORT[b]}" mutate "${UL4[a]}" "${PORT[a]}" "$cap" 1000000
attack mutate
show_counters a
show_counters b
for n in a b; do
	if has_drop_counters "$n"; then
		check_gt "$n: drop_decrypt (valid index, damaged)" \
			"$(counter_delta "$n" before drop_decrypt)" 0
	else
		skip "$n: drop counters (${IMPL[$n]} has none)"
	fi
done

step "the session is untouched"
check_eq "a: handshakes with b" "$(peer_counter a b handshakes)" "$hs_a"
check_eq "b: handshakes with a" "$(peer_counter b a handshakes)" "$hs_b"
check_eq "a: latest handshake with b" "$(latest_handshake a b)" "$lh_a"
check_eq "b: latest handshake with a" "$(latest_handshake b a)" "$lh_b"
check_eq "b: a's endpoint" "$(peer_counter b a endpoint)" "$ep_b_of_a"
check_eq "a: b's endpoint" "$(peer_counter a b endpoint)" "$ep_a_of_b"
check "ping b -> a" ping_ok b "${OV4[a]}" 5
check "ping a -> b" ping_ok a "${OV4[b]}" 5
iperf_check "a -> b after" a b "${OV4[b]}"
check_gt "iperf3 during the garbage (Mbit/s x 10)" "$(awk -v m="${MBIT[garbage]}" 'BEGIN { printf "%d", m * 10 }')" 0
check_gt "iperf3 during the damaged copies (Mbit/s x 10)" "$(awk -v m="${MBIT[mutate]}" 'BEGIN { printf "%d", m * 10 }')" 0
has_drop_counters b && say "figures: b's counters moved during both attacks: $(drop_deltas b before)"
has_drop_counters a && say "figures: a's counters moved: $(drop_deltas a before)"
say "figures: iperf3 a -> b $MBIT0 Mbit/s before; during random/oversized garbage ${MBIT[garbage]} ($(kept "$MBIT0" "${MBIT[garbage]}")% kept); during damaged copies ${MBIT[mutate]} ($(kept "$MBIT0" "${MBIT[mutate]}")% kept); after $IPERF_MBIT"
say "figures: b VmRSS $(proc_field b VmRSS) kB, VmHWM $(proc_field b VmHWM) kB"
say "done"
