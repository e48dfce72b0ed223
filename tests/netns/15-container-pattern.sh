#!/usr/bin/env bash
# WireGuard's container pattern, as wireguard-go users run it: the daemon is started with the
# interface name alone (no config file: wireguard-go mode), in the "host" namespace h, where
# its UDP socket stays; the TUN is then moved into a container's namespace and configured
# there with ip(8), and the tunnel with wg(8) alone.  Twice: sealnetd against sealnetd, then
# sealnetd against wireguard-go.
#
#	h: lo with 198.18.77.1/24, 198.18.77.2/24, fd00:18:77::1/64; both daemons' sockets
#	a, b (then c, d): the TUNs, overlay 100.64.0.N/24 and fd00:64::N/64
#
# Checks: a bare daemon touches no address and no route (in either namespace), wg set works
# after the move, ping and iperf3 over IPv4 and IPv6, a bigger MTU set with ip(8) in the
# container carries bigger DF pings, endpoints and listen ports changed at run time, a more
# specific prefix on a second peer takes the traffic and gives it back when removed,
# reload has nothing to reload and says so, and deleting the TUN stops the daemon (exit 0,
# control socket gone), as `wg-quick down` expects.
. "$(dirname "$0")/lib.sh"

node_new h none
# Both daemons live in h, so their underlay is h's own loopback (this kernel has no dummy).
ip -n "${NS[h]}" addr add 198.18.77.1/24 dev lo || fail "address on h's lo"
ip -n "${NS[h]}" addr add 198.18.77.2/24 dev lo
ip -n "${NS[h]}" addr add fd00:18:77::1/64 dev lo nodad

# bare_start NODE IMPL: the daemon for NODE's interface in h, with nothing but its name.
bare_start() {
	local node=$1 impl=$2
	IMPL[$node]=$impl
	case $impl in
	sealnetd)
		[ ! -e "/etc/sealnet/${IFACE[$node]}.conf" ] || fail "/etc/sealnet/${IFACE[$node]}.conf exists"
		# Daemonized, as wg-quick starts it; its first process returns once it is up.
		nsx h "$SEALNETD" -v -p "$SN_TMP/$node.pid" -l "${LOG[$node]}" "${IFACE[$node]}" ||
			fail "node $node: sealnetd ${IFACE[$node]} (no config) failed: $(tail -n 5 "${LOG[$node]}")"
		PID[$node]=$(cat "$SN_TMP/$node.pid")
		track "${PID[$node]}"
		;;
	wggo)
		nsx h env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=verbose wireguard-go -f "${IFACE[$node]}" \
			>>"${LOG[$node]}" 2>&1 &
		PID[$node]=$!
		track "${PID[$node]}"
		;;
	esac
	wait_for 10 test -S "/var/run/wireguard/${IFACE[$node]}.sock" ||
		fail "node $node ($impl): no control socket"
}

# static_routes NS: routes a daemon could have added (ours are proto static; the kernel's
# own prefix routes are proto kernel).
static_routes() { ip -n "$1" route show proto static; ip -n "$1" -6 route show proto static; }

# df_ping NODE SIZE DEST: three pings of SIZE bytes that must not be fragmented.
df_ping() { nsx "$1" ping -n -q -c 3 -i 0.2 -W 2 -M do -s "$2" "$3" >/dev/null; }

# move_and_configure NODE PEER PEER_ENDPOINT: what the container's admin does.
move_and_configure() {
	local node=$1 peer=$2 ep=$3 dev=${IFACE[$1]}
	ip -n "${NS[h]}" link set "$dev" netns "${NS[$node]}" || fail "move $dev into ${NS[$node]}"
	nsx "$node" ip addr add "${OV4[$node]}/24" dev "$dev"
	nsx "$node" ip addr add "${OV6[$node]}/64" dev "$dev" nodad
	nsx "$node" ip link set "$dev" up
	echo "${PRIV[$node]}" >"$SN_TMP/$node.key"
	check "$node: wg set after the move" \
		wg set "$dev" private-key "$SN_TMP/$node.key" listen-port "${PORT[$node]}" \
		peer "${PUB[$peer]}" allowed-ips "100.64.0.0/24,fd00:64::/64" endpoint "$ep"
}

