#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# Least privilege (docs/privileges.md).  Once set up, sealnetd runs as an unprivileged user
# with no capability, no-new-privs, not dumpable, under a seccomp filter (Seccomp: 2) and
# without a netlink socket; its helper keeps uid 0 and CAP_NET_ADMIN, nothing else, and
# changes the daemon's TUN only (routes, addresses, MTU, link) and marks UDP sockets only.
# Everything the running daemon does must still work under the filter: traffic with offloads,
# handshakes, `wg show`, `wg set` (peers and their routes, fwmark, listen port), SIGHUP and
# `sealnet reload` of a root-owned 0600 file
# (read through the helper, also after an editor replaced it, with a host name to resolve),
# SIGUSR1, a metrics scrape, and SIGTERM, after which the helper removes the control socket.
# A call outside the filter kills the daemon with SIGSYS, which every check below would see.
# Then: Sandbox = off (no filter, still dropped), User = root (no switch, no helper), no
# file opened for writing after the drop (tests/tools/privcheck: the daemon's own drop and
# filter, then a write-open, which is killed), requests for another interface through the
# helper (tests/tools/privcheck net: refused) and an rtnetlink socket of the dropped daemon's
# own (killed), an unknown User (no start), a SIGKILLed daemon
# (the helper still cleans up), `sealnet up` and `down` of a daemonized one (pid file and
# socket gone after down; its /dev/null opened before the drop), and links planted at the
# temporary names of the pid file and of the registry's --metrics file (not followed).
#
# The scenarios run as User = nobody: they must not depend on the sealnet user existing.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

# CAP_NET_ADMIN is capability 12: the one bit the helper keeps, and a daemon without a switch
# of user (User = root), which has no helper.
PRIVCHECK=${PRIVCHECK:-$SN_ROOT/build/tests/privcheck}
[ -x "$PRIVCHECK" ] || fail "privcheck not found at $PRIVCHECK (make build/tests/privcheck)"
NSS_SNTEST=${NSS_SNTEST:-$SN_ROOT/build/tests/nss/libnss_sntest.so.2}
[ -f "$NSS_SNTEST" ] || fail "the test NSS module is not at $NSS_SNTEST (make $NSS_SNTEST)"
NET_ADMIN=0000000000001000
NO_CAPS=0000000000000000
MPORT=9587
RUN_DIR=/run/sealnet
export SEALNETD

command -v curl >/dev/null || fail "curl is not installed (make deps)"
command -v pgrep >/dev/null || fail "pgrep is not installed (procps)"
nobody_uid=$(id -u nobody) || fail "no user nobody"
nobody_gid=$(id -g nobody) || fail "no group for nobody"

# The filter and the privileges are sealnetd's own: IMPL=wggo does not apply to a.
node_new a sealnetd
node_new b sealnetd
link_veth a b
ifa=${IFACE[a]}
conf_a=$(conf_path a)
sock_a=/var/run/wireguard/$ifa.sock

# status PID FIELD: FIELD of /proc/PID/status, its tabs made spaces ("0 0 0 0" for Uid).
status() {
	awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print; exit }' "/proc/$1/status" 2>/dev/null
}

# child_of NODE COMM: the pid of the daemon's child named COMM (sealnetd-helper,
# sealnetd-resolv) in NODE's namespace (empty if none).
child_of() {
	local pid
	for pid in $(ip netns pids "${NS[$1]}" 2>/dev/null); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && echo "$pid"
	done
	return 0
}
helper_of() { child_of "$1" sealnetd-helper; }
no_helper() { [ -z "$(helper_of "$1")" ]; }

