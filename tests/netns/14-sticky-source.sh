#!/usr/bin/env bash
# Sticky source address (issue 11): a node answers a peer from the address the peer wrote to,
# not from the one its routing table would pick.  On a multi-homed host behind a NAT, or
# with a firewall that tracks UDP "connections", a reply from another address is dropped.
#
#	a ---- b        b has a primary and a secondary address on its link (IPv4 and IPv6);
#	                a's config points at b's secondary one
#
# For each underlay family:
# 1. a only accepts b's UDP from the secondary address (nftables drops b's primary): the
#    handshake and the pings in both directions only work if b's handshake response, its
#    data and its keepalives leave from the secondary address; a capture on b must show no
#    datagram of b's port leaving from the primary.
# 2. The secondary address goes away on b and a stops filtering: b's first send from the
#    vanished address is refused by the kernel, b must forget that source and send from
#    the primary at once (pings b -> a resume within a few seconds; a roams to the
#    primary), and a's pings to b must work again too.
# 3. The secondary address comes back and a is pointed at it with `wg set ... endpoint`:
#    b follows what a writes to (a capture shows its replies from the secondary again).
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

node_new a
node_new b
link_veth a b
net=$LINK_NET
p4=${UL4[b]} s4="198.18.$net.102"
p6=${UL6[b]} s6="fd00:18:$net::102"

# filter_primary on|off FAM PRIMARY: on a, drop b's tunnel datagrams from PRIMARY.
filter_primary() {
	nsx a nft delete table inet sn-sticky 2>/dev/null
	[ "$1" = off ] && return 0
	local fam=ip
	[ "$2" = 6 ] && fam=ip6
	nsx a nft -f - <<-NFT || fail "nft rules on a"
		table inet sn-sticky {
			chain in {
				type filter hook input priority 0;
				$fam saddr $3 udp sport ${PORT[b]} counter drop
			}
		}
	NFT
}

# dropped_on_a: datagrams a's rule dropped so far.
dropped_on_a() {
	nsx a nft list table inet sn-sticky 2>/dev/null |
		sed -n 's/.*counter packets \([0-9]*\).*/\1/p' | head -n 1
}

# add_secondary FAM: b's secondary address.  The IPv6 one is deprecated (preferred_lft 0) so
# the kernel never picks it as a source on its own: only an explicit source uses it.  The
# IPv4 one is secondary by construction (same /24 as the primary).
add_secondary() {
	if [ "$1" = 4 ]; then
		ip -n "${NS[b]}" addr add "$s4/24" dev ula || fail "secondary $s4 on b"
	else
		ip -n "${NS[b]}" addr add "$s6/64" dev ula nodad preferred_lft 0 ||
			fail "secondary $s6 on b"
	fi
}

del_secondary() {
	if [ "$1" = 4 ]; then
		ip -n "${NS[b]}" addr del "$s4/24" dev ula
	else
		ip -n "${NS[b]}" addr del "$s6/64" dev ula
	fi
}

# sources_in CAPTURE FAM: "ADDRESS COUNT" per source address of b's datagrams (port PORT[b]).
sources_in() {
	tcpdump -n -r "$1" 2>/dev/null | awk -v port="${PORT[b]}" '
		{ for (i = 1; i <= NF; i++) if ($i == ">") { src = $(i - 1); break }
		  n = split(src, f, "."); if (f[n] != port) next
		  sub("\\." port "$", "", src); c[src]++ }
		END { for (s in c) print s, c[s] }'
}

count_from() { sources_in "$1" | awk -v s="$2" '$1 == s { print $2 }' | grep . || echo 0; }

endpoint_on_a() { nsx a wg show "${IFACE[a]}" endpoints | grep -F "${PUB[b]}" | cut -f2; }
endpoint_is() { [ "$(endpoint_on_a)" = "$1" ]; }

sticky_round() {
	local fam=$1 p s ep_s ep_p cap n
	if [ "$fam" = 4 ]; then
		p=$p4 s=$s4 ep_s="$s4:${PORT[b]}" ep_p="$p4:${PORT[b]}"
	else
		p=$p6 s=$s6 ep_s="[$s6]:${PORT[b]}" ep_p="[$p6]:${PORT[b]}"
	fi

	step "IPv$fam underlay: a (${IMPL[a]}) writes to b's secondary $s, only accepts b from it"
	add_secondary "$fam"
	filter_primary on "$fam" "$p"
	{ conf_interface a; conf_peer b; echo "Endpoint = $ep_s"; } >"$(conf_path a)"
	{ conf_interface b; conf_peer a keepalive=1; } >"$(conf_path b)"
	cap=$SN_TMP/b$fam.pcap
	capture_start b ula "$cap" udp port "${PORT[b]}"
	start_node a
	start_node b
	check "handshake and first ping a -> b (b answers from $s)" wait_ping a "${OV4[b]}" 10
	check "ping a -> b over IPv4 overlay" ping_ok a "${OV4[b]}"
	check "ping a -> b over IPv6 overlay" ping_ok a "${OV6[b]}"
	check "ping b -> a (b's own data from $s)" ping_ok b "${OV4[a]}"
	iperf_check "b -> a (IPv$fam underlay, trains from b)" a b "${OV4[b]}" -R
	sleep 1.5 # a keepalive or two from b; and tcpdump hands packets over in blocks
	capture_stop
	sources_in "$cap" | sed 's/^/    b sent from /'
	check_eq "datagrams b sent from its primary $p" "$(count_from "$cap" "$p")" 0
	check_gt "datagrams b sent from its secondary $s" "$(count_from "$cap" "$s")" 10
	check_eq "datagrams from b's primary a dropped" "$(dropped_on_a)" 0

	step "IPv$fam: b's secondary address goes away; b must fall back to its primary $p"
	filter_primary off
	del_secondary "$fam"
	check "ping b -> a within 5 s (b sends from $p)" wait_ping b "${OV4[a]}" 5
	check "a follows b to $ep_p" wait_for 3 endpoint_is "$ep_p"
	check "ping a -> b" ping_ok a "${OV4[b]}"
	check "ping a -> b over IPv6 overlay" ping_ok a "${OV6[b]}"

	step "IPv$fam: the secondary comes back and a is pointed at it (wg set endpoint)"
	add_secondary "$fam"
	filter_primary on "$fam" "$p"
	nsx a wg set "${IFACE[a]}" peer "${PUB[b]}" endpoint "$ep_s" || fail "wg set endpoint on a"
	cap=$SN_TMP/b$fam-back.pcap
	capture_start b ula "$cap" udp port "${PORT[b]}"
	check "ping a -> b within 5 s (b answers from $s again)" wait_ping a "${OV4[b]}" 5
	check "ping b -> a" ping_ok b "${OV4[a]}"
	sleep 1.5 # tcpdump hands packets over in blocks: let the last block time out
	capture_stop
	n=$(count_from "$cap" "$s")
	check_gt "datagrams b sent from $s after a wrote to it" "$n" 0
	check_eq "a's endpoint for b" "$(endpoint_on_a)" "$ep_s"

	filter_primary off
	del_secondary "$fam"
	stop_node a
	stop_node b
	ok "both exited 0 on SIGTERM"
}

# SN_STICKY_FAMILIES="6" runs one round alone.
for fam in ${SN_STICKY_FAMILIES:-4 6}; do
	sticky_round "$fam"
done
say "done"
