#!/usr/bin/env bash
# Two sealnetd nodes: IPv4 and IPv6 overlay over an IPv4 underlay, then over an IPv6-only
# underlay (the IPv4 underlay addresses are removed, so nothing can fall back to it).
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

node_new a
node_new b
link_veth a b
step "plain veth a -> b, for the throughput floor"
iperf_baseline a b "${UL4[b]}"

pair_round() {
	local fam=$1
	step "$(printf 'IPv%s underlay: %s (a) <-> %s (b)' "$fam" "${IMPL[a]}" "${IMPL[b]}")"
	{ conf_interface a; conf_peer b endpoint="$fam"; } >"$(conf_path a)"
	{ conf_interface b; conf_peer a endpoint="$fam"; } >"$(conf_path b)"
	start_node a
	start_node b
	check "first ping a -> b (handshake) within 10 s" wait_ping a "${OV4[b]}" 10
	check "ping a -> b over IPv4 overlay" ping_ok a "${OV4[b]}"
	check "ping b -> a over IPv4 overlay" ping_ok b "${OV4[a]}"
	check "ping a -> b over IPv6 overlay" ping_ok a "${OV6[b]}"
	check "ping b -> a over IPv6 overlay" ping_ok b "${OV6[a]}"
	counters_of a
	check_gt "a: handshakes with b" "$(peer_counter a b handshakes)" 0
	check_gt "a: rx_bytes from b" "$(peer_counter a b rx_bytes)" 0
	check_gt "a: tx_bytes to b" "$(peer_counter a b tx_bytes)" 0
	iperf_check "a -> b (IPv$fam underlay)" a b "${OV4[b]}"
	iperf_check "b -> a (IPv$fam underlay, reverse)" a b "${OV4[b]}" -R
	iperf_check "a -> b over IPv6 overlay" a b "${OV6[b]}"
	udp_burst_check "a -> b (IPv$fam underlay, mixed sizes)" a b "${OV4[b]}"
	udp_burst_check "b -> a (IPv$fam underlay, 64 bytes)" b a "${OV4[a]}" 2000 64
	udp_burst_check "a -> b over IPv6 overlay" a b "${OV6[b]}"
	stop_node a
	ok "a exited 0 on SIGTERM, ${IFACE[a]} gone"
	stop_node b
	ok "b exited 0 on SIGTERM, ${IFACE[b]} gone"
}

pair_round 4
ip -n "${NS[a]}" -4 addr flush dev ulb
ip -n "${NS[b]}" -4 addr flush dev ula
pair_round 6
say "done"