# check_daemon PID UID GID SECCOMP: the daemon's process state after the drop.
check_daemon() {
	local pid=$1 uid=$2 gid=$3 seccomp=$4
	check_eq "daemon Uid (real, effective, saved, fs)" "$(status "$pid" Uid)" "$uid $uid $uid $uid"
	check_eq "daemon Gid" "$(status "$pid" Gid)" "$gid $gid $gid $gid"
	check_eq "daemon supplementary groups: its own group only" "$(status "$pid" Groups)" "$gid"
	check_eq "daemon CapEff: none" "$(status "$pid" CapEff)" "$NO_CAPS"
	check_eq "daemon CapPrm: none" "$(status "$pid" CapPrm)" "$NO_CAPS"
	check_eq "daemon CapBnd: none" "$(status "$pid" CapBnd)" "$NO_CAPS"
	check_eq "daemon CapInh: none" "$(status "$pid" CapInh)" "$NO_CAPS"
	check_eq "daemon CapAmb: none" "$(status "$pid" CapAmb)" "$NO_CAPS"
	check_eq "daemon NoNewPrivs" "$(status "$pid" NoNewPrivs)" 1
	check_eq "daemon Seccomp" "$(status "$pid" Seccomp)" "$seccomp"
	# Not dumpable: the kernel gives the files of /proc/PID to root, whatever the uid.
	check_eq "daemon not dumpable (/proc/$pid/status owned by root)" "$(stat -c %u "/proc/$pid/status")" 0
}

# check_helper NODE: the helper of NODE's daemon: uid 0 and CAP_NET_ADMIN, nothing else.
check_helper() {
	local pid
	pid=$(helper_of "$1")
	[ -n "$pid" ] || fail "no sealnetd-helper in $1's namespace"
	check_eq "helper Uid" "$(status "$pid" Uid)" "0 0 0 0"
	check_eq "helper CapEff: cap_net_admin only" "$(status "$pid" CapEff)" "$NET_ADMIN"
	check_eq "helper CapPrm: cap_net_admin only" "$(status "$pid" CapPrm)" "$NET_ADMIN"
	check_eq "helper CapBnd: cap_net_admin only" "$(status "$pid" CapBnd)" "$NET_ADMIN"
	check_eq "helper CapAmb: none" "$(status "$pid" CapAmb)" "$NO_CAPS"
	check_eq "helper NoNewPrivs" "$(status "$pid" NoNewPrivs)" 1
	check_eq "helper Seccomp" "$(status "$pid" Seccomp)" 2
}

