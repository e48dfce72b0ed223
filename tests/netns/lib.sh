# shellcheck shell=bash
# Shared harness for the network-namespace scenarios; every tests/netns/NN-*.sh sources it.
#
# A scenario builds nodes (one namespace each), links them with veth pairs (the underlay),
# writes wg-quick style configs, starts one WireGuard implementation per node and checks
# what crosses the overlay.  Every node can be sealnetd or wireguard-go:
#
#	IMPL=wggo            every node runs wireguard-go (validates the harness itself)
#	IMPL_A=wggo          only node "a" does (node names are one or two lower-case letters)
#	SEALNETD, SEALNET    paths of the daemon and of the tool (default build/...)
#	UDPFUZZ              path of tests/tools/udpfuzz (default build/tests/udpfuzz)
#	UDPBURST             path of tests/tools/udpburst (default build/tests/udpburst)
#	SN_KEEP=1            keep the temporary directory (configs, logs, captures)
#	SN_IPERF_TIME=N      seconds per iperf3 run (default 2)
#	SN_IPERF_FLOOR_PCT=P after iperf_baseline, the least a tunnel must carry, in percent of
#	                     plain veth between the same namespaces (default 0.2)
#	SN_NSLIST=FILE       append every namespace created (run.sh checks none is left)
#
# Addresses: underlay 198.18.L.N/24 and fd00:18:L::N/64 on veth link L, overlay 100.64.0.N/24
# and fd00:64::N/64, where N is the node's creation index.  Nothing else is ever addressed.
#
# Cleanup: the EXIT trap kills exactly the PIDs this scenario recorded when it started them
# (never by name), waits for them and deletes every namespace it created.

set -u -o pipefail

SN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SEALNETD=${SEALNETD:-$SN_ROOT/build/daemon/sealnetd}
SEALNET=${SEALNET:-$SN_ROOT/build/tools/sealnet}
UDPFUZZ=${UDPFUZZ:-$SN_ROOT/build/tests/udpfuzz}
UDPBURST=${UDPBURST:-$SN_ROOT/build/tests/udpburst}
SN_IPERF_TIME=${SN_IPERF_TIME:-2}
SN_IPERF_FLOOR_PCT=${SN_IPERF_FLOOR_PCT:-0.2}
IPERF_BASE='' IPERF_FLOOR=''

# Scenario id: the two-digit prefix of the script name ("demo" for tests/demo.sh).
SN_SCRIPT=$(basename "$0" .sh)
case $SN_SCRIPT in
[0-9][0-9]-*) SN_SCEN=${SN_SCRIPT%%-*} ;;
*) SN_SCEN=${SN_SCRIPT:0:4} ;;
esac

declare -A NS IFACE IMPL PRIV PUB PORT IDX OV4 OV6 UL4 UL6 ULDEV PID LOG
SN_NODES=()
SN_NAMESPACES=()
SN_LINKS=0
SN_CLEANED=0

if [ "$(id -u)" != 0 ]; then
	echo "$SN_SCRIPT: needs root for network namespaces: run it with sudo" >&2
	exit 1
fi
SN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sn-$SN_SCEN.XXXXXX") || exit 1

# --- output and assertions -------------------------------------------------------------

say() { printf '%s: %s\n' "$SN_SCRIPT" "$*"; }
step() { printf '\n== %s\n' "$*"; }
ok() { printf '  ok: %s\n' "$*"; }
skip() { printf '  skip: %s\n' "$*"; }

# fail MESSAGE: report and end the scenario (the EXIT trap cleans up and shows the logs).
fail() {
	printf 'FAIL: %s: %s\n' "$SN_SCRIPT" "$*" >&2
	exit 1
}

# check DESCRIPTION CMD [ARGS...]: CMD must succeed.
check() {
	local what=$1
	shift
	if "$@"; then
		ok "$what"
	else
		fail "$what (command failed: $*)"
	fi
}

