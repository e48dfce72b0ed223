# shellcheck shell=bash
# Helpers for the attack scenarios 41-44, sourced after lib.sh.  Not a scenario itself
# (run.sh only runs NN-*.sh).
#
#	a ---- m ---- b      a and b run WireGuard, m is the on-path attacker: it routes their
#	                     underlay, so it sees, captures, replays and forges their datagrams.
#
# Addresses: a 198.18.1.1, b 198.18.2.2, m 198.18.1.3 and 198.18.2.3 (and fd00:18:L::N); a's
# config names b's IPv4 endpoint, b learns a's from the handshake.

[ -x "$UDPFUZZ" ] || fail "udpfuzz not found at $UDPFUZZ (make build/tests/udpfuzz)"
CLK_TCK=$(getconf CLK_TCK)

# attack_topology: the three nodes, m routing, both configs written and both nodes started.
attack_topology() {
	node_new a
	node_new b
	node_new m none
	link_veth a m
	link_veth m b
	M_A4="198.18.1.${IDX[m]}" M_A6="fd00:18:1::${IDX[m]}"
	M_B4="198.18.2.${IDX[m]}" M_B6="fd00:18:2::${IDX[m]}"
	nsx m sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 ||
		fail "forwarding on m"
	ip -n "${NS[a]}" route add 198.18.0.0/15 via "$M_A4" || fail "route on a"
	ip -n "${NS[a]}" route add fd00:18::/32 via "$M_A6" || fail "route6 on a"
	ip -n "${NS[b]}" route add 198.18.0.0/15 via "$M_B4" || fail "route on b"
	ip -n "${NS[b]}" route add fd00:18::/32 via "$M_B6" || fail "route6 on b"
	{ conf_interface a; conf_peer b endpoint=4; } >"$(conf_path a)"
	{ conf_interface b; conf_peer a; } >"$(conf_path b)"
}

# wire_segments NODE: no segmentation offload on NODE's underlay, so that a UDP_SEGMENT train
# leaves as the separate datagrams a real NIC would put on the wire, and captures on m see
# those (the daemon's batching is the same either way).
wire_segments() {
	nsx "$1" ethtool -K "${ULDEV[$1]}" tx-udp-segmentation off tx-gso-list off \
		generic-segmentation-offload off >/dev/null 2>&1 ||
		fail "ethtool on $1 (make deps installs ethtool)"
}

# tun_rx NODE: packets the daemon has written to NODE's TUN (delivered to the host).
tun_rx() { nsx "$1" cat "/sys/class/net/${IFACE[$1]}/statistics/rx_packets"; }

# proc_field NODE FIELD: a field of the daemon's /proc/PID/status, in kB for Vm*.
proc_field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/${PID[$1]}/status"; }

# cpu_ticks NODE: user + system clock ticks the daemon has used.
cpu_ticks() {
	# comm (field 2) is "(sealnetd)": no spaces, so fields count plainly.
	awk '{ print $14 + $15 }' "/proc/${PID[$1]}/stat"
}

# cpu_percent TICKS_BEFORE TICKS_AFTER SECONDS_X100: one core = 100%.
cpu_percent() {
	awk -v a="$1" -v b="$2" -v t="$3" -v hz="$CLK_TCK" 'BEGIN { printf "%.0f\n", (b - a) * 100 * 100 / hz / t }'
}

# now_cs: a monotonic clock in hundredths of a second.
now_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }

# latest_handshake NODE PEER: the time of the latest handshake NODE made with PEER, through
# the control socket (wg(8) speaks it).
latest_handshake() {
	nsx "$1" wg show "${IFACE[$1]}" latest-handshakes | awk -v k="${PUB[$2]}" '$1 == k { print $2 }'
}

# counters_snapshot NODE NAME: keep the device counters of the last counters_of NODE as NAME.
counters_snapshot() { cp "$SN_TMP/$1.counters" "$SN_TMP/$1.counters.$2"; }

# counter_delta NODE NAME COUNTER: COUNTER now (last counters_of) minus in snapshot NAME.
counter_delta() {
	local now before
	now=$(counter "$1" "$3")
	before=$(grep -v '^counters: peer ' "$SN_TMP/$1.counters.$2" |
		tr ' ' '\n' | sed -n "s/^$3=//p" | head -n 1)
	echo $((${now:-0} - ${before:-0}))
}

# drop_deltas NODE NAME: every counter of the device line that moved since snapshot NAME, as
# "name=+N" words.
drop_deltas() {
	local c d out=
	for c in $(grep -v '^counters: peer ' "$SN_TMP/$1.counters" | tr ' ' '\n' |
		sed -n 's/^\([a-z0-9_]*\)=[0-9]*$/\1/p'); do
		d=$(counter_delta "$1" "$2" "$c")
		[ "$d" != 0 ] && out="$out $c=+$d"
	done
	echo "${out# }"
}

# ping_bg NODE DEST COUNT INTERVAL LOG: background ping; sets PING_PID.
ping_bg() {
	bg_start "$5" "$1" ping -n -q -c "$3" -i "$4" -W 1 "$2"
	# shellcheck disable=SC2034 # for the scenarios
	PING_PID=$BG_PID
}

# ping_received LOG: replies counted by a finished ping.
ping_received() { sed -n 's/.* \([0-9]*\) received.*/\1/p' "$1"; }

# quiet CMD...: CMD without its output (for check).
quiet() { "$@" >/dev/null 2>&1; }

# kept BEFORE DURING: DURING as a percentage of BEFORE (iperf3 figures).
kept() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f\n", b * 100 / a }'; }

# max A B: the larger of two decimal figures.
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }
