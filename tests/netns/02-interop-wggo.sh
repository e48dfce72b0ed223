#!/usr/bin/env bash
# Interoperability: a runs sealnetd, b runs wireguard-go.  First only a knows b's endpoint,
# so a must initiate; then only b knows a's, so b initiates (with a preshared key, too).
# Ping and iperf3 in each direction both times, each at least a sanity floor relative to plain
# veth between the same namespaces (iperf_baseline in lib.sh): wireguard-go checks the TCP
# checksums sealnetd's segmentation writes, and a broken one leaves a trickle.
# The first round forces sealnetd's AEAD to libsodium, the second to BoringSSL (SEALNET_AEAD,
# sealnetd(8)), so each library meets wireguard-go's for handshakes, pings and iperf3; every
# other scenario runs the default, BoringSSL.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

node_new a
node_new b "${IMPL_B:-wggo}"
link_veth a b
step "plain veth a -> b, for the throughput floor"
iperf_baseline a b "${UL4[b]}"

# interop_round INITIATOR RESPONDER AEAD [PSK]
interop_round() {
	local initiator=$1 responder=$2 aead=$3 psk=${4:-}
	step "$initiator (${IMPL[$initiator]}) initiates to $responder (${IMPL[$responder]}), SEALNET_AEAD=$aead${psk:+, with a preshared key}"
	{ conf_interface "$initiator"; conf_peer "$responder" endpoint=4 ${psk:+psk=$psk}; } >"$(conf_path "$initiator")"
	{ conf_interface "$responder"; conf_peer "$initiator" ${psk:+psk=$psk}; } >"$(conf_path "$responder")"
	export SEALNET_AEAD=$aead
	start_node "$responder"
	start_node "$initiator"
	unset SEALNET_AEAD
	check "a: sealnetd took SEALNET_AEAD=$aead" grep -q "AEAD: $aead (" "${LOG[a]}"
	check "first ping $initiator -> $responder (handshake) within 10 s" wait_ping "$initiator" "${OV4[$responder]}" 10
	check "ping $initiator -> $responder, IPv4 overlay" ping_ok "$initiator" "${OV4[$responder]}"
	check "ping $responder -> $initiator, IPv4 overlay" ping_ok "$responder" "${OV4[$initiator]}"
	check "ping $initiator -> $responder, IPv6 overlay" ping_ok "$initiator" "${OV6[$responder]}"
	check "ping $responder -> $initiator, IPv6 overlay" ping_ok "$responder" "${OV6[$initiator]}"
	show_counters a
	check_gt "a: handshakes with b" "$(peer_counter a b handshakes)" 0
	iperf_check "a -> b" a b "${OV4[b]}"
	iperf_check "b -> a" b a "${OV4[a]}"
	stop_node "$initiator"
	stop_node "$responder"
	ok "both exited 0 on SIGTERM"
}

interop_round a b sodium
interop_round b a boringssl "$(wg genpsk)"
say "done"
