#!/usr/bin/env bash
# Nothing in clear: m, on the path between a and b, captures every frame while a marker
# string crosses the tunnel every way we can send it: ping payloads, UDP datagrams, a TCP
# stream large enough for the offload paths (TUN super-packets, UDP_SEGMENT trains), over the
# IPv4 and the IPv6 overlay, first on the IPv4 then on the IPv6 underlay.  The marker must
# reach b (the TUN capture on b shows it, which also proves the checker finds it), yet never
# appear in m's capture, where every UDP payload must be a well-formed WireGuard message
# (udpfuzz check: type 1..4, zero reserved bytes, the type's size, transport 32 + 16n bytes,
# no datagram longer than the MTU + 32).
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/netns/attack.sh
. "$(dirname "$0")/attack.sh"

command -v socat >/dev/null || fail "socat is not installed (make deps)"
attack_topology
wire_segments a
wire_segments b

# 16 printable bytes (ping -p takes at most 16), different each run.
MARKER="SNMARK41$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
MARKER_HEX=$(printf '%s' "$MARKER" | od -An -v -tx1 | tr -d ' \n')
wirecap=$SN_TMP/wire.pcap
tuncap=$SN_TMP/tun.pcap

step "a (${IMPL[a]}) - m - b (${IMPL[b]}); m captures everything, marker $MARKER"
start_node a
start_node b
# cap_start NODE DEV FILE: like capture_start, everything, with a large buffer: a frame the
# kernel drops before tcpdump sees it would go unverified.  Sets CAP_PID.
cap_start() {
	bg_start "$3.log" "$1" tcpdump -n -U -B 65536 -Z root -i "$2" -w "$3"
	CAP_PID=$BG_PID
	wait_for 5 grep -q 'listening on' "$3.log" || fail "tcpdump did not start: $(cat "$3.log")"
}
# Every frame on both of m's links, whatever the protocol: the marker search covers all.
cap_start m any "$wirecap"
wire_pid=$CAP_PID
cap_start b "${IFACE[b]}" "$tuncap"
tun_pid=$CAP_PID

# marker_file BYTES: a file of the marker, repeated.
marker_file() {
	local f=$SN_TMP/marker.$1
	yes "$MARKER" | head -c "$1" >"$f"
	echo "$f"
}
bulk=$(marker_file 1000000)
line=$(marker_file 200)

# send_markers OVERLAY_DEST_OF_B: the marker over ping, UDP and TCP from a to b; b must get it.
send_markers() {
	local dest=$1 port=7141 out=$SN_TMP/recv rc v='' back=${OV4[a]}
	[[ $dest == *:* ]] && v=6 back=${OV6[a]}
	check "ping -p marker a -> $dest" quiet nsx a ping -n -q -c 5 -i 0.2 -W 2 -s 1000 -p "$MARKER_HEX" "$dest"
	check "ping -p marker b -> $back" quiet nsx b ping -n -q -c 3 -i 0.2 -W 2 -s 300 -p "$MARKER_HEX" "$back"
	# UDP: a listener on b keeps the first datagram.
	rm -f "$out.udp"
	bg_start "$out.udp" b timeout 10 socat -u "UDP$v-RECV:$port" STDOUT
	local upid=$BG_PID
	sleep 0.3
	for _ in 1 2 3; do
		nsx a socat -u "OPEN:$line" "UDP$v-SENDTO:$(fmt "$dest"):$port"
		grep -q "$MARKER" "$out.udp" && break
		sleep 0.3
	done
	stop_pid "$upid"
	check "UDP datagram with the marker reached b" grep -q "$MARKER" "$out.udp"
	# TCP: 1 MB of markers, the TSO/GSO path (TUN super-packets, UDP_SEGMENT trains).
	bg_start "$out.tcplog" b timeout 20 socat -u "TCP$v-LISTEN:$port,reuseaddr" "CREATE:$out.tcp"
	local tpid=$BG_PID
	wait_for 5 _listening b "$port" || fail "socat TCP listener on b"
	nsx a timeout 20 socat -u "OPEN:$bulk" "TCP$v:$(fmt "$dest"):$port"
	rc=$?
	wait "$tpid"
	untrack "$tpid"
	[ "$rc" = 0 ] || fail "socat TCP a -> $dest exited $rc"
	check_eq "TCP stream of markers reached b whole (bytes)" "$(stat -c %s "$out.tcp")" \
		"$(stat -c %s "$bulk")"
	cmp -s "$bulk" "$out.tcp" || fail "TCP stream of markers arrived altered"
}

fmt() { if [[ $1 == *:* ]]; then echo "[$1]"; else echo "$1"; fi; }

step "IPv4 underlay"
check "handshake a -> b" wait_ping a "${OV4[b]}" 10
send_markers "${OV4[b]}"
send_markers "${OV6[b]}"

step "IPv6 underlay: a's endpoint for b moved to [${UL6[b]}]:${PORT[b]}"
nsx a wg set "${IFACE[a]}" peer "${PUB[b]}" endpoint "[${UL6[b]}]:${PORT[b]}" ||
	fail "wg set endpoint on a"
check "ping a -> b over the IPv6 underlay" wait_ping a "${OV4[b]}" 10
send_markers "${OV4[b]}"
send_markers "${OV6[b]}"
sleep 1 # tcpdump reads the ring buffer behind the traffic
stop_pid "$wire_pid" INT
stop_pid "$tun_pid" INT
for f in "$wirecap" "$tuncap"; do
	dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$f.log")
	check_eq "$(basename "$f"): frames the kernel dropped before tcpdump" "${dropped:-?}" 0
done

step "the captures"
# Positive control: the checker sees the marker where it is in clear (port 1: no WireGuard).
out=$("$UDPFUZZ" check "$tuncap" 1 "$MARKER" 2>"$SN_TMP/check.err")
say "b's TUN: $out"
marker_tun=$(sed -n 's/.* marker=\([0-9]*\).*/\1/p' <<<"$out")
check_gt "b's TUN capture carries the marker (the checker finds it)" "${marker_tun:-0}" 10

out=$("$UDPFUZZ" check "$wirecap" "${PORT[a]},${PORT[b]}" "$MARKER")
rc=$?
say "m's wire: $out"
[ "$rc" = 0 ] || fail "m's capture: marker in clear or a UDP payload that is not WireGuard (udpfuzz check exit $rc; SN_KEEP=1 keeps $wirecap)"
ok "m's capture: no marker, every UDP payload a well-formed WireGuard message"
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$out"; }
check_gt "initiations seen" "$(field initiation)" 0
check_gt "responses seen" "$(field response)" 0
check_gt "transport messages seen" "$(field transport)" 2000
largest=$(field largest)
check "largest message $largest <= MTU 1420 + 32 (each datagram captured as sent)" \
	test "${largest:-99999}" -le 1452
check_gt "largest message $largest: full-size datagrams were captured" "${largest:-0}" 1400
v6=$(tcpdump -n -r "$wirecap" ip6 and udp 2>/dev/null | wc -l)
v4=$(tcpdump -n -r "$wirecap" ip and udp 2>/dev/null | wc -l)
check_gt "WireGuard datagrams over the IPv4 underlay" "$v4" 1000
check_gt "WireGuard datagrams over the IPv6 underlay" "$v6" 1000
say "done"