# check_not DESCRIPTION CMD [ARGS...]: CMD must fail.
check_not() {
	local what=$1
	shift
	if "$@"; then
		fail "$what (command unexpectedly succeeded: $*)"
	else
		ok "$what"
	fi
}

# check_gt DESCRIPTION VALUE MIN: integer VALUE must be greater than MIN.
check_gt() {
	[ -n "$2" ] || fail "$1: no value (expected > $3)"
	if [ "$2" -gt "$3" ]; then
		ok "$1 ($2 > $3)"
	else
		fail "$1: got $2, expected > $3"
	fi
}

# check_eq DESCRIPTION VALUE EXPECTED
check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1 ($2)"
	else
		fail "$1: got '$2', expected '$3'"
	fi
}

# wait_for TIMEOUT_SECONDS CMD [ARGS...]: poll CMD every 0.2 s until it succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

# --- process bookkeeping and cleanup -----------------------------------------------------

# The PIDs themselves are kept by tools/bench/procs.sh, which bench.sh shares.
# shellcheck source=tools/bench/procs.sh
. "$SN_ROOT/tools/bench/procs.sh"

# track PID: kill it on exit.
track() { procs_track "$1"; }

# track_pidfile NODE PIDFILE: a sealnetd that `sealnet up` daemonized (not our child) is found
# through its pid file, checked to be a sealnetd, and handed to the cleanup as NODE's daemon.
# For an EXIT trap that runs before sn_cleanup, so that one started and interrupted is killed.
track_pidfile() {
	local pid
	pid=$(cat "$2" 2>/dev/null) || return 0
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sealnetd ] || return 0
	case " ${PROCS_PIDS[*]} " in *" $pid "*) ;; *) track "$pid" ;; esac
	PID[$1]=$pid
}

# untrack PID: it was reaped by the scenario.
untrack() { procs_untrack "$1"; }

# bg_start LOGFILE NODE CMD...: run CMD in NODE's namespace in the background; sets BG_PID.
bg_start() {
	local log=$1 node=$2
	shift 2
	ip netns exec "${NS[$node]}" "$@" >"$log" 2>&1 &
	BG_PID=$!
	track "$BG_PID"
}

# stop_pid PID [SIGNAL]: signal a tracked process, wait up to 5 s, then SIGKILL; the exit code
# of the process is left in STOP_RC.
stop_pid() { procs_stop 50 "${2:-TERM}" "$1"; }

