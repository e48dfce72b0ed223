#!/usr/bin/env bash
# Access rules (the issue's test): node a allows only TCP port 5201 from the group "web".
# b is in "web", c is not. iperf3 from b works; ping from b is dropped; everything from c is
# dropped; a's own flows (a pings b and c) get their replies; the counters agree with what
# was sent: drop_firewall rises by exactly the packets refused, and the rule counts matches.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

for n in a b c; do
	IMPL_n=IMPL_$n
	[ "${!IMPL_n:-${IMPL:-sealnetd}}" = sealnetd ] || { skip "rules are sealnetd's"; exit 0; }
done

node_new a
node_new b
node_new c
link_veth a b
link_veth a c

step "a: Allow = tcp/5201 from group:web; b is in web, c is not"
{
	conf_interface a
	echo "Allow = tcp/5201 from group:web"
	conf_peer b endpoint=4
	echo "Groups = web"
	conf_peer c endpoint=4 keepalive=1
	echo "Groups = db"
} >"$(conf_path a)"
{ conf_interface b; conf_peer a; } >"$(conf_path b)"
{ conf_interface c; conf_peer a; } >"$(conf_path c)"
start_node a
start_node b
start_node c

# a opens flows to both: the replies must come in although no rule allows ICMP.
check "a pings b (reply to a's own flow)" wait_ping a "${OV4[b]}" 10
check "a pings c (reply to a's own flow)" wait_ping a "${OV4[c]}" 10

rule_matches() {
	counters_of a >/dev/null
	sed -n 's/^counters: rule 0 matches=\([0-9]*\) .*/\1/p' "$SN_TMP/a.counters"
}
drops() {
	counters_of a >/dev/null
	counter a drop_firewall
}

step "b (web) -> a: iperf3 on 5201 passes"
m0=$(rule_matches)
iperf_check "b -> a on tcp/5201" b a "${OV4[a]}"
m1=$(rule_matches)
# A rule decides a flow's first packets; the rest ride the connection table that a's replies
# fill. iperf3 opens two connections (control and data): at least two matches.
check_gt "rule 'allow tcp/5201 from group:web' admitted b's connections" "$((m1 - m0))" 1

step "b (web) -> a: ping is dropped, one drop per echo"
d0=$(drops)
nsx b ping -n -q -c 5 -i 0.2 -W 1 "${OV4[a]}" >"$SN_TMP/ping-b.log" 2>&1
grep -q ' 0 received' "$SN_TMP/ping-b.log" || fail "b's pings were answered: $(grep received "$SN_TMP/ping-b.log")"
ok "no echo from b answered"
d1=$(drops)
check_eq "drop_firewall rose by b's 5 echoes" "$((d1 - d0))" 5

step "c (not web) -> a: ping and iperf3 are dropped"
nsx c ping -n -q -c 5 -i 0.2 -W 1 "${OV4[a]}" >"$SN_TMP/ping-c.log" 2>&1
grep -q ' 0 received' "$SN_TMP/ping-c.log" || fail "c's pings were answered"
ok "no echo from c answered"
d2=$(drops)
check_eq "drop_firewall rose by c's 5 echoes" "$((d2 - d1))" 5
m2=$(rule_matches)
if iperf c a "${OV4[a]}" 2>/dev/null; then
	fail "iperf3 from c reached a ($IPERF_MBIT Mbit/s)"
fi
ok "iperf3 from c refused"
d3=$(drops)
check_gt "drop_firewall counted c's connection attempts" "$((d3 - d2))" 0
check_eq "the rule matched nothing of c's" "$(rule_matches)" "$m2"

step "IPv6 overlay: the same rules"
nsx b ping -n -q -c 3 -i 0.2 -W 1 "${OV6[a]}" >"$SN_TMP/ping6-b.log" 2>&1
grep -q ' 0 received' "$SN_TMP/ping6-b.log" || fail "b's IPv6 pings were answered"
ok "no IPv6 echo from b answered"
check "a pings b over IPv6 (reply to a's own flow)" ping_ok a "${OV6[b]}"

step "stop"
stop_node a
stop_node b
stop_node c
say done
