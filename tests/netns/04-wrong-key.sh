#!/usr/bin/env bash
# a's [Peer] entry for b carries the wrong public key: no handshake may complete in either
# direction and no packet may cross.  b drops a's initiations (their mac1 is keyed with b's
# public key, which a does not know); a drops b's (b's static key is not a peer of a).
# Control: with the right key the same setup connects.
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
say "done"
