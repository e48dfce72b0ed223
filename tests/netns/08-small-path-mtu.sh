#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# The underlay's MTU (1400) is below the tunnel's datagrams (MTU 1420 + 32 bytes): the kernel
# fragments single datagrams but refuses whole UDP_SEGMENT trains with EMSGSIZE. Bulk traffic
# must still flow (trains to that destination go out one datagram at a time), with no
# datagram dropped at send.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

node_new a
node_new b
link_veth a b
ip -n "${NS[a]}" link set ulb mtu 1400
ip -n "${NS[b]}" link set ula mtu 1400
{ conf_interface a; conf_peer b endpoint=4; } >"$(conf_path a)"
{ conf_interface b; conf_peer a endpoint=4; } >"$(conf_path b)"
start_node a
start_node b
check "ping over the tunnel" wait_ping a "${OV4[b]}" 10
iperf_check "a -> b over a 1400-byte underlay" a b "${OV4[b]}"
awk -v m="$IPERF_MBIT" 'BEGIN { exit !(m > 20) }' || fail "bulk traffic collapsed: $IPERF_MBIT Mbit/s"
iperf_check "b -> a over a 1400-byte underlay" b a "${OV4[a]}"
if has_drop_counters a; then
	show_counters a >/dev/null
	check_eq "a: drop_udp_send" "$(counter a drop_udp_send)" 0
fi
stop_node a
stop_node b
say done
