#!/usr/bin/env bash
# Roaming: a pings b continuously while b's underlay address, as a sees it, changes.  b sends
# a keepalive every second; a must follow b to the new address (its pings resume within a
# few seconds) and must keep doing so after every move.
#
#	a ---- r ---- b        r routes 198.18.0.0/15 (and can rewrite b's address, like a NAT)
#	        `---- b        second link, for the last move
#
# 1. NAT rebinding: r shows b as 198.18.1.50, then as 198.18.1.51, then without NAT (b's own
#    address).  Only a's endpoint following is exercised.
# 2. b's address changes on its link (ip addr del/add): b must also stop using the old source.
# 3. b moves to a second link, the first goes down.
# wireguard-go 0.0.20220316 as b cannot do 2 and 3 (its cached source address is cleared on
# EINVAL only, the kernel answers ENETUNREACH), so they are skipped for it.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

node_new a
node_new b
node_new r none
link_veth a r
link_veth r b
net_b=$LINK_NET
link_veth r b 2
net_b2=$LINK_NET
ua=${UL4[a]} ub=${UL4[b]}
ur_a=${UL4[r]}
ur_b="198.18.$net_b.${IDX[r]}"
ur_b2="198.18.$net_b2.${IDX[r]}"
nsx r sysctl -qw net.ipv4.ip_forward=1
ip -n "${NS[a]}" route add 198.18.0.0/15 via "$ur_a"
ip -n "${NS[b]}" route add 198.18.0.0/15 via "$ur_b"
# b starts on its first link only.
ip -n "${NS[b]}" -4 addr flush dev ulr2

# nat PUBLIC: r shows b's UDP port as PUBLIC on a's link (stateless rewrite both ways; r
# answers ARP for PUBLIC).  nat none: plain routing.
nat() {
	nsx r nft delete table ip sn-nat 2>/dev/null
	ip -n "${NS[r]}" -4 addr flush dev ula
	ip -n "${NS[r]}" addr add "$ur_a/24" dev ula
	[ "$1" = none ] && return 0
	ip -n "${NS[r]}" addr add "$1/32" dev ula
	nsx r nft -f - <<-NFT || fail "nft rules on r"
		table ip sn-nat {
			chain pre {
				type filter hook prerouting priority -300;
				ip daddr $1 udp dport ${PORT[b]} notrack ip daddr set $ub
				ip saddr $ub udp sport ${PORT[b]} notrack
			}
			chain post {
				type filter hook postrouting priority 100;
				ip saddr $ub udp sport ${PORT[b]} ip saddr set $1
			}
		}
	NFT
}

step "a (${IMPL[a]}) <-> b (${IMPL[b]}) through r; b sends a keepalive every second"
nat 198.18.1.50
{ conf_interface a; conf_peer b; echo "Endpoint = 198.18.1.50:${PORT[b]}"; } >"$(conf_path a)"
{ conf_interface b; conf_peer a endpoint=4 keepalive=1; } >"$(conf_path b)"
start_node a
start_node b
check "ping a -> b before roaming (b seen as 198.18.1.50)" wait_ping a "${OV4[b]}" 10

pinglog=$SN_TMP/ping.log
bg_start "$pinglog" a ping -n -D -i 0.2 -w 90 "${OV4[b]}"
ping_pid=$BG_PID
replies() { grep -c 'bytes from' "$pinglog"; }
more_replies() { [ "$(replies)" -gt "$1" ]; }
check "continuous ping a -> b is answered" wait_for 5 more_replies 2

# roam_check DESCRIPTION: after a move, a's pings must come back; prints how long it took.
roam_check() {
	local n t0 t1
	sleep 1 # let echo replies already on their way arrive
	n=$(replies)
	t0=$(date +%s.%N)
	if ! wait_for 10 more_replies "$n"; then
		tail -n 3 "$pinglog"
		fail "$1: a's pings did not resume within 10 s"
	fi
	t1=$(date +%s.%N)
	ok "$1: pings resumed $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a + 1 }') s after the move"
}

step "NAT rebinding: b is now seen as 198.18.1.51"
nat 198.18.1.51
roam_check "NAT rebinding"

step "NAT gone: b is seen as itself, $ub"
nat none
roam_check "NAT removed"
check "ping b -> a" ping_ok b "${OV4[a]}"

if [ "${IMPL[b]}" = wggo ]; then
	skip "b's own address changes: wireguard-go keeps a stale source address (see top of file)"
else
	step "b's address changes on its link: $ub -> 198.18.$net_b.4"
	ip -n "${NS[b]}" addr del "$ub/24" dev ulr
	ip -n "${NS[b]}" addr add "198.18.$net_b.4/24" dev ulr
	ip -n "${NS[b]}" route replace 198.18.0.0/15 via "$ur_b"
	check "underlay: b reaches a from 198.18.$net_b.4" ping_ok b "$ua" 1
	roam_check "new address"
	check "ping b -> a from the new address" ping_ok b "${OV4[a]}"

	step "b moves to its second link (198.18.$net_b2.0/24), the first one goes down"
	ip -n "${NS[b]}" link set ulr down
	ip -n "${NS[b]}" addr add "198.18.$net_b2.${IDX[b]}/24" dev ulr2
	ip -n "${NS[b]}" route replace 198.18.0.0/15 via "$ur_b2"
	check "underlay: b reaches a from its second link" ping_ok b "$ua" 1
	roam_check "second link"
	check "ping b -> a from the second link" ping_ok b "${OV4[a]}"
fi
check "IPv6 overlay a -> b after roaming" ping_ok a "${OV6[b]}"

stop_pid "$ping_pid" INT
sed -n 's/^/  /; /packets transmitted/p' "$pinglog"
iperf_check "a -> b after roaming" a b "${OV4[b]}"
say "done"
