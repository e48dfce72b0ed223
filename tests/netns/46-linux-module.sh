#!/usr/bin/env bash
# timeout: 300 (run.sh: a TCG guest on a busy machine takes longer than the default 120 s)
# Interoperability with the Linux WireGuard module: node a runs sealnetd, node g is a QEMU
# guest booting Debian's own cloud kernel (fetched once into build/qemu, never installed) with
# wireguard.ko, configured by the real `wg` (tests/qemu/README.md).  The guest's virtio NIC is
# a tap device in a's namespace.  KVM when it boots a stock kernel, TCG otherwise.
#
# 1. Four handshakes, started by each side in turn (the responder is not told the other's
#    endpoint), without and with a preshared key, over the IPv4 and the IPv6 underlay; pings
#    both ways over both overlay families each time; the handshake shown on both sides.
# 2. On the last of them: full-MTU pings with DF both ways, iperf3 both ways, and the transfer
#    counters (`wg show transfer`) equal on both sides: what one sent, the other received.
# 3. SN_LONG=1 (make interop-long): the 120 s rekey, once initiated by each side, with pings
#    both ways throughout; not one may be lost.
# 4. Mismatched preshared keys, each side initiating in turn: no echo crosses, and neither
#    side may show a handshake (`wg show latest-handshakes` 0 in the guest and against
#    sealnetd, and `sealnet show`): the responder's session is never confirmed.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/qemu/guest.sh
. "$SN_ROOT/tests/qemu/guest.sh"

MTU=1420
guest_prepare
node_new a
guest_new g
link_tap a g
guest_start a g
check "underlay ping a -> guest" wait_for 10 ping_once a "${UL4[g]}"

# g_conf [endpoint=4|6|none] [psk=KEY]: the guest's wg(8) config, a as its peer.
g_conf() {
	{
		echo "[Interface]"
		echo "PrivateKey = ${PRIV[g]}"
		echo "ListenPort = ${PORT[g]}"
		conf_peer a "$@"
	} >"$SN_TMP/g.conf"
	echo "$SN_TMP/g.conf"
}

# g_ping DEST [ping args...]: three echoes from the guest, all answered.
g_ping() {
	local dest=$1
	shift
	guest_run g "ping -n -q -c 3 -i 0.2 -W 2 $* $dest" >/dev/null
}

# g_wait_ping DEST SECONDS: until one echo from the guest is answered.
g_wait_ping() {
	guest_run g "i=0; while [ \$i -lt $2 ]; do ping -n -q -c 1 -W 1 $1 >/dev/null && exit 0;
		i=\$((i + 1)); done; exit 1" $(($2 * 2 + 10))
}

# a_ping DEST [ping args...]: three echoes from a, all answered.
a_ping() {
	local dest=$1
	shift
	nsx a ping -n -q -c 3 -i 0.2 -W 2 "$@" "$dest" >/dev/null 2>&1
}

# Field 2 (and 3) of the line about PEER in `wg show IFACE WHAT`, from the guest (g) or
# against sealnetd (a).
wg_field() {
	local side=$1 what=$2 peer=$3
	case $side in
	g) guest_run g "wg show wg0 $what" ;;
	a) nsx a wg show "${IFACE[a]}" "$what" ;;
	esac | awk -F'\t' -v k="${PUB[$peer]}" '$1 == k { $1 = ""; sub(/^ /, ""); print; f = 1 }
		END { exit !f }'
}

# sealnet show --json's latest_handshake for PEER on a.
sealnet_latest() {
	nsx a "$SEALNET" show "${IFACE[a]}" --json |
		jq -e -r --arg k "${PUB[$1]}" '.. | objects | select(.public_key? == $k) | .latest_handshake'
}