sn_cleanup() {
	local rc=$? ns node f
	[ "$SN_CLEANED" = 1 ] && return
	SN_CLEANED=1
	trap - EXIT INT TERM
	procs_stop_all 30
	# An ASan/UBSan build (make asan) reports into the log; a report fails the scenario even
	# when everything else worked.
	for node in "${SN_NODES[@]}"; do
		if _sanitizer_report "${LOG[$node]:-}"; then
			echo "FAIL: $SN_SCRIPT: sanitizer report in node $node's log" >&2
			rc=1
		fi
	done
	# So does one in any other output kept in $SN_TMP: a daemon refusing a config exits
	# non-zero anyway, a tool's error path too, and only the report tells the leak apart.
	while IFS= read -r f; do
		[[ " ${LOG[*]} " == *" $f "* ]] && continue
		echo "FAIL: $SN_SCRIPT: sanitizer report in ${f#"$SN_TMP"/}:" >&2
		grep -E -A 12 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$f" | head -n 24 >&2
		rc=1
	done < <(grep -rlIE 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$SN_TMP" 2>/dev/null)
	if [ "$rc" != 0 ]; then
		for node in "${SN_NODES[@]}"; do
			[ -s "${LOG[$node]:-/nonexistent}" ] || continue
			echo "--- last lines of node $node (${IMPL[$node]}) log ${LOG[$node]}:" >&2
			tail -n 25 "${LOG[$node]}" >&2
		done
	fi
	# A daemonized sealnetd on a machine without syslog logs to /run/sealnet/IFACE.log; the
	# names are this scenario's own.
	for node in "${SN_NODES[@]}"; do
		f=/run/sealnet/${IFACE[$node]}.log
		[ -e "$f" ] || continue
		if [ "$rc" != 0 ]; then
			echo "--- last lines of $f:" >&2
			tail -n 25 "$f" >&2
		fi
		rm -f "$f"
	done
	for ns in "${SN_NAMESPACES[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [ "${SN_KEEP:-0}" = 1 ]; then
		echo "$SN_SCRIPT: kept $SN_TMP" >&2
	else
		rm -rf "$SN_TMP"
	fi
	exit "$rc"
}
trap sn_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- nodes, links, keys --------------------------------------------------------------------

# impl_default NODE: IMPL_<NODE> or IMPL or sealnetd.
impl_default() {
	local var="IMPL_${1^^}"
	echo "${!var:-${IMPL:-sealnetd}}"
}

genkey() {
	if [ -x "$SEALNET" ]; then "$SEALNET" genkey; else wg genkey; fi
}
pubkey() {
	if [ -x "$SEALNET" ]; then "$SEALNET" pubkey; else wg pubkey; fi
}

# node_new NODE [IMPL]: IMPL is sealnetd, wggo or none (no daemon).  A namespace with lo up, a key pair, a listen port and overlay addresses.
node_new() {
	local node=$1 n
	[[ $node =~ ^[a-z]{1,2}$ ]] || fail "node name '$node' must be 1-2 lower-case letters"
	n=$((${#SN_NODES[@]} + 1))
	SN_NODES+=("$node")
	IDX[$node]=$n
	NS[$node]="sn-$SN_SCEN-$node-$$"
	# /var/run/wireguard/IFACE.sock is shared by all namespaces: names must be unique on the host.
	IFACE[$node]="sn$SN_SCEN$node$$"
	IFACE[$node]=${IFACE[$node]:0:15}
	IMPL[$node]=${2:-$(impl_default "$node")}
	PORT[$node]=$((51000 + n))
	OV4[$node]="100.64.0.$n"
	OV6[$node]="fd00:64::$n"
	LOG[$node]="$SN_TMP/$node.log"
	PRIV[$node]=$(genkey) || fail "genkey failed"
	PUB[$node]=$(pubkey <<<"${PRIV[$node]}") || fail "pubkey failed"
	case ${IMPL[$node]} in
	sealnetd) [ -x "$SEALNETD" ] || fail "sealnetd not found at $SEALNETD (build it, or set IMPL=wggo)" ;;
	wggo) command -v wireguard-go >/dev/null || fail "wireguard-go is not installed" ;;
	none) ;; # a plain namespace (a router, an attacker)
	*) fail "node $node: unknown implementation '${IMPL[$node]}' (sealnetd or wggo)" ;;
	esac
	ip netns add "${NS[$node]}" || fail "ip netns add ${NS[$node]}"
	SN_NAMESPACES+=("${NS[$node]}")
	[ -n "${SN_NSLIST:-}" ] && echo "${NS[$node]}" >>"$SN_NSLIST"
	ip -n "${NS[$node]}" link set lo up
}

# nsx NODE CMD...: run CMD inside NODE's namespace.
nsx() {
	local node=$1
	shift
	ip netns exec "${NS[$node]}" "$@"
}

# link_veth A B [SUFFIX]: a veth pair "ul<B><SUFFIX>" in A / "ul<A><SUFFIX>" in B, on a fresh
# 198.18.L.0/24 and fd00:18:L::/64 (L counts links; sets LINK_NET=L).  The first link of a
# node gives its UL4/UL6/ULDEV.
link_veth() {
	local a=$1 b=$2 sfx=${3:-} l
	SN_LINKS=$((SN_LINKS + 1))
	l=$SN_LINKS
	# shellcheck disable=SC2034 # for the scenarios
	LINK_NET=$l
	ip -n "${NS[$a]}" link add "ul$b$sfx" type veth peer name "ul$a$sfx" netns "${NS[$b]}" ||
		fail "veth $a-$b"
	_link_addr "$a" "ul$b$sfx" "$l"
	_link_addr "$b" "ul$a$sfx" "$l"
}

