#!/usr/bin/env bash
# sealnetd under valgrind's memcheck: node a runs the default build's daemon (build/, never an
# ASan build: valgrind cannot run those) in the foreground under memcheck, b is an ordinary
# node.  a goes through handshake, ping, iperf3, `wg show`, `wg set` adding and removing a
# peer, SIGHUP reloads (a peer added to the file, then taken out again), SIGUSR1 and garbage
# datagrams, then SIGTERM.  It passes only if a exits 0 (not valgrind's 99) and memcheck's log
# says "ERROR SUMMARY: 0 errors" with no definite or indirect leak, for the daemon and for its
# forked helper alike.
#
#	VALGRIND_SEALNETD   the daemon run under valgrind (default build/daemon/sealnetd)
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

VG_SEALNETD=${VALGRIND_SEALNETD:-$SN_ROOT/build/daemon/sealnetd}
VG_LOG=$SN_TMP/a.valgrind
# Valgrind's own exit status when it found errors, so a daemon's failure (1) stays apart.
VG_ERR=99

command -v valgrind >/dev/null || fail "valgrind is not installed (make deps)"
[ -x "$VG_SEALNETD" ] || fail "no $VG_SEALNETD to run under valgrind (make all)"
if ldd "$VG_SEALNETD" 2>/dev/null | grep -q 'libasan'; then
	fail "$VG_SEALNETD is an ASan build, which valgrind cannot run (VALGRIND_SEALNETD)"
fi
[ -x "$UDPFUZZ" ] || fail "udpfuzz not found at $UDPFUZZ (make build/tests/udpfuzz)"

node_new a sealnetd
node_new b
link_veth a b

# Sandbox = off: memcheck runs its own system calls inside the daemon's process (its own
# memory management, its log, its thread scheduling), which the seccomp filter would kill;
# and valgrind 3.19 does not implement seccomp(2) at all (it answers ENOSYS, "unhandled
# amd64-linux syscall: 317"), so the filter could not even be installed.
# User = root: the switch to another user needs the privileged helper, which always installs a
# seccomp filter of its own; under valgrind that fails, the helper exits and the daemon
# refuses to go on ("the privileged helper refused or is gone").  The setuid itself is not
# the trouble.  As root the helper is dismissed and the daemon does its jobs itself.
conf_a() {
	conf_interface a
	echo "Sandbox = off"
	echo "User = root"
	conf_peer b endpoint=4
}
conf_a >"$(conf_path a)"
{ conf_interface b; conf_peer a endpoint=4; } >"$(conf_path b)"

# a_lists KEY: a's `wg show IFACE peers` has KEY.
a_lists() { nsx a wg show "${IFACE[a]}" peers | grep -qxF "$1"; }

# a_dump_lines N: `wg show IFACE dump` on a answers with N lines (the interface, one per peer).
a_dump_lines() {
	nsx a wg show "${IFACE[a]}" dump >"$SN_TMP/dump" && [ "$(wc -l <"$SN_TMP/dump")" = "$1" ]
}

# reloads_logged N: a's log has N "reloaded" lines or more.
reloads_logged() { [ "$(grep -c ': reloaded ' "${LOG[a]}")" -ge "$1" ]; }

exited() { ! kill -0 "$1" 2>/dev/null; }
link_exists() { ip -n "${NS[a]}" link show "${IFACE[a]}" >/dev/null 2>&1; }

# valgrind_tail: the end of memcheck's log, when something went wrong.
valgrind_tail() {
	echo "--- last lines of memcheck's log $VG_LOG:" >&2
	tail -n 40 "$VG_LOG" >&2
}

step "a: $VG_SEALNETD under memcheck; b (${IMPL[b]})"
chmod 600 "$(conf_path a)"
# `ip netns exec` execs valgrind, which runs the daemon in its own process: PID[a] is the
# daemon's, and signals sent to it reach the daemon.
ip netns exec "${NS[a]}" valgrind --tool=memcheck --leak-check=full \
	--show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect \
	--error-exitcode=$VG_ERR --track-fds=no --log-file="$VG_LOG" \
	"$VG_SEALNETD" -f -c "$(conf_path a)" "${IFACE[a]}" -v >>"${LOG[a]}" 2>&1 &
PID[a]=$!
track "${PID[a]}"
# memcheck starts slowly (it reads the debug information of every library first).
if ! wait_for 60 _node_ready a; then
	node_alive a || { valgrind_tail; fail "a exited during startup under valgrind"; }
	fail "a: ${IFACE[a]} not up with ${OV4[a]} after 60 s under valgrind"
fi
ok "a is up under memcheck"
start_node b