# handshake_round INITIATOR FAMILY [PSK]: sealnetd on a and a fresh wg0 in the guest; only
# INITIATOR knows the other's endpoint (over the IPv<FAMILY> underlay).  Leaves both up.
handshake_round() {
	local init=$1 fam=$2 psk=${3:-} aep=none gep=none t
	step "$([ "$init" = a ] && echo "sealnetd (a) initiates to the module (g)" ||
		echo "the module (g) initiates to sealnetd (a)"), IPv$fam underlay, $([ -n "$psk" ] && echo with || echo without) a preshared key"
	if [ "$init" = a ]; then aep=$fam; else gep=$fam; fi
	{ conf_interface a mtu="$MTU"; conf_peer g endpoint="$aep" ${psk:+psk=$psk}; } >"$(conf_path a)"
	start_node a
	GUEST_MTU=$MTU guest_wg_up g "$(g_conf endpoint="$gep" ${psk:+psk=$psk})"
	if [ "$init" = a ]; then
		check "first ping a -> g (handshake) within 15 s" wait_ping a "${OV4[g]}" 15
	else
		check "first ping g -> a (handshake) within 15 s" g_wait_ping "${OV4[a]}" 15
	fi
	check "ping a -> g, IPv4 overlay" a_ping "${OV4[g]}"
	check "ping g -> a, IPv4 overlay" g_ping "${OV4[a]}"
	check "ping a -> g, IPv6 overlay" a_ping "${OV6[g]}"
	check "ping g -> a, IPv6 overlay" g_ping "${OV6[a]}"
	t=$(wg_field g latest-handshakes a)
	check_gt "guest: latest handshake with a" "${t:-0}" 0
	t=$(wg_field a latest-handshakes g)
	check_gt "sealnetd (wg show): latest handshake with g" "${t:-0}" 0
	t=$(wg_field g endpoints a)
	if [ "$fam" = 4 ]; then
		check_eq "guest: a's endpoint" "$t" "${UL4[a]}:${PORT[a]}"
	else
		check_eq "guest: a's endpoint" "$t" "[${UL6[a]}]:${PORT[a]}"
	fi
}

# transfer_check WHEN MIN [STRICT]: `wg show transfer` on both sides, until what each sent is
# what the other received (a keepalive may be in flight for a moment); 5 s at most.  Each
# side must have sent more than MIN bytes.  Both
# count a datagram's whole WireGuard message, so the figures agree to the byte unless the
# underlay lost one: STRICT=0 (after iperf3 retransmitted) only wants no side to have
# received more than the other sent.
transfer_check() {
	local when=$1 min=$2 strict=${3:-1} gx ax g_rx g_tx a_rx a_tx
	for _ in $(seq 10); do
		gx=$(wg_field g transfer a) || fail "guest: no transfer line for a"
		ax=$(wg_field a transfer g) || fail "sealnetd: no transfer line for g"
		read -r g_rx g_tx <<<"$gx"
		read -r a_rx a_tx <<<"$ax"
		[ "$g_rx" = "$a_tx" ] && [ "$g_tx" = "$a_rx" ] && break
		sleep 0.5
	done
	say "figures: transfer $when: sealnetd rx $a_rx tx $a_tx, module rx $g_rx tx $g_tx (bytes)"
	check_gt "$when: bytes a -> g" "$a_tx" "$min"
	check_gt "$when: bytes g -> a" "$g_tx" "$min"
	if [ "$strict" = 1 ]; then
		check_eq "$when: the module received what sealnetd sent" "$g_rx" "$a_tx"
		check_eq "$when: sealnetd received what the module sent" "$a_rx" "$g_tx"
	else
		skip "$when: equal byte counts (iperf3 retransmitted: the underlay lost datagrams)"
		[ "$g_rx" -le "$a_tx" ] || fail "$when: the module received $g_rx bytes, sealnetd sent $a_tx"
		[ "$a_rx" -le "$g_tx" ] || fail "$when: sealnetd received $a_rx bytes, the module sent $g_tx"
		ok "$when: no side received more than the other sent"
	fi
}

handshake_round a 4
stop_node a
handshake_round g 6
stop_node a
handshake_round a 6 "$(wg genpsk)"
stop_node a
handshake_round g 4 "$(wg genpsk)"

