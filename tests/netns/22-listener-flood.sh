#!/usr/bin/env bash
# Idle-connection floods against the metrics port and the control socket, with few
# descriptors (issue 12, finding 4).  a runs with a soft RLIMIT_NOFILE of $NOFILE, so that a
# thousand idle TCP connections to MetricsListen would take every descriptor.
#
# 1. 1000 idle connections to the metrics port: a caps them, so the control socket still
#    answers `wg show`, `sealnet reload` works, `wg set listen-port` opens the new port, the
#    tunnel carries pings, and a's CPU stays low; idle connections are dropped after the
#    timeout, and the page answers once the flood is gone.
# 2. 200 idle connections to the control socket: capped as well (a keeps its descriptors and
#    still serves the page), and dropped after the timeout, after which `wg show` answers.
# 3. Out of descriptors anyway (a restarts with User = root, so that prlimit may lower its
#    limit to what it uses plus a few): accept fails with EMFILE.  a must back off instead of spinning (CPU low, a log line a minute), and
#    serve the page and the control socket again once the connections are gone.
#
# Prints the figures (a's CPU, descriptors, connections dropped) on lines starting "figures:".
. "$(dirname "$0")/lib.sh"

command -v prlimit >/dev/null || fail "prlimit is not installed (util-linux)"
[ -x "${UDPFUZZ:-}" ] || fail "udpfuzz not found (UDPFUZZ=${UDPFUZZ:-}; make netns builds it)"
MPORT=9586
NOFILE=64
CPU_MAX=15 # percent of one core; a listener spinning on EMFILE takes 100

node_new a sealnetd
node_new b
link_veth a b
SOCK=/var/run/wireguard/${IFACE[a]}.sock
URL="http://127.0.0.1:$MPORT/metrics"

CLK_TCK=$(getconf CLK_TCK)
# cpu_ticks: user + system clock ticks a has used.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/${PID[a]}/stat"; }
now_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }
# cpu_over SECONDS: a's CPU (one core = 100%) over the next SECONDS.
cpu_over() {
	local t0 c0 t1 c1
	t0=$(cpu_ticks) c0=$(now_cs)
	sleep "$1"
	t1=$(cpu_ticks) c1=$(now_cs)
	awk -v a="$t0" -v b="$t1" -v t="$((c1 - c0))" -v hz="$CLK_TCK" \
		'BEGIN { printf "%d\n", (b - a) * 100 * 100 / hz / t + 0.5 }'
}
nfds() { find "/proc/${PID[a]}/fd" -mindepth 1 -maxdepth 1 | wc -l; }
page() { nsx a curl -sf --max-time 3 -o /dev/null "$URL"; }
# page_within SECONDS: the page answers within SECONDS; PAGE_AFTER says after how many.  The
# flood's half-open connections (the client saw them established, a's full backlog dropped
# the last ACK) keep coming through the backlog as the kernel retries them after the client
# is gone, so curl's SYN may be dropped a few times first (CI once needed more than 5 s).
# On failure, the listening socket's queue and a's connections go to the log.
page_within() {
	local t0=$SECONDS
	if ! wait_for "$1" page; then
		nsx a ss -tlnpe "sport = :$MPORT" >&2
		nsx a ss -tan "sport = :$MPORT" | awk 'NR > 1 { n[$1]++ } END { for (s in n) print "    " s, n[s] }' >&2
		return 1
	fi
	PAGE_AFTER=$((SECONDS - t0))
}
show_a() { nsx a timeout 5 wg show "${IFACE[a]}" >/dev/null; }
port_of_a() { nsx a timeout 5 wg show "${IFACE[a]}" listen-port; }
# hold_start NAME ARGS...: udpfuzz hold in a's namespace, in the background.
hold_start() {
	local name=$1
	shift
	bg_start "$SN_TMP/hold-$name.log" a "$UDPFUZZ" "$@"
	HOLD_PID=$BG_PID
}
# hold_wait NAME: wait for a hold to end by itself and print its report.
hold_wait() {
	wait "$HOLD_PID"
	untrack "$HOLD_PID"
	sed 's/^/    /' "$SN_TMP/hold-$1.log"
	HOLD_LINE=$(sed -n 's/^udpfuzz: hold: \([0-9]* tried.*\)/\1/p' "$SN_TMP/hold-$1.log")
	[ -n "$HOLD_LINE" ] || fail "udpfuzz hold $1 did not report"
}
closed_by_server() { sed -n 's/.*closed by the server \([0-9]*\).*/\1/p' <<<"$HOLD_LINE"; }