step "handshake, ping, iperf3"
check "first ping a -> b (handshake)" wait_ping a "${OV4[b]}" 20
check "ping a -> b" ping_ok a "${OV4[b]}" 5
check "ping b -> a over IPv6 overlay" ping_ok b "${OV6[a]}" 5
check_gt "a: handshakes with b" "$(handshakes a b)" 0
iperf_check "a -> b" a b "${OV4[b]}"
iperf_check "b -> a (reverse)" a b "${OV4[b]}" -R

step "wg show, wg set adding and removing a peer"
check "wg show ${IFACE[a]} lists b" a_lists "${PUB[b]}"
check "wg show ${IFACE[a]} dump: the interface and b" a_dump_lines 2
extra_priv=$(genkey) || fail "genkey"
extra=$(pubkey <<<"$extra_priv") || fail "pubkey"
(umask 077 && genkey >"$SN_TMP/psk") || fail "genkey (psk)"
# An endpoint that never answers (b's discard port) and a keepalive: a sends initiations and
# arms its retry timers, so that removing the peer has timers and a half-made handshake to free.
check "wg set: peer added" nsx a wg set "${IFACE[a]}" peer "$extra" preshared-key "$SN_TMP/psk" \
	allowed-ips 100.64.0.77/32,fd00:64::77/128 endpoint "${UL4[b]}:9" persistent-keepalive 1
check "wg show lists the new peer" a_lists "$extra"
ping_once a 100.64.0.77
sleep 2
check "wg set: peer removed" nsx a wg set "${IFACE[a]}" peer "$extra" remove
check_not "wg show no longer lists it" a_lists "$extra"

step "SIGHUP: reload with a peer more, then without it"
# reloaded N: SIGHUP, then wait for the Nth "reloaded" line.
reloaded() {
	kill -s HUP "${PID[a]}"
	wait_for 20 reloads_logged "$1" ||
		fail "a: no 'reloaded' line after SIGHUP number $1"
}
{
	conf_a
	echo
	echo "[Peer]"
	echo "PublicKey = $extra"
	echo "AllowedIPs = 100.64.0.78/32"
	echo "Endpoint = ${UL4[b]}:9"
} >"$(conf_path a)"
reloaded 1
check "the reloaded config's new peer is there" a_lists "$extra"
conf_a >"$(conf_path a)"
reloaded 2
check_not "and gone after the next reload" a_lists "$extra"
check "ping a -> b after the reloads" ping_ok a "${OV4[b]}" 3

step "SIGUSR1 and garbage datagrams"
show_counters a
drops0=$(drops_total a)
fuzz() { nsx b "$UDPFUZZ" "$@" 2>&1 | sed 's/^/    /'; }
fuzz -i 500 garbage "${UL4[a]}" "${PORT[a]}" 2000 || fail "udpfuzz garbage (IPv4)"
fuzz -i 500 garbage "${UL6[a]}" "${PORT[a]}" 500 || fail "udpfuzz garbage (IPv6)"
check "a: ping a -> b after the garbage" wait_ping a "${OV4[b]}" 10
show_counters a
check_gt "a: drops during garbage" "$(($(drops_total a) - drops0))" 0

step "SIGTERM: a exits, memcheck checks for leaks"
kill -s TERM "${PID[a]}"
# The leak check runs at exit and takes a few seconds under load.
wait_for 60 exited "${PID[a]}" || fail "a still running 60 s after SIGTERM"
wait "${PID[a]}"
rc=$?
untrack "${PID[a]}"
PID[a]=
if [ "$rc" = "$VG_ERR" ]; then
	valgrind_tail
	fail "memcheck found errors (exit $VG_ERR)"
fi
[ "$rc" = 0 ] || { valgrind_tail; fail "a (under valgrind) exited with $rc on SIGTERM"; }
ok "a exited 0 on SIGTERM"
check_not "${IFACE[a]} gone" link_exists

# One summary per process: the daemon, and the helper it forked (which runs under memcheck
# too, and exits when dismissed).
grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|no leaks are possible' \
	"$VG_LOG" | sed 's/^/    /'
summaries=$(grep -c 'ERROR SUMMARY:' "$VG_LOG")
check_gt "memcheck summaries" "$summaries" 0
clean=$(grep -c 'ERROR SUMMARY: 0 errors' "$VG_LOG")
[ "$clean" = "$summaries" ] || { valgrind_tail; fail "memcheck: errors in $VG_LOG"; }
ok "ERROR SUMMARY: 0 errors ($summaries of $summaries)"
if grep -Eq '(definitely|indirectly) lost: [1-9]' "$VG_LOG"; then
	valgrind_tail
	fail "memcheck: definite or indirect leaks"
fi
ok "no definite or indirect leak"

stop_node b
say "done"
