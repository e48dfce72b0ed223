#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# What an operator reads when sealnetd cannot start: the file and line of a User that does
# not exist, and what to do about an interface of the same name that is not a TUN device.
# Where a running daemon's lines go: -L FILE (with its pid in the tag), and journald's native
# protocol (a datagram socket of the test's own stands in for journald, named by
# SEALNET_JOURNAL_SOCKET), after the privilege drop too.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

node_new a sealnetd
node_new b none # a namespace for a second daemon of the same interface name
ifa=${IFACE[a]}
conf=$(conf_path a)
err=$SN_TMP/err

# start EXPECTED_RC: sealnetd in the foreground on $conf, stderr in $err.
start() {
	local rc
	nsx a timeout 10 "$SEALNETD" -f -c "$conf" "$ifa" >"$err" 2>&1
	rc=$?
	check_eq "sealnetd's exit status" "$rc" "$1"
}

step "User = a user that does not exist"
{ conf_interface a; echo "User = nosuchuser$$"; } >"$conf"
chmod 600 "$conf"
start 1
sed 's/^/    | /' "$err"
check_eq "the file, the line and the name" "$(cat "$err")" \
	"$conf:$(grep -n '^User' "$conf" | cut -d: -f1): User: no such user \"nosuchuser$$\""
check_not "no interface left" ip -n "${NS[a]}" link show "$ifa" 2>/dev/null
check "sealnet check says it too" bash -c "'$SEALNET' check '$conf' | grep -q 'error: User: no such user'"

step "an interface of that name that is not a TUN device"
conf_interface a >"$conf"
# A veth: this host's kernel may have no dummy module.
ip -n "${NS[a]}" link add "$ifa" type veth peer name "x$ifa" 2>/dev/null ||
	ip -n "${NS[a]}" link add "$ifa" type veth peer name "y$$" || fail "veth $ifa"
start 1
sed 's/^/    | /' "$err"
check "says what to do" grep -q "$ifa: an interface of that name exists and is not a TUN device: remove it (ip link del $ifa)" "$err"
check "the veth is left alone" ip -n "${NS[a]}" link show "$ifa" type veth
ip -n "${NS[a]}" link del "$ifa"

step "-L FILE: a daemonized sealnetd logs there, its pid in the tag"
conf_interface a >"$conf"
nsx a "$SEALNETD" -L "$SN_TMP/minus-L.log" -p "$SN_TMP/a.pid" -c "$conf" "$ifa" 2>"$err"
check_eq "sealnetd -L: started" "$?" 0
track_pidfile a "$SN_TMP/a.pid"
sed 's/^/    | /' "$SN_TMP/minus-L.log"
check "the up line, with the pid" grep -Eq "^[0-9T:.-]+Z sealnetd\[${PID[a]}\]: notice: $ifa: up, " "$SN_TMP/minus-L.log"
# A second daemon for the same interface (in b: the control socket's directory is shared) with
# the same pid file fails at the control socket, and must leave the first one's pid file be.
nsx b "$SEALNETD" -f -p "$SN_TMP/a.pid" -c "$conf" "$ifa" 2>"$err"
check_eq "a second sealnetd for $ifa: refused" "$?" 1
check "it says another daemon runs it" grep -q "another daemon runs this interface" "$err"
check_eq "the first one's pid file is left as it was" "$(cat "$SN_TMP/a.pid" 2>&1)" "${PID[a]}"
# Not our child: no exit status to wait for.
kill "${PID[a]}"
check "it stops on SIGTERM" wait_for 5 _exited "${PID[a]}"
untrack "${PID[a]}"
check "its last line is in the file" grep -q "sealnetd\[${PID[a]}\]: notice: signal 15: shutting down" "$SN_TMP/minus-L.log"

step "journald's native protocol"
jsock=$SN_TMP/journal.sock
bg_start "$SN_TMP/journal.err" a python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b"\x1e\n")
' "$jsock" "$SN_TMP/journal"
jpid=$BG_PID
check "the stand-in journal listens" wait_for 5 test -S "$jsock"
ip netns exec "${NS[a]}" env SEALNET_JOURNAL_SOCKET="$jsock" "$SEALNETD" -f -c "$conf" "$ifa" \
	>>"${LOG[a]}" 2>&1 &
PID[a]=$!
track "${PID[a]}"
check "a comes up" wait_for 10 _node_ready a
check "the up line reaches the journal" wait_for 5 grep -q "^MESSAGE=$ifa: up, " "$SN_TMP/journal"
# The datagram of that line: its fields, one a line.
entry=$(awk -v RS='\036\n' "/MESSAGE=$ifa: up, /" "$SN_TMP/journal")
printf '%s\n' "$entry" | sed 's/^/    | /'
check "PRIORITY=5 (notice)" grep -qx "PRIORITY=5" <<<"$entry"
check "SYSLOG_IDENTIFIER=sealnetd" grep -qx "SYSLOG_IDENTIFIER=sealnetd" <<<"$entry"
check "SYSLOG_PID is the daemon's" grep -qx "SYSLOG_PID=${PID[a]}" <<<"$entry"
check_not "nothing of it on stderr" grep -q "sealnetd\[${PID[a]}\]: notice: $ifa: up, " "${LOG[a]}"
kill -USR1 "${PID[a]}"
check "after the privilege drop too (SIGUSR1's counters)" wait_for 5 grep -q "^MESSAGE=counters: " "$SN_TMP/journal"
stop_node a
stop_pid "$jpid" TERM
untrack "$jpid"
say "done"