_link_addr() {
	local node=$1 dev=$2 l=$3 n=${IDX[$1]}
	ip -n "${NS[$node]}" addr add "198.18.$l.$n/24" dev "$dev" || fail "addr on $node $dev"
	ip -n "${NS[$node]}" addr add "fd00:18:$l::$n/64" dev "$dev" nodad || fail "addr6 on $node $dev"
	ip -n "${NS[$node]}" link set "$dev" up
	if [ -z "${UL4[$node]:-}" ]; then
		UL4[$node]="198.18.$l.$n"
		UL6[$node]="fd00:18:$l::$n"
		# shellcheck disable=SC2034 # for the scenarios
		ULDEV[$node]=$dev
	fi
}

# --- configs ---------------------------------------------------------------------------

# conf_interface NODE [mtu=N] [port=N]: the [Interface] section.
conf_interface() {
	local node=$1 arg mtu='' port=${PORT[$1]}
	shift
	for arg; do
		case $arg in
		mtu=*) mtu=${arg#mtu=} ;;
		port=*) port=${arg#port=} ;;
		*) fail "conf_interface: unknown option $arg" ;;
		esac
	done
	echo "[Interface]"
	echo "PrivateKey = ${PRIV[$node]}"
	[ "$port" != none ] && echo "ListenPort = $port"
	echo "Address = ${OV4[$node]}/24, ${OV6[$node]}/64"
	[ -n "$mtu" ] && echo "MTU = $mtu"
	# SN_OFFLOAD=off (or a list of kinds) runs a scenario on sealnetd's plain paths.
	[ -n "${SN_OFFLOAD:-}" ] && echo "Offload = $SN_OFFLOAD"
	# SN_THREADS=1 keeps all of a node's crypto on its event loop (the default, auto,
	# spreads big batches over the CPUs).
	[ -n "${SN_THREADS:-}" ] && echo "Threads = $SN_THREADS"
	return 0
}

# conf_peer PEER [endpoint=4|6|none] [keepalive=N] [psk=KEY] [pubkey=KEY]: a [Peer] section
# for PEER (AllowedIPs are PEER's overlay /32 and /128).
conf_peer() {
	local peer=$1 arg ep=none ka='' psk='' pub=${PUB[$1]}
	shift
	for arg; do
		case $arg in
		endpoint=*) ep=${arg#endpoint=} ;;
		keepalive=*) ka=${arg#keepalive=} ;;
		psk=*) psk=${arg#psk=} ;;
		pubkey=*) pub=${arg#pubkey=} ;;
		*) fail "conf_peer: unknown option $arg" ;;
		esac
	done
	echo
	echo "[Peer]"
	echo "PublicKey = $pub"
	[ -n "$psk" ] && echo "PresharedKey = $psk"
	echo "AllowedIPs = ${OV4[$peer]}/32, ${OV6[$peer]}/128"
	case $ep in
	4) echo "Endpoint = ${UL4[$peer]}:${PORT[$peer]}" ;;
	6) echo "Endpoint = [${UL6[$peer]}]:${PORT[$peer]}" ;;
	none) ;;
	*) fail "conf_peer: endpoint=$ep" ;;
	esac
	[ -n "$ka" ] && echo "PersistentKeepalive = $ka"
	return 0
}

# conf_path NODE: where a node's config is written.
conf_path() { echo "$SN_TMP/${1}.conf"; }

