#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# Access rules (the issue's test): node a allows only TCP port 5201 from the group "web".
# b is in "web", c is not. iperf3 from b works; ping from b is dropped; everything from c is
# dropped; a's own flows (a pings b and c) get their replies; the counters agree with what
# was sent: drop_firewall rises by exactly the packets refused, and the rule counts matches.
#
# Then through the control socket (issue 12): a set that changes the rules and asks for port
# 80, refused since a runs as nobody once set up, changes nothing, and b keeps web's access
# only (it once got the access of the group that took web's number); a Deny rule drops
# exactly what it should and counts it, and a's kernel's port unreachable to b does not let
# b's other ICMP messages past it.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

for n in a b c; do
	IMPL_n=IMPL_$n
	[ "${!IMPL_n:-${IMPL:-sealnetd}}" = sealnetd ] || { skip "rules are sealnetd's"; exit 0; }
done
command -v socat >/dev/null || fail "socat is not installed (make deps)"

node_new a
node_new b
node_new c
link_veth a b
link_veth a c

step "a: Allow = tcp/5201 from group:web; b is in web, c is not"
{
	conf_interface a
	echo "User = nobody"
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
	sed -n "s/^counters: rule ${1:-0} matches=\([0-9]*\) .*/\1/p" "$SN_TMP/a.counters"
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

SOCK=/var/run/wireguard/${IFACE[a]}.sock
# uapi REQUEST: send REQUEST (lines without the final blank line) to a's control socket.
uapi() { printf '%s\n\n' "$1" | timeout 10 socat -t 5 - "UNIX-CONNECT:$SOCK"; }

step "a refused set (new rules naming admin first, listen_port=80) changes nothing"
# get=sealnet but for the counters
settings() { uapi get=sealnet | grep -Ev '^sealnet_[a-z_]+=[0-9]+$|^[rt]x_bytes=|^last_handshake'; }
before=$(settings)
reply=$(uapi "set=1
replace_rules=true
allow=any from group:admin
allow=tcp/5201 from group:web
listen_port=80")
errno=$(sed -n 's/^errno=//p' <<<"$reply")
[ -n "$errno" ] && [ "$errno" != 0 ] || fail "the set with listen_port=80 was not refused: errno=$errno"
ok "refused: errno=$errno"
after=$(settings)
[ "$before" = "$after" ] || fail "the refused set changed the device: $(diff <(echo "$before") <(echo "$after"))"
ok "get=sealnet as before (but for counters)"
check_eq "the rules are still a's" "$(uapi get=sealnet | grep '^sealnet_rule=')" \
	"sealnet_rule=allow tcp/5201 from group:web"
d0=$(drops)
nsx b ping -n -q -c 5 -i 0.2 -W 1 "${OV4[a]}" >"$SN_TMP/ping-b2.log" 2>&1
grep -q ' 0 received' "$SN_TMP/ping-b2.log" || fail "b got admin's access: $(grep received "$SN_TMP/ping-b2.log")"
ok "b (web) still has web's access only: no echo answered"
check_eq "drop_firewall rose by b's 5 echoes" "$(($(drops) - d0))" 5
iperf_check "b -> a on tcp/5201 still passes" b a "${OV4[a]}"

step "a Deny rule: deny icmp from group:web, before allow udp/9 and tcp/5201 from group:web"
errno=$(uapi "set=1
replace_rules=true
deny=icmp from group:web
allow=udp/9 from group:web
allow=tcp/5201 from group:web" | sed -n 's/^errno=//p')
check_eq "the set is taken" "$errno" 0
m0=$(rule_matches 0)
d0=$(drops)
nsx b ping -n -q -c 5 -i 0.2 -W 1 "${OV4[a]}" >"$SN_TMP/ping-b3.log" 2>&1
grep -q ' 0 received' "$SN_TMP/ping-b3.log" || fail "b's pings passed the Deny rule"
ok "no echo from b answered"
check_eq "the Deny rule counted b's 5 echoes" "$(($(rule_matches 0) - m0))" 5
check_eq "drop_firewall rose by b's 5 echoes" "$(($(drops) - d0))" 5
# b's datagram to a's closed port 9 is allowed; a's kernel answers port unreachable, which
# must open no way in for b's other ICMP messages (timestamp requests here).
m0=$(rule_matches 0)
m1=$(rule_matches 1)
d0=$(drops)
nsx b bash -c "echo x >/dev/udp/${OV4[a]}/9" || fail "b could not send to a's port 9"
sleep 0.5
check_eq "the rule allow udp/9 admitted b's datagram" "$(($(rule_matches 1) - m1))" 1
if ! command -v python3 >/dev/null; then
	skip "no python3 to send ICMP timestamp requests with"
else
nsx b python3 - "${OV4[a]}" <<'PY' || fail "b could not send ICMP timestamp requests"
import socket, struct, sys, time
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
for seq in range(4):
    body = struct.pack("!HHIII", 0x5e11, seq, 0, 0, 0)
    msg = struct.pack("!BBH", 13, 0, 0) + body
    msg = struct.pack("!BBH", 13, 0, csum(msg)) + body
    s.sendto(msg, (sys.argv[1], 0))
    time.sleep(0.1)
PY
sleep 0.5
check_eq "the Deny rule counted b's 4 timestamp requests" "$(($(rule_matches 0) - m0))" 4
check_eq "drop_firewall rose by b's 4 timestamp requests" "$(($(drops) - d0))" 4
fi

step "stop"
stop_node a
stop_node b
stop_node c
say done