step "full MTU ($MTU) with DF, iperf3 both ways, transfer counters"
check "ping a -> g, $MTU bytes IPv4, DF" a_ping "${OV4[g]}" -M "do" -s $((MTU - 28))
check "ping g -> a, $MTU bytes IPv4, DF" g_ping "${OV4[a]}" -M "do" -s $((MTU - 28))
check "ping a -> g, $MTU bytes IPv6" a_ping "${OV6[g]}" -M "do" -s $((MTU - 48))
check "ping g -> a, $MTU bytes IPv6" g_ping "${OV6[a]}" -M "do" -s $((MTU - 48))
check_not "ping a -> g, $((MTU + 1)) bytes IPv4, DF (over the MTU)" \
	a_ping "${OV4[g]}" -M "do" -s $((MTU - 27))
rtt=$(nsx a ping -n -q -c 5 -i 0.2 -W 2 "${OV4[g]}" | sed -n 's|^rtt [^=]*= \([^ ]*\) ms|\1|p')
say "figures: ping a -> g rtt min/avg/max/mdev $rtt ms"
transfer_check "after the pings" 10000
check "iperf3 server in the guest" guest_run g "iperf3 -s -D -p 5201 --logfile /tmp/iperf3.log"
check "iperf3 server listening" guest_run g \
	"i=0; while [ \$i -lt 50 ]; do netstat -ltn | grep -q ':5201 ' && exit 0; sleep 0.1; i=\$((i + 1)); done; exit 1"