# netlink_sockets PID: how many netlink sockets PID holds (in a's namespace).
netlink_sockets() {
	local inodes ino n=0
	inodes=$(nsx a awk 'NR > 1 { print $NF }' /proc/net/netlink)
	for ino in $(find /proc/"$1"/fd -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n'); do
		grep -qx "$ino" <<<"$inodes" && n=$((n + 1))
	done
	echo "$n"
}

alive() { node_alive a || fail "a's sealnetd died${1:+ ($1)}: $(tail -n 3 "${LOG[a]}")"; }

route_a() { [[ $(ip -n "${NS[a]}" route show "$1" 2>/dev/null) == *"dev $ifa"* ]]; }
no_route_a() { ! route_a "$1"; }
udp_listening_a() { nsx a ss -Hlun "sport = :$1" | grep -q .; }
log_has() { grep -qF -- "$1" "${LOG[a]}"; }
answers_a() { nsx a wg show "$ifa" listen-port >/dev/null 2>&1; }

# conf_a_with [LINES...]: a's config with extra [Interface] lines, written as a fresh file
# that replaces the old one (a new inode, as editors do), root-owned and 0600.
conf_a_with() {
	{
		conf_interface a
		printf '%s\n' "$@"
		conf_peer b endpoint=4 keepalive=25
	} >"$conf_a.new"
	chmod 600 "$conf_a.new"
	mv -f "$conf_a.new" "$conf_a"
}

{
	conf_interface b
	echo "User = nobody"
	conf_peer a endpoint=4
} >"$(conf_path b)"
start_node b

step "a starts as User = nobody with the filter on"
conf_a_with "User = nobody" "MetricsListen = 127.0.0.1:$MPORT"
start_node a
check "the drop is logged" log_has "running as nobody (uid $nobody_uid), capabilities: none (the helper changes the interface), seccomp filter on"
check_daemon "${PID[a]}" "$nobody_uid" "$nobody_gid" 2
check_helper a
check "b (nobody too) runs under the filter" test "$(status "${PID[b]}" Seccomp)" = 2

step "traffic and handshakes"
check "first ping a -> b within 10 s" wait_ping a "${OV4[b]}" 10
check "ping a -> b over IPv6" ping_ok a "${OV6[b]}"
check "ping b -> a" ping_ok b "${OV4[a]}"
iperf_check "a -> b" a b "${OV4[b]}"
iperf_check "b -> a (a receives)" a b "${OV4[b]}" -R
alive "traffic"

step "wg show and sealnet show: the private key stays hidden"
nsx a wg show "$ifa" >"$SN_TMP/wg-show" || fail "wg show $ifa"
check "wg show: private key (hidden)" grep -qF "private key: (hidden)" "$SN_TMP/wg-show"
check_not "wg show: no private key" grep -qF "${PRIV[a]}" "$SN_TMP/wg-show"
check_eq "wg show: the daemon still has its key" "$(nsx a wg show "$ifa" private-key)" "${PRIV[a]}"
nsx a "$SEALNET" show "$ifa" >"$SN_TMP/sn-show" || fail "sealnet show $ifa"
nsx a "$SEALNET" show "$ifa" --json >>"$SN_TMP/sn-show" || fail "sealnet show $ifa --json"
check_not "sealnet show (text, JSON): no private key" grep -qF "${PRIV[a]}" "$SN_TMP/sn-show"
alive "show"

step "wg set at run time: peers and routes, fwmark, listen port"
pub_c=$(genkey | pubkey) || fail "key for peer c"
check "wg set: peer c with 100.64.0.77/32" nsx a wg set "$ifa" peer "$pub_c" allowed-ips 100.64.0.77/32
check "its route was added (by the helper)" wait_for 5 route_a 100.64.0.77
check_eq "the daemon holds no netlink socket any more" "$(netlink_sockets "${PID[a]}")" 0
check "wg set: fwmark 0x2a (SO_MARK)" nsx a wg set "$ifa" fwmark 0x2a
check_eq "fwmark" "$(nsx a wg show "$ifa" fwmark)" 0x2a
check "the UDP socket carries it (set by the helper)" \
	eval 'nsx a ss -Hulne "sport = :${PORT[a]}" | grep -q "fwmark:0x2a"'
check "wg set: listen-port 51077" nsx a wg set "$ifa" listen-port 51077
check "a listens on UDP 51077" wait_for 5 udp_listening_a 51077
check "the new socket carries the mark too" \
	eval 'nsx a ss -Hulne "sport = :51077" | grep -q "fwmark:0x2a"'
check "ping a -> b from the new port" wait_ping a "${OV4[b]}" 10
check_not "wg set: listen-port 999 (below 1024) is refused" nsx a wg set "$ifa" listen-port 999 2>/dev/null
check "the refusal is logged" log_has "cannot listen on UDP port 999: Permission denied"
check_eq "the port stays 51077" "$(nsx a wg show "$ifa" listen-port)" 51077
check "wg set: peer c removed" nsx a wg set "$ifa" peer "$pub_c" remove
check "its route was removed" wait_for 5 no_route_a 100.64.0.77
alive "wg set"

step "reload of the root-owned 0600 config, through the helper"
pub_d=$(genkey | pubkey) || fail "key for peer d"
# Peer d's endpoint is a host name: reload resolves it under the filter.
conf_a_with "User = nobody" "MetricsListen = 127.0.0.1:$MPORT"
printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 100.64.0.88/32\nEndpoint = localhost:51999\n' \
	"$pub_d" >>"$conf_a"
check_eq "the config is root's, 0600" "$(stat -c '%U %a' "$conf_a")" "root 600"
kill -HUP "${PID[a]}"
check "SIGHUP: peer d's route appears" wait_for 5 route_a 100.64.0.88
check "SIGHUP: logged" log_has "reloaded $conf_a"
conf_a_with "User = nobody" "MetricsListen = 127.0.0.1:$MPORT"
check "sealnet reload (reload=1) of a replaced file" nsx a "$SEALNET" reload "$ifa"
check "peer d's route is gone with it" wait_for 5 no_route_a 100.64.0.88
# A file the helper cannot read (another user's, 0600): the reload fails and says why.
chown nobody "$conf_a"
check_not "reload of a file root does not own fails" nsx a "$SEALNET" reload "$ifa" 2>/dev/null
check "and the log says why" log_has "the daemon has dropped root: its helper reads the file as root without capabilities"
chown root "$conf_a"
check "reload works again" nsx a "$SEALNET" reload "$ifa"
check "ping a -> b after the reloads" ping_ok a "${OV4[b]}"
alive "reload"

step "SIGUSR1 and a metrics scrape"
counters_of a >/dev/null
check_gt "SIGUSR1: rx_datagrams" "$(counter a rx_datagrams)" 0
code=$(nsx a curl -sS --max-time 5 -o "$SN_TMP/metrics" -w '%{http_code}' "http://127.0.0.1:$MPORT/metrics")
check_eq "GET /metrics" "$code" 200
check "the page lists a's peer" grep -q "^sealnet_peers{interface=\"$ifa\"} 1" "$SN_TMP/metrics"
check_not "the page has no private key" grep -qF "${PRIV[a]}" "$SN_TMP/metrics"
alive "metrics"

step "SIGTERM under the filter: exit 0, interface and control socket gone"
stop_node a
ok "a exited 0 (not killed by SIGSYS), $ifa gone"
check "the helper removed the control socket" wait_for 5 test ! -e "$sock_a"
check "the helper has exited" wait_for 5 no_helper a
check_not "no private key in a's log" grep -qF "${PRIV[a]}" "${LOG[a]}"

step "Sandbox = off: no filter, still nobody without capabilities"
conf_a_with "User = nobody" "Sandbox = off"
start_node a
check "logged" log_has "seccomp filter off (Sandbox = off)"
check_daemon "${PID[a]}" "$nobody_uid" "$nobody_gid" 0
check_helper a
check "ping a -> b" wait_ping a "${OV4[b]}" 10
stop_node a
check "the control socket is gone" wait_for 5 test ! -e "$sock_a"

step "User = root: no switch and no helper, capabilities and filter still"
conf_a_with "User = root"
start_node a
check_eq "Uid" "$(status "${PID[a]}" Uid)" "0 0 0 0"
check_eq "CapEff: cap_net_admin only" "$(status "${PID[a]}" CapEff)" "$NET_ADMIN"
check_eq "CapBnd: cap_net_admin only" "$(status "${PID[a]}" CapBnd)" "$NET_ADMIN"
check_eq "Seccomp" "$(status "${PID[a]}" Seccomp)" 2
check "the helper was dismissed" wait_for 5 no_helper a
check "reload reads the file itself" nsx a "$SEALNET" reload "$ifa"
check "ping a -> b" wait_ping a "${OV4[b]}" 10
stop_node a
check "the control socket is gone" wait_for 5 test ! -e "$sock_a"

step "after the drop nothing is opened for writing: User = root cannot rewrite root's files"
# privcheck drops as the daemon does with User = root (uid 0 stays), then opens one file.
if "$PRIVCHECK" sanitizer; then
	skip "a sanitizer build's filter lets its runtime create its report file"
else
	victim=$SN_TMP/root-owned
	echo untouched >"$victim"
	check_eq "read-only: opened" "$("$PRIVCHECK" open read "$victim")" opened
	for mode in write rdwr append trunc creat; do
		# Braces: bash's own "Bad system call" line goes to /dev/null too.
		{ "$PRIVCHECK" open "$mode" "$victim"; } >/dev/null 2>&1
		check_eq "open for $mode: killed by the filter (SIGSYS)" "$?" 159
	done
	{ "$PRIVCHECK" open creat "$SN_TMP/new-file"; } >/dev/null 2>&1
	check_eq "creating a file: killed by the filter" "$?" 159
	check "no file created" test ! -e "$SN_TMP/new-file"
	check_eq "the root-owned file is untouched" "$(cat "$victim")" untouched
fi

step "the helper changes the daemon's interface only, and the dropped daemon has no rtnetlink"
# privcheck drops as a daemon with User = nobody does, its helper armed with the ifindex of
# pctun0 (standing for the TUN), then asks through the netlink.h calls for an MTU, an address,
# routes (main table and 1234), their removal and link down, on pctun0 and on a's veth
# (ul$b: its routes, addresses and link carry the underlay), and SO_MARK on a UDP and a TCP
# socket; last it opens an rtnetlink socket itself.
ul=ulb
nsx a ip tuntap add mode tun name pctun0 || fail "tun pctun0"
nsx a ip link set pctun0 up
mtu_ul=$(nsx a cat "/sys/class/net/$ul/mtu")
{ nsx a "$PRIVCHECK" net nobody pctun0 "$ul"; } >"$SN_TMP/privcheck-net" 2>&1
check_eq "privcheck net: the own rtnetlink socket is killed by the filter (SIGSYS)" "$?" 159
sed 's/^/    | /' "$SN_TMP/privcheck-net"
for what in mtu addr-add route-add route-add-table-1234 route-del addr-del down; do
	check "$what on the armed interface: done" grep -qxF "$what pctun0: ok" "$SN_TMP/privcheck-net"
	check "$what on $ul: refused by the helper" \
		grep -qxF "$what $ul: Operation not permitted" "$SN_TMP/privcheck-net"
done
# Then, pctun0 up again, routes in batches (netlink_batch(), as a slice of peers sends them):
# one with a route on $ul is refused whole, its pctun0 route (.3) not added; on pctun0 each
# route has its answer.
check "up on the armed interface: done" grep -qxF "up pctun0: ok" "$SN_TMP/privcheck-net"
check "a batch with a request on $ul: refused whole" grep -qxF \
	"batch mixed: Operation not permitted (Operation not permitted, Operation not permitted)" \
	"$SN_TMP/privcheck-net"
check "a batch on the armed interface: done" grep -qxF "batch tun: ok (ok, ok)" "$SN_TMP/privcheck-net"
check "a batch with a route that exists: the others done" \
	grep -qxF "batch tun-again: ok (File exists, ok)" "$SN_TMP/privcheck-net"
check_not "no route 203.0.113.3 (the refused batch's) anywhere" \
	eval 'nsx a ip route show table all | grep -qF 203.0.113.3'
check_eq "routes 203.0.113.5-7 (the batches') on pctun0" \
	"$(nsx a ip route show dev pctun0 | grep -cE '^203\.0\.113\.[567] ')" 3
check "SO_MARK on a UDP socket: done" grep -qxF "mark-udp -: ok" "$SN_TMP/privcheck-net"
check "SO_MARK on a TCP socket: refused" grep -qxF "mark-tcp -: Operation not permitted" "$SN_TMP/privcheck-net"
check_not "no rtnetlink socket was opened" grep -qF "netlink socket opened" "$SN_TMP/privcheck-net"
check_eq "pctun0's MTU was changed" "$(nsx a cat /sys/class/net/pctun0/mtu)" 1300
check_eq "$ul's MTU was not" "$(nsx a cat "/sys/class/net/$ul/mtu")" "$mtu_ul"
check "$ul is still up" eval 'nsx a ip link show "$ul" | grep -q "[<,]UP[,>]"'
check_not "no address 198.51.100.2 on $ul" eval 'nsx a ip addr show dev "$ul" | grep -qF 198.51.100.2'
check_not "no route 203.0.113.2 anywhere" eval 'nsx a ip route show table all | grep -qF 203.0.113.2'
check "ping b's underlay address still" nsx a ping -c 1 -W 2 "198.18.$LINK_NET.${IDX[b]}"
nsx a ip link del pctun0

step "an unknown User: no start"
conf_a_with "User = sn-no-such-user"
nsx a timeout 20 "$SEALNETD" -f -c "$conf_a" "$ifa" >"$SN_TMP/nouser.log" 2>&1
rc=$?
check_eq "exit status" "$rc" 1
check "the reason, with file and line" grep -qF "User: no such user \"sn-no-such-user\"" "$SN_TMP/nouser.log"
check_not "no interface left" ip -n "${NS[a]}" link show "$ifa" 2>/dev/null
check "no control socket left" test ! -e "$sock_a"

step "SIGKILL: the helper still removes the control socket"
conf_a_with "User = nobody"
start_node a
helper=$(helper_of a)
[ -n "$helper" ] || fail "no helper"
stop_pid "${PID[a]}" KILL
PID[a]=
check "control socket removed after the kill" wait_for 5 test ! -e "$sock_a"
check "the helper has exited" wait_for 5 no_helper a

step "reload looks a host name up through an NSS module no filter knows"
# tests/tools/nss_sntest.c stands for the NSS modules of other systems: before it answers for
# sn-nss-test.invalid it makes a system call (sysinfo) that no filter of ours lists. The
# look-up runs in the resolver process, where the call fails: the look-up fails, then the
# reload, and nothing else. In the daemon the same call would kill it (SIGSYS).
nss_conf=$SN_TMP/nsswitch.conf
printf 'hosts: sntest files\n' >"$nss_conf"
# start_nss_a: a's daemon in a mount namespace of its own, where /etc/nsswitch.conf names the
# module and LD_LIBRARY_PATH finds it (unshare without --fork execs, so the pid stays).
start_nss_a() {
	ip netns exec "${NS[a]}" unshare -m --propagation private sh -c \
		'mount --bind "$1" /etc/nsswitch.conf && exec env LD_LIBRARY_PATH="$2" "$3" -f -v -c "$4" "$5"' \
		_ "$nss_conf" "$(dirname "$NSS_SNTEST")" "$SEALNETD" "$conf_a" "$ifa" >>"${LOG[a]}" 2>&1 &
	PID[a]=$!
	track "${PID[a]}"
	wait_for 10 _node_ready a || fail "a did not come up with the test NSS module"
}
# conf_a_nss ENDPOINT: a's config with a peer e at ENDPOINT (100.64.0.89/32).
pub_e=$(genkey | pubkey) || fail "key for peer e"
conf_a_nss() {
	printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 100.64.0.89/32\nEndpoint = %s\n' \
		"$pub_e" "$1" >>"$conf_a"
}
conf_a_with "User = nobody"
start_nss_a
resolver=$(child_of a sealnetd-resolv)
[ -n "$resolver" ] || fail "no sealnetd-resolv in a's namespace"
check_eq "resolver Uid: the daemon's user" "$(status "$resolver" Uid)" \
	"$nobody_uid $nobody_uid $nobody_uid $nobody_uid"
check_eq "resolver CapEff: none" "$(status "$resolver" CapEff)" "$NO_CAPS"
check_eq "resolver CapBnd: none" "$(status "$resolver" CapBnd)" "$NO_CAPS"
check_eq "resolver NoNewPrivs" "$(status "$resolver" NoNewPrivs)" 1
check_eq "resolver Seccomp" "$(status "$resolver" Seccomp)" 2
conf_a_nss sn-nss-test.invalid:51999
check_not "sealnet reload with the module's name fails" nsx a "$SEALNET" reload "$ifa" 2>/dev/null
alive "a look-up the filter made fail"
# kill -0 also succeeds on a daemon killed but not yet reaped: ask it something.
check "the daemon still answers on its control socket" answers_a
check "the log says which name" log_has 'cannot resolve "sn-nss-test.invalid:51999"'
check "the resolver still runs" kill -0 "$resolver"
check_not "peer e was not added" route_a 100.64.0.89
check "ping a -> b: the running configuration stays" wait_ping a "${OV4[b]}" 10
conf_a_with "User = nobody"
conf_a_nss localhost:51999
check "a name in /etc/hosts (files, after the module) still resolves" nsx a "$SEALNET" reload "$ifa"
check "peer e's route appears" wait_for 5 route_a 100.64.0.89
check_eq "peer e's endpoint" "$(nsx a wg show "$ifa" endpoints | awk -v k="$pub_e" '$1 == k { print $2 }')" 127.0.0.1:51999
stop_node a
check "the resolver has exited" wait_for 5 test ! -e "/proc/$resolver"
# Without the filter the module's call works: the name resolves, so the failure above was
# the filter's, and the module is sound.
conf_a_with "User = nobody" "Sandbox = off"
conf_a_nss sn-nss-test.invalid:51999
start_nss_a
check_eq "Sandbox = off: peer e's endpoint from the module" \
	"$(nsx a wg show "$ifa" endpoints | awk -v k="$pub_e" '$1 == k { print $2 }')" 198.18.0.99:51999
stop_node a

step "sealnet up and down: a daemonized sealnetd as nobody"
conf_up=$SN_TMP/$ifa.conf
conf_a_with "User = nobody"
cp "$conf_a" "$conf_up"
chmod 600 "$conf_up"
pidfile=$RUN_DIR/$ifa.pid
# A daemon has no stderr: sanitizer reports of an ASan build go to a file that becomes the log.
san=$(san_dir) || fail "no directory for sanitizer reports"
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$san/a.san \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$san/a.san \
	nsx a "$SEALNET" up "$conf_up" >"$SN_TMP/up.out" 2>&1 || fail "sealnet up: $(cat "$SN_TMP/up.out")"
pid=$(cat "$pidfile" 2>/dev/null)
[[ $pid =~ ^[0-9]+$ ]] || fail "no pid in $pidfile"
track "$pid"
PID[a]=$pid
LOG[a]=$san/a.san.$pid
ok "up: sealnetd $pid"
check_daemon "$pid" "$nobody_uid" "$nobody_gid" 2
check_helper a
check "ping a -> b" wait_ping a "${OV4[b]}" 10
kill -USR1 "$pid"
check "sealnet reload (daemonized)" nsx a "$SEALNET" reload "$ifa"
check "sealnet down" nsx a "$SEALNET" down "$ifa"
untrack "$pid"
PID[a]=
check "the pid file is gone" wait_for 5 test ! -e "$pidfile"
check "the control socket is gone" wait_for 5 test ! -e "$sock_a"
check "the helper has exited" wait_for 5 no_helper a
if _sanitizer_report "${LOG[a]}"; then
	head -n 40 "${LOG[a]}" >&2
	fail "sanitizer report from the daemonized sealnetd"
fi

step "files written as root follow no planted link: the pid file, the registry's files"
# Whoever may write the directory could plant a link at a temporary name it can guess: the
# pid file's was PIDFILE.PID, the registry's --metrics and --state FILE.tmp. Root must not
# write through it, nor move the link into the file's place.
victim=$SN_TMP/victim
pf_dir=$SN_TMP/piddir
mkdir -p "$pf_dir"
pf=$pf_dir/$ifa.pid
echo untouched >"$victim"
conf_a_with "User = nobody"
# The daemon's pid is known before it starts: bash plants the link with its own pid, then
# becomes sealnetd (exec keeps the pid).
ip netns exec "${NS[a]}" bash -c 'ln -s "$1" "$2.$$" && exec "$3" -f -v -c "$4" -p "$2" "$5"' \
	_ "$victim" "$pf" "$SEALNETD" "$conf_a" "$ifa" >>"${LOG[a]}" 2>&1 &
PID[a]=$!
track "${PID[a]}"
wait_for 10 _node_ready a || fail "a did not come up with -p $pf"
check_eq "the link's target is untouched" "$(cat "$victim")" untouched
check "the pid file is a regular file, not the link" test -f "$pf" -a ! -L "$pf"
apid=${PID[a]}
check_eq "it holds the daemon's pid" "$(cat "$pf")" "$apid"
check "the planted link is left as it was" test -L "$pf.$apid"
stop_node a
check "the helper removed the pid file" wait_for 5 test ! -e "$pf"
rm -f "$pf_dir"/*
# The registry writes its metrics file at once, whether etcd answers or not (here nothing
# listens on port 9).
prom=$pf_dir/a.prom
ln -s "$victim" "$prom.tmp"
nsx a "$SEALNET" registry "$ifa" --etcd http://127.0.0.1:9 --cluster-cidr 100.64.0.0/16 --overlay "${OV4[a]}" \
	--state "$pf_dir/a.state" --metrics "$prom" >"$SN_TMP/registry.log" 2>&1 &
reg=$!
track "$reg"
check "the registry writes its metrics file" wait_for 10 test -s "$prom"
stop_pid "$reg" TERM
check_eq "the link's target is untouched" "$(cat "$victim")" untouched
check "the metrics file is a regular file, not the link" test -f "$prom" -a ! -L "$prom"
check "it holds the metrics" grep -q '^sealnet_registry_etcd_up{interface="'"$ifa"'"} 0' "$prom"
check "the planted link is left as it was" test -L "$prom.tmp"
check_eq "the metrics file is readable by all (node_exporter)" "$(stat -c %a "$prom")" 644

stop_node b
say "done"