# conf_get FILE KEY: all values of KEY (comma lists split), one per line.
conf_get() {
	awk -v key="$2" '
		{ sub(/#.*/, "") }
		index($0, "=") {
			k = substr($0, 1, index($0, "=") - 1); v = substr($0, index($0, "=") + 1)
			gsub(/[ \t]/, "", k); gsub(/[ \t]/, "", v)
			if (tolower(k) == tolower(key)) { n = split(v, a, ","); for (i = 1; i <= n; i++) print a[i] }
		}' "$1"
}

# --- starting and stopping implementations ------------------------------------------------

# start_node NODE [CONF] [IMPL]: start NODE's implementation on CONF (default conf_path NODE)
# and wait until its interface is up with its overlay address.
start_node() {
	local node=$1 conf=${2:-$(conf_path "$1")} impl=${3:-${IMPL[$1]}}
	IMPL[$node]=$impl
	chmod 600 "$conf"
	case $impl in
	sealnetd)
		ip netns exec "${NS[$node]}" "$SEALNETD" -f -c "$conf" "${IFACE[$node]}" -v \
			>>"${LOG[$node]}" 2>&1 &
		PID[$node]=$!
		track "${PID[$node]}"
		;;
	wggo)
		# `ip netns exec` and `env` both exec, so $! is wireguard-go itself.
		ip netns exec "${NS[$node]}" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=verbose \
			wireguard-go -f "${IFACE[$node]}" >>"${LOG[$node]}" 2>&1 &
		PID[$node]=$!
		track "${PID[$node]}"
		wait_for 10 test -S "/var/run/wireguard/${IFACE[$node]}.sock" ||
			fail "node $node: wireguard-go did not create its control socket"
		_wggo_configure "$node" "$conf"
		;;
	*) fail "start_node: unknown implementation $impl" ;;
	esac
	if ! wait_for 10 _node_ready "$node"; then
		kill -0 "${PID[$node]}" 2>/dev/null || fail "node $node ($impl) exited during startup"
		fail "node $node ($impl): ${IFACE[$node]} not up with ${OV4[$node]} after 10 s"
	fi
}

_node_ready() {
	kill -0 "${PID[$1]}" 2>/dev/null &&
		ip -n "${NS[$1]}" -o addr show dev "${IFACE[$1]}" up 2>/dev/null | grep "inet ${OV4[$1]}/" >/dev/null
}

