#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# wg-quick with sealnetd as its userspace implementation (WG_QUICK_USERSPACE_IMPLEMENTATION):
# wg-quick starts `sealnetd IFACE` with the name alone, then does everything else itself
# (wg setconf, addresses, MTU, routes, hooks) and `ip link delete` on down.  Node a runs
# wg-quick, node b a sealnetd on its own file.
#
# Checks: up with PostUp/PreDown/PostDown hooks (%i), Table = off (no route from anyone), a
# 600-byte AllowedIPs line, MTU; ping both ways; down runs the hooks, the daemon exits and
# its socket goes; again with Table = auto, where wg-quick adds every route itself and would
# fail with "File exists" had the daemon added one first; the daemon's log reaches a file
# when the machine has no syslog.
. "$(dirname "$0")/lib.sh"

node_new a none
node_new b
link_veth a b
{ conf_interface b; conf_peer a; } >"$(conf_path b)"
start_node b

dev=${IFACE[a]}
wgq=$SN_TMP/$dev.conf
[ ! -e "/etc/sealnet/$dev.conf" ] || fail "/etc/sealnet/$dev.conf exists"
allowed="${OV4[b]}/32, ${OV6[b]}/128"
for n in $(seq 1 40); do allowed="$allowed, 100.64.1.$n/32"; done
[ "${#allowed}" -gt 500 ] || fail "the AllowedIPs line is only ${#allowed} bytes"

# write_conf TABLE-LINE: a's wg-quick file.
write_conf() {
	cat >"$wgq" <<EOF
[Interface]
PrivateKey = ${PRIV[a]}
ListenPort = ${PORT[a]}
Address = ${OV4[a]}/24, ${OV6[a]}/64
MTU = 1380
$1
PostUp = echo "postup %i" >$SN_TMP/postup
PreDown = echo "predown %i" >$SN_TMP/predown
PostDown = echo "postdown %i" >$SN_TMP/postdown

[Peer]
PublicKey = ${PUB[b]}
AllowedIPs = $allowed
Endpoint = ${UL4[b]}:${PORT[b]}
EOF
	chmod 600 "$wgq"
}

# wgq_up: wg-quick up; leaves the daemon's PID in DPID.  Output to a file: the daemon must
# not hold it open (a caller reading through a pipe would wait for ever).
wgq_up() {
	rm -f "$SN_TMP/postup" "$SN_TMP/predown" "$SN_TMP/postdown"
	timeout 20 ip netns exec "${NS[a]}" env WG_QUICK_USERSPACE_IMPLEMENTATION="$SEALNETD" \
		wg-quick up "$wgq" >"$SN_TMP/wgq-up.log" 2>&1 ||
		fail "wg-quick up: $(cat "$SN_TMP/wgq-up.log")"
	DPID=$(cat "/run/sealnet/$dev.pid" 2>/dev/null)
	[ -n "$DPID" ] && kill -0 "$DPID" || fail "no sealnetd running for $dev"
	track "$DPID"
	ok "wg-quick up (sealnetd pid $DPID)"
	out=$(timeout 5 bash -c "ip netns exec ${NS[a]} env WG_QUICK_USERSPACE_IMPLEMENTATION=$SEALNETD wg-quick up $wgq 2>&1")
	case $out in *"already exists"*) ok "a second up is refused by wg-quick" ;; *) fail "second up: $out" ;; esac
}

wgq_down() {
	timeout 20 ip netns exec "${NS[a]}" wg-quick down "$wgq" >"$SN_TMP/wgq-down.log" 2>&1 ||
		fail "wg-quick down: $(cat "$SN_TMP/wgq-down.log")"
	wait_for 5 _exited "$DPID" || fail "sealnetd $DPID still runs after wg-quick down"
	untrack "$DPID"
	check_eq "PreDown ran with %i" "$(cat "$SN_TMP/predown" 2>/dev/null)" "predown $dev"
	check_eq "PostDown ran with %i" "$(cat "$SN_TMP/postdown" 2>/dev/null)" "postdown $dev"
	check_not "interface gone" ip -n "${NS[a]}" link show "$dev" 2>/dev/null
	check "control socket gone" test ! -e "/var/run/wireguard/$dev.sock"
}

step "wg-quick up, Table = off, hooks, a ${#allowed}-byte AllowedIPs line"
write_conf "Table = off"
wgq_up
check_eq "PostUp ran with %i" "$(cat "$SN_TMP/postup" 2>/dev/null)" "postup $dev"
check_eq "all 42 allowed IPs reached the daemon" \
	"$(wg show "$dev" allowed-ips | cut -f2 | wc -w)" 42
check_eq "MTU set by wg-quick" \
	"$(ip -n "${NS[a]}" -o link show dev "$dev" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')" 1380
check_eq "Table = off: no route for 100.64.1.1" "$(ip -n "${NS[a]}" route show 100.64.1.1/32)" ""
check_eq "Table = off: no static route at all" "$(ip -n "${NS[a]}" route show proto static)" ""
check "ping a -> b (IPv4)" wait_ping a "${OV4[b]}" 10
check "ping a -> b (IPv6)" wait_ping a "${OV6[b]}" 10
check "ping b -> a" ping_ok b "${OV4[a]}"
if [ -S /dev/log ]; then
	skip "this machine has a syslog: the daemon logs there"
else
	check "no syslog: the daemon logs to /run/sealnet/$dev.log" \
		grep -q "$dev: up, UDP port .*, no config file" "/run/sealnet/$dev.log"
	rm -f "/run/sealnet/$dev.log"
fi

step "wg-quick down"
wgq_down

step "wg-quick up with Table = auto: wg-quick adds the routes, the daemon none"
write_conf ""
wgq_up
check "wg-quick's route for 100.64.1.40" \
	test -n "$(ip -n "${NS[a]}" route show 100.64.1.40/32 dev "$dev")"
check "ping a -> b" wait_ping a "${OV4[b]}" 10
wgq_down
check_eq "wg-quick's routes went with the interface" "$(ip -n "${NS[a]}" route show 100.64.1.40/32)" ""
rm -f "/run/sealnet/$dev.log"