pair() {
	local a=$1 b=$2 impl_b=$3 newport x
	step "$a (sealnetd) and $b ($impl_b), started bare in h"
	bare_start "$a" sealnetd
	bare_start "$b" "$impl_b"
	check_eq "$a: no address on a bare interface" \
		"$(ip -n "${NS[h]}" -o addr show dev "${IFACE[$a]}" | wc -l)" 0
	check_eq "$a: MTU of a bare interface (wireguard-go's default)" \
		"$(ip -n "${NS[h]}" -o link show dev "${IFACE[$a]}" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')" 1420
	move_and_configure "$a" "$b" "198.18.77.1:${PORT[$b]}"
	move_and_configure "$b" "$a" "[fd00:18:77::1]:${PORT[$a]}"

	step "$a <-> $b through the moved TUNs"
	check "ping $a -> $b (IPv4)" wait_ping "$a" "${OV4[$b]}" 10
	check "ping $b -> $a (IPv6)" wait_ping "$b" "${OV6[$a]}" 10
	iperf_check "$a -> $b (IPv4)" "$a" "$b" "${OV4[$b]}"
	iperf_check "$b -> $a (IPv6)" "$b" "$a" "${OV6[$a]}"
	check_eq "$a: no route added anywhere (wg set never routes)" \
		"$(static_routes "${NS[$a]}"; static_routes "${NS[h]}")" ""

	step "$a, $b: MTU 4000 set with ip(8) inside the containers"
	nsx "$a" ip link set "${IFACE[$a]}" mtu 4000
	nsx "$b" ip link set "${IFACE[$b]}" mtu 4000
	check "$a -> $b: 3900-byte DF ping (IPv4)" \
		df_ping "$a" 3900 "${OV4[$b]}"
	check "$b -> $a: 3900-byte DF ping (IPv6)" \
		df_ping "$b" 3900 "${OV6[$a]}"

	step "$b moves to another port, $a to the other address"
	newport=$((PORT[$b] + 100))
	check "$b: wg set listen-port $newport" wg set "${IFACE[$b]}" listen-port "$newport"
	check_eq "$b: wg shows the new port" "$(wg show "${IFACE[$b]}" listen-port)" "$newport"
	check "$a: wg set endpoint 198.18.77.2:$newport" \
		wg set "${IFACE[$a]}" peer "${PUB[$b]}" endpoint "198.18.77.2:$newport"
	check "ping $a -> $b after the moves" wait_ping "$a" "${OV4[$b]}" 10
	check "ping $b -> $a after the moves" wait_ping "$b" "${OV4[$a]}" 10

	step "$a: a second peer takes ${OV4[$b]}/32, then gives it back"
	x=$(genkey | pubkey)
	check "$a: second peer with ${OV4[$b]}/32" \
		wg set "${IFACE[$a]}" peer "$x" allowed-ips "${OV4[$b]}/32"
	check_not "$a -> ${OV4[$b]} now goes to the second peer (no endpoint)" \
		ping_ok "$a" "${OV4[$b]}" 2
	check "$a -> ${OV6[$b]} still through $b" ping_ok "$a" "${OV6[$b]}"
	check "$a: second peer's prefix removed" wg set "${IFACE[$a]}" peer "$x" allowed-ips ""
	check "$a -> ${OV4[$b]} through $b again" wait_ping "$a" "${OV4[$b]}" 5
	check "$a: second peer removed" wg set "${IFACE[$a]}" peer "$x" remove

	step "$a: reload and SIGHUP without a config file"
	if out=$("$SEALNET" reload "${IFACE[$a]}" 2>&1); then
		fail "sealnet reload of a bare interface succeeded: $out"
	fi
	case $out in
	*"without a config file"*) ok "sealnet reload says why: $out" ;;
	*) fail "sealnet reload: no reason given: $out" ;;
	esac
	kill -s HUP "${PID[$a]}"
	sleep 0.3
	check "$a: alive after SIGHUP" kill -0 "${PID[$a]}"
	check "ping $a -> $b after SIGHUP" ping_ok "$a" "${OV4[$b]}"

	step "deleting the TUNs stops the daemons"
	for x in "$a" "$b"; do
		nsx "$x" ip link del "${IFACE[$x]}" || fail "ip link del ${IFACE[$x]}"
		wait_for 5 _exited "${PID[$x]}" || fail "$x (${IMPL[$x]}) still runs 5 s after its TUN was deleted"
		# A daemonized sealnetd is not our child: its log tells how it ended.
		if [ "${IMPL[$x]}" = sealnetd ]; then
			grep -q 'the TUN device is gone' "${LOG[$x]}" || fail "$x: no word of the TUN in its log"
			! grep -q 'error:' "${LOG[$x]}" || fail "$x: errors in its log: $(grep 'error:' "${LOG[$x]}")"
		else
			wait "${PID[$x]}" 2>/dev/null
		fi
		untrack "${PID[$x]}"
		PID[$x]=
		wait_for 2 test ! -e "/var/run/wireguard/${IFACE[$x]}.sock" ||
			fail "$x: control socket left behind"
		ok "$x (${IMPL[$x]}) exited, control socket gone"
	done
}

node_new a none
node_new b none
pair a b sealnetd
node_new c none
node_new d none
pair c d wggo