# What wg-quick would do for wireguard-go: the wg(8) subset of the config, then addresses,
# MTU, link up and one route per AllowedIPs.
_wggo_configure() {
	local node=$1 conf=$2 dev=${IFACE[$1]} a mtu
	awk '
		/^[ \t]*(\[|#|$)/ { print; next }
		{ k = $0; sub(/[ \t]*=.*/, "", k); sub(/^[ \t]*/, "", k); k = tolower(k) }
		k ~ /^(privatekey|listenport|fwmark|publickey|presharedkey|allowedips|endpoint|persistentkeepalive)$/ { print }
	' "$conf" >"$conf.wg"
	nsx "$node" wg setconf "$dev" "$conf.wg" || fail "node $node: wg setconf failed"
	for a in $(conf_get "$conf" Address); do
		ip -n "${NS[$node]}" addr add "$a" dev "$dev" || fail "node $node: ip addr add $a"
	done
	mtu=$(conf_get "$conf" MTU | tail -n 1)
	[ -n "$mtu" ] && ip -n "${NS[$node]}" link set "$dev" mtu "$mtu"
	ip -n "${NS[$node]}" link set "$dev" up || fail "node $node: link up"
	for a in $(conf_get "$conf" AllowedIPs); do
		ip -n "${NS[$node]}" route replace "$a" dev "$dev" || fail "node $node: route $a"
	done
}

# san_dir: where a daemonized ASan/UBSan build (make asan) reports (log_path=): once the
# daemon runs as User (nobody, sealnet) it can only create its report in a directory anyone may
# write to, under an $SN_TMP that anyone may cross (the configs in it stay 0600).
san_dir() {
	chmod 711 "$SN_TMP" && mkdir -p "$SN_TMP/san" && chmod 1777 "$SN_TMP/san" &&
		echo "$SN_TMP/san"
}

_sanitizer_report() {
	[ -n "$1" ] && grep -Eq 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$1" 2>/dev/null
}

# stop_node NODE: SIGTERM; STOP_RC holds the exit code.  Checks the contract: exit code 0 and
# the interface gone (and no sanitizer report).
stop_node() {
	local node=$1
	stop_pid "${PID[$node]}" TERM
	if _sanitizer_report "${LOG[$node]}"; then
		grep -E -A 20 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "${LOG[$node]}" | head -n 40 >&2
		fail "node $node (${IMPL[$node]}): sanitizer report in its log"
	fi
	[ "$STOP_RC" = 0 ] || fail "node $node (${IMPL[$node]}) exited with $STOP_RC on SIGTERM"
	if ip -n "${NS[$node]}" link show "${IFACE[$node]}" >/dev/null 2>&1; then
		fail "node $node (${IMPL[$node]}): ${IFACE[$node]} still exists after exit"
	fi
	PID[$node]=
}

# node_alive NODE
node_alive() { [ -n "${PID[$1]:-}" ] && kill -0 "${PID[$1]}" 2>/dev/null; }

# --- counters --------------------------------------------------------------------------

# counters_of NODE: print the node's counter lines ("counters: ...") and save them for
# counter/peer_counter.  sealnetd: SIGUSR1, then the new lines of its log.  wireguard-go has
# no drop counters: the lines are made from `wg show dump` (handshakes is 0 or 1 there: wg
# only shows the time of the latest handshake).
counters_of() {
	local node=$1 before out=$SN_TMP/$1.counters prev=-1 now
	case ${IMPL[$node]} in
	sealnetd)
		node_alive "$node" || fail "node $node is not running (counters)"
		before=$(grep -c 'counters:' "${LOG[$node]}")
		kill -s USR1 "${PID[$node]}"
		if ! wait_for 5 _log_grew "${LOG[$node]}" "$before"; then
			node_alive "$node" || fail "node $node died on SIGUSR1"
			fail "node $node: no 'counters:' lines in its log 5 s after SIGUSR1"
		fi
		# The device line comes first, then one line per peer: wait until it stops growing.
		while now=$(grep -c 'counters:' "${LOG[$node]}") && [ "$now" != "$prev" ]; do
			prev=$now
			sleep 0.2
		done
		grep 'counters:' "${LOG[$node]}" | tail -n +"$((before + 1))" | sed 's/^.*counters:/counters:/' >"$out"
		;;
	wggo)
		nsx "$node" wg show "${IFACE[$node]}" dump | awk -F'\t' '
			NR == 1 { print "counters: impl=wggo"; next }
			{ printf "counters: peer %s endpoint=%s rx_bytes=%s tx_bytes=%s handshakes=%d latest_handshake=%s\n",
				$1, $3, $6, $7, ($5 > 0), $5 }' >"$out"
		;;
	esac
	cat "$out"
}

# show_counters NODE: counters_of, indented and labelled for the scenario's output.
show_counters() {
	counters_of "$1" | sed "s/^/    $1 /"
	[ "${PIPESTATUS[0]}" = 0 ] || fail "counters of $1"
}

_log_grew() { [ "$(grep -c 'counters:' "$1")" -gt "$2" ]; }

# has_drop_counters NODE: false where the implementation has none (wireguard-go).
has_drop_counters() { [ "${IMPL[$1]}" = sealnetd ]; }