retr_all=0
for dir in "a -> g" "g -> a"; do
	json=$SN_TMP/iperf-${dir// /}.json
	reverse=()
	[ "$dir" = "g -> a" ] && reverse=(-R)
	if ! nsx a timeout --foreground $((SN_IPERF_TIME + 20)) iperf3 -c "${OV4[g]}" -p 5201 \
		-t "$SN_IPERF_TIME" --connect-timeout 5000 -J "${reverse[@]}" >"$json" 2>&1; then
		sed -n 's/.*"error":[[:space:]]*"\(.*\)".*/  iperf3: \1/p' "$json" >&2
		fail "iperf3 $dir"
	fi
	mbit=$(jq -r '.end.sum_received.bits_per_second / 1e6 | . * 10 | floor / 10' "$json")
	retr=$(jq -r '.end.sum_sent.retransmits // 0' "$json")
	retr_all=$((retr_all + retr))
	awk -v m="$mbit" 'BEGIN { exit !(m > 0) }' || fail "iperf3 $dir: $mbit Mbit/s"
	ok "iperf3 $dir: $mbit Mbit/s ($retr retransmits)"
	say "figures: iperf3 $dir $mbit Mbit/s, $retr retransmits, ${GUEST_ACCEL[g]}"
done
transfer_check "after iperf3" 1000000 "$([ "$retr_all" = 0 ] && echo 1 || echo 0)"
stop_node a

if [ "${SN_LONG:-0}" = 1 ]; then
	# rekey_round INITIATOR: a session INITIATOR started, then pings both ways for 140 s: the
	# initiator rekeys once the session is 120 s old (REKEY_AFTER_TIME).
	rekey_round() {
		local init=$1 t0 t1 ha0 ia0 ha1 ia1 n=280
		handshake_round "$init" 4
		step "the 120 s rekey, initiated by $init: $n pings each way, 0.5 s apart"
		t0=$(wg_field g latest-handshakes a)
		show_counters a >/dev/null
		ha0=$(peer_counter a g handshakes) ia0=$(peer_counter a g initiations)
		guest_run g "ping -n -q -c $n -i 0.5 -W 2 ${OV4[a]} >/tmp/rekey-ping.log 2>&1 &" ||
			fail "ping in the guest"
		nsx a ping -n -q -c "$n" -i 0.5 -W 2 "${OV4[g]}" >"$SN_TMP/rekey-ping-$init.log" 2>&1
		check "guest's ping ended" guest_run g \
			"i=0; while [ \$i -lt 100 ] && ! grep -q received /tmp/rekey-ping.log; do sleep 0.1; i=\$((i + 1)); done; grep -q received /tmp/rekey-ping.log"
		say "a: $(grep received "$SN_TMP/rekey-ping-$init.log")"
		say "g: $(guest_run g 'grep received /tmp/rekey-ping.log')"
		check "no ping a -> g lost" grep -q " $n received, 0% packet loss" "$SN_TMP/rekey-ping-$init.log"
		check "no ping g -> a lost" guest_run g "grep -q ' $n received, 0% packet loss' /tmp/rekey-ping.log"
		t1=$(wg_field g latest-handshakes a)
		check_gt "guest: a new handshake $((t1 - t0)) s after the first" "$((t1 - t0))" 110
		show_counters a >/dev/null
		ha1=$(peer_counter a g handshakes) ia1=$(peer_counter a g initiations)
		check_gt "sealnetd: sessions with g" "$ha1" "$ha0"
		if [ "$init" = a ]; then
			check_gt "sealnetd sent the rekey's initiation" "$ia1" "$ia0"
		else
			check_eq "sealnetd sent no initiation (the module rekeyed)" "$ia1" "$ia0"
		fi
		stop_node a
	}
	rekey_round a
	rekey_round g
else
	skip "the 120 s rekeys (SN_LONG=1, make interop-long)"
fi

# mismatch_round INITIATOR: mismatched preshared keys, only INITIATOR knows the endpoint.
# The initiation does not involve the preshared key: the responder answers it and derives a
# session at once, but may only show a handshake once the initiator's first data packet
# confirms that session, as the module does (wg_timers_handshake_complete in receive.c);
# the initiator cannot open the response, so that never comes.  Pings both ways for 6 s: the
# initiator retries after 5 s.  All three views are checked before failing.
mismatch_round() {
	local init=$1 resp aep=none gep=none t wrong=()
	if [ "$init" = a ]; then aep=4 resp=g; else gep=4 resp=a; fi
	step "mismatched preshared keys, $init initiates ($([ "$init" = a ] && echo sealnetd || echo the module)): no handshake may show"
	{ conf_interface a mtu="$MTU"; conf_peer g endpoint="$aep" psk="$(wg genpsk)"; } >"$(conf_path a)"
	start_node a
	GUEST_MTU=$MTU guest_wg_up g "$(g_conf endpoint="$gep" psk="$(wg genpsk)")"
	guest_run g "ping -n -q -c 30 -i 0.2 -W 1 ${OV4[a]} >/tmp/mm-ping.log 2>&1 &" ||
		fail "ping in the guest"
	nsx a ping -n -q -c 30 -i 0.2 -W 1 "${OV4[g]}" >"$SN_TMP/mm-ping.log" 2>&1
	check "guest's ping ended" guest_run g "i=0; while [ \$i -lt 50 ] &&
		! grep -q received /tmp/mm-ping.log; do sleep 0.1; i=\$((i + 1)); done;
		grep -q received /tmp/mm-ping.log"
	check "no echo a -> g answered" grep -q ' 0 received' "$SN_TMP/mm-ping.log"
	check "no echo g -> a answered" guest_run g "grep -q ' 0 received' /tmp/mm-ping.log"
	show_counters a
	if [ "$init" = a ]; then
		check_gt "sealnetd sent initiations" "$(peer_counter a g initiations)" 0
		check_gt "sealnetd dropped the module's responses" "$(counter a drop_handshake)" 0
	else
		# No data ever crosses: what a received from g is handshake messages, and a could
		# not send first (it learns g's endpoint from g's initiation; once it has, it may
		# initiate too, as the module does in its place).
		check_gt "sealnetd received the module's initiations (bytes)" "$(peer_counter a g rx_bytes)" 0
	fi
	t=$(wg_field g latest-handshakes a)
	if [ "$t" = 0 ]; then ok "guest (wg show): latest handshake with a: 0"; else wrong+=("guest wg show: $t"); fi
	t=$(wg_field a latest-handshakes g)
	if [ "$t" = 0 ]; then ok "sealnetd (wg show): latest handshake with g: 0"; else wrong+=("sealnetd wg show: $t"); fi
	t=$(sealnet_latest g)
	if [ "$t" = 0 ]; then ok "sealnetd (sealnet show): latest handshake with g: 0"; else wrong+=("sealnet show: $t"); fi
	[ ${#wrong[@]} = 0 ] ||
		fail "a handshake shown with mismatched preshared keys ($resp responded): ${wrong[*]}"
	stop_node a
}

mismatch_round a
mismatch_round g
guest_stop g
ok "guest powered off, QEMU exited 0"
say "done"
