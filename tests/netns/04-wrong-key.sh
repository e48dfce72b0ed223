#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# a's [Peer] entry for b carries the wrong public key: no handshake may complete in either
# direction and no packet may cross.  b drops a's initiations (their mac1 is keyed with b's
# public key, which a does not know); a drops b's (b's static key is not a peer of a).
# Control: with the right key the same setup connects.  Then the other half of cryptokey
# routing: over that authenticated session a sends from addresses b's AllowedIPs for a do not
# hold (an extra IPv4 and IPv6 address on a's interface); b must drop every one of those
# packets before its TUN, counting each in drop_allowedips, while a's own address still works.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

node_new a
node_new b
link_veth a b
wrong=$(genkey | pubkey)

step "a (${IMPL[a]}) knows b by a wrong public key; b (${IMPL[b]}) knows a correctly"
{ conf_interface a; conf_peer b endpoint=4 pubkey="$wrong"; } >"$(conf_path a)"
{ conf_interface b; conf_peer a endpoint=4; } >"$(conf_path b)"
start_node a
start_node b

# Both sides try: a's pings make a initiate, b's make b initiate, for 6 s (a retry is due
# every 5 s).
nsx a ping -n -q -c 30 -i 0.2 -W 1 "${OV4[b]}" >"$SN_TMP/ping-a.log" 2>&1 &
pa=$!
track $pa
nsx b ping -n -q -c 30 -i 0.2 -W 1 "${OV4[a]}" >"$SN_TMP/ping-b.log" 2>&1
wait $pa
untrack $pa
grep -q ' 0 received' "$SN_TMP/ping-a.log" || fail "a's pings to b were answered: $(grep received "$SN_TMP/ping-a.log")"
ok "no echo a -> b answered ($(grep -o '[0-9]* packets transmitted' "$SN_TMP/ping-a.log"))"
grep -q ' 0 received' "$SN_TMP/ping-b.log" || fail "b's pings to a were answered: $(grep received "$SN_TMP/ping-b.log")"
ok "no echo b -> a answered"

show_counters a
show_counters b
check_eq "a: handshakes with the wrong key" "$(peer_counter a "$wrong" handshakes)" 0
check_eq "b: handshakes with a" "$(peer_counter b a handshakes)" 0
check_eq "b: rx_bytes from a" "$(peer_counter b a rx_bytes)" 0
if has_drop_counters b; then
	check_gt "b: drop_bad_mac1 (a's initiations)" "$(counter b drop_bad_mac1)" 0
else
	skip "b: drop counters (${IMPL[b]} has none)"
fi
if has_drop_counters a; then
	check_gt "a: drops (b's initiations, unknown static key)" "$(drops_total a)" 0
else
	skip "a: drop counters (${IMPL[a]} has none)"
fi

step "control: a restarted with b's right key"
stop_node a
{ conf_interface a; conf_peer b endpoint=4; } >"$(conf_path a)"
start_node a
check "ping a -> b with the right key" wait_ping a "${OV4[b]}" 10
check "ping b -> a with the right key" ping_ok b "${OV4[a]}"

N=10
spoof4=100.64.0.99 spoof6=fd00:64::99
step "a sends from $spoof4 and $spoof6, outside b's AllowedIPs for a: $N pings each"
tun_rx() { nsx "$1" cat "/sys/class/net/${IFACE[$1]}/statistics/rx_packets"; }
ip -n "${NS[a]}" addr add "$spoof4/32" dev "${IFACE[a]}" || fail "address $spoof4 on a"
ip -n "${NS[a]}" addr add "$spoof6/128" dev "${IFACE[a]}" nodad || fail "address $spoof6 on a"
sleep 0.5 # the control pings' last replies
counters_of b >/dev/null
refused0=$(counter b drop_allowedips) rxp0=$(peer_counter b a rx_packets) tun0=$(tun_rx b)
nsx a ping -n -q -c "$N" -i 0.2 -W 1 -I "$spoof4" "${OV4[b]}" >"$SN_TMP/spoof4.log" 2>&1
nsx a ping -n -q -c "$N" -i 0.2 -W 1 -I "$spoof6" "${OV6[b]}" >"$SN_TMP/spoof6.log" 2>&1
grep -q "^$N packets transmitted, 0 received" "$SN_TMP/spoof4.log" ||
	fail "pings from $spoof4: $(grep transmitted "$SN_TMP/spoof4.log")"
grep -q "^$N packets transmitted, 0 received" "$SN_TMP/spoof6.log" ||
	fail "pings from $spoof6: $(grep transmitted "$SN_TMP/spoof6.log")"
ok "none of the $((2 * N)) answered"
show_counters b
check_eq "packets written to b's TUN" "$(($(tun_rx b) - tun0))" 0
if has_drop_counters b; then
	check "b: authenticated datagrams from a rose by at least $((2 * N)) (the session carried them)" \
		test "$(($(peer_counter b a rx_packets) - rxp0))" -ge $((2 * N))
	check_eq "b: drop_allowedips rose by exactly the $((2 * N)) pings" \
		"$(($(counter b drop_allowedips) - refused0))" $((2 * N))
else
	skip "b: drop_allowedips (${IMPL[b]} has no drop counters)"
fi
check "control: ping a -> b from a's own address" ping_ok a "${OV4[b]}" 5
check_gt "control: b's TUN took them" "$(($(tun_rx b) - tun0))" 4
if has_drop_counters b; then
	counters_of b >/dev/null
	check_eq "b: drop_allowedips unchanged by them" "$(($(counter b drop_allowedips) - refused0))" $((2 * N))
fi
say "done"