# counter NODE NAME: NAME from the device line of the last counters_of NODE (empty if absent).
counter() {
	grep -v '^counters: peer ' "$SN_TMP/$1.counters" 2>/dev/null |
		tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# peer_counter NODE PEER NAME: NAME from NODE's line about PEER, a node or a public key
# (empty if absent).
peer_counter() {
	local key=${PUB[$2]:-$2}
	grep -F "counters: peer $key " "$SN_TMP/$1.counters" 2>/dev/null |
		tr ' ' '\n' | sed -n "s/^$3=//p" | head -n 1
}

# drops_total NODE: sum of every drop_* of the device line of the last counters_of NODE.
drops_total() {
	grep -v '^counters: peer ' "$SN_TMP/$1.counters" 2>/dev/null |
		tr ' ' '\n' | awk -F= '/^drop_/ { s += $2 } END { print s + 0 }'
}

# handshakes NODE PEER: completed handshakes NODE reports with PEER (fresh counters).
handshakes() {
	counters_of "$1" >/dev/null
	local h
	h=$(peer_counter "$1" "$2" handshakes)
	echo "${h:-0}"
}

# handshake_done NODE PEER: for wait_for.
handshake_done() { [ "$(handshakes "$1" "$2")" -gt 0 ]; }

# --- traffic ---------------------------------------------------------------------------

# ping_ok NODE DEST [COUNT]: all COUNT (default 3) echo requests answered.
ping_ok() {
	nsx "$1" ping -n -q -c "${3:-3}" -i 0.2 -W 2 "$2" >/dev/null 2>&1
}

# ping_once NODE DEST: one echo answered within 1 s.
ping_once() { nsx "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1; }

# wait_ping NODE DEST [TIMEOUT]: until one echo is answered (handshakes take a moment).
wait_ping() { wait_for "${3:-10}" ping_once "$1" "$2"; }

# iperf NODE_CLIENT NODE_SERVER DEST [iperf3 client args...]: a short iperf3 run from client
# to a one-shot server; sets IPERF_MBIT to the receiver's Mbit/s (the figure both sides agree
# on).  Not for $(...): the server's PID must be recorded by the scenario's own shell.
iperf() {
	local c=$1 s=$2 dest=$3 port=5201 json=$SN_TMP/iperf.json spid
	shift 3
	IPERF_MBIT=
	bg_start "$SN_TMP/iperf-server.log" "$s" iperf3 -s -1 -p "$port"
	spid=$BG_PID
	wait_for 5 _listening "$s" "$port" || fail "iperf3 server in $s did not start"
	if ! nsx "$c" timeout --foreground $((SN_IPERF_TIME + 20)) iperf3 -c "$dest" -p "$port" \
		-t "$SN_IPERF_TIME" --connect-timeout 3000 -J "$@" >"$json" 2>&1; then
		stop_pid "$spid"
		sed -n 's/.*"error":[[:space:]]*"\(.*\)".*/  iperf3: \1/p' "$json" >&2
		return 1
	fi
	stop_pid "$spid"
	IPERF_MBIT=$(awk '
		/"sum_received"/ { f = 1 }
		f && /"bits_per_second"/ { v = $0; sub(/.*:[ \t]*/, "", v); sub(/,.*/, "", v);
			printf "%.1f\n", v / 1e6; exit }' "$json")
	[ -n "$IPERF_MBIT" ]
}

_listening() { nsx "$1" ss -Hltn "sport = :$2" | grep . >/dev/null; }
_udp_listening() { nsx "$1" ss -Hlun "sport = :$2" | grep . >/dev/null; }
_exited() { ! kill -0 "$1" 2>/dev/null; }

# iperf_baseline NODE_CLIENT NODE_SERVER DEST: iperf over a plain path between the same
# namespaces (DEST an underlay address: veth, no tunnel); from then on iperf_check demands
# SN_IPERF_FLOOR_PCT percent of that figure (IPERF_FLOOR) of every run.  Not a benchmark:
# a sanity floor, measured in the same conditions so that it holds on a loaded machine.  On
# 2 busy cores a working tunnel carries 4-12% of plain veth (176-444 of 3000-4700 Mbit/s);
# one that breaks TCP checksums carries 0.2 Mbit/s (0.005%).  Not for rate-limited runs.
iperf_baseline() {
	iperf "$@" || fail "iperf3 baseline $1 -> $2 over plain veth failed"
	IPERF_BASE=$IPERF_MBIT
	IPERF_FLOOR=$(awk -v m="$IPERF_MBIT" -v p="$SN_IPERF_FLOOR_PCT" 'BEGIN { printf "%.1f\n", m * p / 100 }')
	ok "iperf3 $1 -> $2 over plain veth: $IPERF_BASE Mbit/s; floor for the tunnel from here on: $IPERF_FLOOR Mbit/s ($SN_IPERF_FLOOR_PCT%)"
}

# iperf_check WHAT NODE_CLIENT NODE_SERVER DEST [args]: iperf and print the figure; fails the
# scenario if no data went through, or less than IPERF_FLOOR after iperf_baseline.
iperf_check() {
	local what=$1 share=''
	shift
	iperf "$@" || fail "iperf3 $what failed"
	awk -v m="$IPERF_MBIT" 'BEGIN { exit !(m > 0) }' || fail "iperf3 $what: $IPERF_MBIT Mbit/s"
	if [ -n "$IPERF_FLOOR" ]; then
		share=$(awk -v m="$IPERF_MBIT" -v b="$IPERF_BASE" 'BEGIN { printf "%.2f\n", m * 100 / b }')
		awk -v m="$IPERF_MBIT" -v f="$IPERF_FLOOR" 'BEGIN { exit !(m >= f) }' ||
			fail "iperf3 $what: $IPERF_MBIT Mbit/s, $share% of plain veth ($IPERF_BASE Mbit/s), below the floor of $IPERF_FLOOR Mbit/s ($SN_IPERF_FLOOR_PCT%)"
		share=" ($share% of plain veth, floor $IPERF_FLOOR)"
	fi
	ok "iperf3 $what: $IPERF_MBIT Mbit/s$share"
}

# udp_burst_check WHAT FROM TO ADDR [COUNT] [SIZE]: COUNT (default 2000) numbered datagrams
# of SIZE bytes (default 0: a mix, see tests/tools/udpburst.c) in bursts from FROM to ADDR,
# an address of TO; each is checked on arrival.  Fails the scenario if one arrives changed or
# twice, or if fewer than 90% arrive.
udp_burst_check() {
	local what=$1 from=$2 to=$3 addr=$4 count=${5:-2000} size=${6:-0} port=7777
	local log=$SN_TMP/udpburst-recv.log rpid line got
	[ -x "$UDPBURST" ] || fail "udpburst not found at $UDPBURST (make build/tests/udpburst)"
	# The receiver ends by itself once COUNT arrived or after 2 s without a datagram.
	bg_start "$log" "$to" "$UDPBURST" recv "$port" "$count" 2
	rpid=$BG_PID
	wait_for 5 _udp_listening "$to" "$port" ||
		fail "udp burst $what: receiver in $to did not start: $(cat "$log")"
	if ! nsx "$from" "$UDPBURST" send "$addr" "$port" "$count" "$size" \
		>"$SN_TMP/udpburst-send.log" 2>&1; then
		stop_pid "$rpid"
		fail "udp burst $what: $(cat "$SN_TMP/udpburst-send.log")"
	fi
	wait_for 30 _exited "$rpid"
	stop_pid "$rpid"
	line=$(sed -n 's/^udpburst: received/received/p' "$log")
	[ "$STOP_RC" = 0 ] || fail "udp burst $what: receiver exited $STOP_RC: ${line:-$(cat "$log")}"
	got=${line#received }
	got=${got%% *}
	if [ -z "$got" ] || [ $((got * 10)) -lt $((count * 9)) ]; then
		fail "udp burst $what: fewer than 90% arrived: $line"
	fi
	ok "udp burst $what: $line"
}

# --- captures ---------------------------------------------------------------------------

# capture_start NODE DEV FILE FILTER...: tcpdump in NODE's namespace; sets CAP_PID.
capture_start() {
	local node=$1 dev=$2 file=$3
	shift 3
	bg_start "$file.log" "$node" tcpdump -n -U -Z root -i "$dev" -w "$file" "$@"
	CAP_PID=$BG_PID
	wait_for 5 grep -q 'listening on' "$file.log" || fail "tcpdump did not start: $(cat "$file.log")"
}

# capture_stop: stop the last capture_start (SIGINT makes tcpdump flush and close the file).
capture_stop() { stop_pid "$CAP_PID" INT; }