step "a (sealnetd, MetricsListen 127.0.0.1:$MPORT, soft RLIMIT_NOFILE $NOFILE) <-> b"
# conf_a [LINE]: a's config, with LINE in [Interface].
conf_a() {
	{ conf_interface a; echo "MetricsListen = 127.0.0.1:$MPORT"; [ -n "${1:-}" ] && echo "$1"
		conf_peer b endpoint=4; } >"$(conf_path a)"
}
conf_a
{ conf_interface b; conf_peer a endpoint=4; } >"$(conf_path b)"
hard=$(ulimit -Hn)
ulimit -Sn "$NOFILE" || fail "ulimit -Sn $NOFILE"
start_node a
ulimit -Sn "$hard"
start_node b
check "a's soft limit is $NOFILE" grep -Eq "^Max open files +$NOFILE " "/proc/${PID[a]}/limits"
check "handshake a -> b" wait_ping a "${OV4[b]}" 10
check "a serves the page" page
FDS0=$(nfds)
say "figures: a uses $FDS0 descriptors before the floods"

step "1. 1000 idle connections to the metrics port"
hold_start m1 -t 16 hold 127.0.0.1 "$MPORT" 1000
sleep 2
check "a still running" node_alive a
CPU1=$(cpu_over 3)
FDS1=$(nfds)
check "a's CPU during the flood: $CPU1% (< $CPU_MAX%)" test "$CPU1" -lt "$CPU_MAX"
check "a's descriptors during the flood: $FDS1 (< $NOFILE)" test "$FDS1" -lt "$NOFILE"
check "wg show answers during the flood" show_a
check "sealnet reload during the flood" nsx a timeout 10 "$SEALNET" reload "${IFACE[a]}"
check "wg set listen-port during the flood" \
	nsx a timeout 5 wg set "${IFACE[a]}" listen-port $((PORT[a] + 100))
check_eq "a listens on the new port" "$(port_of_a)" $((PORT[a] + 100))
check "wg set listen-port back" nsx a timeout 5 wg set "${IFACE[a]}" listen-port "${PORT[a]}"
check "ping a -> b during the flood" ping_ok a "${OV4[b]}" 3
check "ping b -> a during the flood (a's port moved back)" wait_ping b "${OV4[a]}" 10
hold_wait m1
check_gt "idle metrics connections the server dropped" "$(closed_by_server)" 0
check "the page answers once the flood is gone" page_within 30
say "figures: flood 1 (1000 idle to metrics): a CPU $CPU1%, $FDS1 descriptors; $HOLD_LINE; page again after $PAGE_AFTER s"

step "2. 200 idle connections to the control socket"
hold_start u2 -t 14 hold unix "$SOCK" 200
sleep 2
CPU2=$(cpu_over 3)
FDS2=$(nfds)
check "a's CPU during the flood: $CPU2% (< $CPU_MAX%)" test "$CPU2" -lt "$CPU_MAX"
check "a's descriptors during the flood: $FDS2 (< $NOFILE)" test "$FDS2" -lt "$NOFILE"
# Within a few seconds: flood 1's half-open connections may still be coming through the
# metrics port's backlog (see page_within).
check "the page answers during the flood" page_within 10
check "ping a -> b during the flood" ping_ok a "${OV4[b]}" 3
hold_wait u2
check_gt "idle control connections the server dropped" "$(closed_by_server)" 0
check "wg show answers once the flood is gone" wait_for 5 show_a
say "figures: flood 2 (200 idle to the control socket): a CPU $CPU2%, $FDS2 descriptors; $HOLD_LINE"

step "3. out of descriptors: a's limit lowered to what it uses plus 3"
# prlimit(2) on another uid's process needs CAP_SYS_RESOURCE; a keeping root's uid does not.
stop_node a
conf_a "User = root"
ulimit -Sn "$NOFILE" || fail "ulimit -Sn $NOFILE"
start_node a
ulimit -Sn "$hard"
check "handshake a -> b" wait_ping a "${OV4[b]}" 10
check "a serves the page" page
FDS3=$(nfds)
prlimit --pid "${PID[a]}" --nofile=$((FDS3 + 3)):"$hard" || fail "prlimit"
nlog=$(wc -l <"${LOG[a]}")
hold_start m3 -t 10 hold 127.0.0.1 "$MPORT" 200
sleep 2
check "a still running" node_alive a
CPU3=$(cpu_over 3)
check "a's CPU out of descriptors: $CPU3% (< $CPU_MAX%)" test "$CPU3" -lt "$CPU_MAX"
hold_wait m3
logged=$(tail -n +"$((nlog + 1))" "${LOG[a]}" | grep -c 'out of descriptors')
# At most one line a minute per listener (the control socket may run out too).
check "a logged running out of descriptors ($logged lines, 1 or 2)" \
	test "$logged" -ge 1 -a "$logged" -le 2
prlimit --pid "${PID[a]}" --nofile="$NOFILE:$hard" || fail "prlimit back"
check "the page answers again" page_within 30
check "wg show answers again" wait_for 5 show_a
check "ping a -> b" ping_ok a "${OV4[b]}" 3
say "figures: flood 3 (EMFILE, limit $((FDS3 + 3))): a CPU $CPU3%; $HOLD_LINE"

step "stop"
stop_node a
ok "a exited 0 on SIGTERM"
say "done"
