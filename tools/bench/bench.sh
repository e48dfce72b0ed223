#!/usr/bin/env bash
# sealnet bench: what encryption costs, measured side by side.
#
#	bench.sh [-n ROUNDS] [-t SECONDS] [--systems a,b,...] [--json FILE] [--plot FILE.svg]
#	         [--txt FILE]
#	bench.sh --peer HOST [--overlay ADDR] [-n ROUNDS] [-t SECONDS] [--json ...] ...
#
# Usually started by `sealnet bench` (tools/bench.c), which checks root and the tools first.
# Local mode (root): every system gets two namespaces sn-bench-<pid>-<k>-a and -b joined by a
# veth pair, underlay 198.18.<k>.1 and .2/24, overlay 100.64.<k>.1 and .2/24.  Each round
# brings each system up in turn, measures it from a to b with the same iperf3 and ping runs,
# and brings it down again, so systems are interleaved and a noisy minute hurts all alike.
# "plain" (the veth pair alone) always runs: every figure is also given as a ratio to plain
# in the same round, and the median of those ratios is reported.
# Peer mode: from this host to HOST's underlay address and to its overlay address, where
# HOST runs `iperf3 -s`; the overlay figures are given as ratios to the underlay ones.
#
# Every sample goes to a results file; tools/bench/report.sh renders the table, the JSON and
# the chart from it at the end of the run.
#
# Figures, per system (median over rounds):
#	tcp1_mbps      iperf3 TCP, one stream, receiver's Mbit/s
#	tcp4_mbps      iperf3 TCP, four streams (-P 4), receiver's Mbit/s
#	udp64_pps      iperf3 UDP, 64-byte payloads, unlimited rate (-b 0): packets/s received
#	rtt_median_ms  ping, 200 probes 5 ms apart: median round trip
#	rtt_p99_ms     the same probes: 99th percentile (nearest rank)
#	cpu_s_per_gb   user+system CPU seconds of the system's daemons (sys_pids) during the two
#	               TCP runs, per GB (1e9 bytes) received in them; null without a daemon
#	rss_peak_kib   the largest VmHWM (peak resident set) among those daemons; null without
#
# ---- System drivers --------------------------------------------------------------------
# A system is a file tools/bench/systems/NAME.sh (or any path given in --systems), sourced
# into this shell when the system's turn comes, after the previous driver's functions have
# been unset.  It defines:
#
#	SYS_DESC="..."          one line saying what it is (optional; may be set in sys_up)
#	sys_available           exit 0 if the system can run here; else print why and exit 1
#	                        (optional: defaults to available)
#	sys_up NS_A NS_B        bring the tunnel up between the two namespaces and return 0 once
#	                        its interfaces are configured; non-zero (and a message on stderr)
#	                        if it cannot.  Traffic will go from NS_A to $SYS_DEST in NS_B;
#	                        SYS_DEST is preset to $BENCH_OV_B, change it if you route
#	                        elsewhere.  bench.sh then waits up to 10 s for a ping to pass.
#	sys_down                stop whatever sys_up started (required even if it is a no-op)
#	sys_pids                print the PIDs whose CPU time and peak RSS count as the
#	                        system's cost, space separated; nothing for "no daemon"
#	                        (optional)
#
# sys_up gets these variables (read-only by convention):
#	BENCH_NS_A BENCH_NS_B   the namespaces ($1 $2), lo up, veth "ul" up and addressed
#	BENCH_UL_A BENCH_UL_B   underlay IPv4 addresses (198.18.<k>.1/.2, /24 on "ul")
#	BENCH_OV_A BENCH_OV_B   overlay IPv4 addresses to give the tunnel (100.64.<k>.1/.2)
#	BENCH_OV_PLEN           their prefix length (24)
#	BENCH_IF_A BENCH_IF_B   interface names unique on the host (the /var/run/wireguard
#	                        sockets are shared by every namespace)
#	BENCH_PORT              UDP port to listen on (free in both namespaces)
#	BENCH_MTU               tunnel MTU to use (1420, as wg-quick), so systems compare fairly
#	BENCH_DIR               an empty scratch directory for this system and round
#	BENCH_LOG               a log file; sys_up's stdout and stderr already go there, and it
#	                        is shown when the system fails
#	SEALNET SEALNETD        the tool and the daemon of this build
# and these helpers:
#	bench_spawn NS CMD...   run CMD in NS in the background, output to $BENCH_LOG; its PID
#	                        goes to BENCH_SPAWNED and is killed on any exit.  CMD must not
#	                        fork away from that PID (use foreground flags).
#	bench_stop PID...       SIGTERM, wait up to 5 s, then SIGKILL
#	bench_wait SECS CMD...  poll CMD every 0.1 s until it succeeds; 1 after SECS
#	bench_if_ready NS IF ADDR   IF is up in NS and has IPv4 ADDR
#	bench_genkey, bench_pubkey  WireGuard keys (the sealnet tool, else wg)
# Drivers keep their state in variables named after themselves (for example SN_PID_A), so
# two drivers never share one.
# ------------------------------------------------------------------------------------------
set -u -o pipefail
export LC_ALL=C

BENCH_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ME=bench
# Messages for the user go to fd 9, a copy of the original stderr: a signal can come while a
# driver's stderr is redirected to its log, and the reason must still reach the terminal.
exec 9>&2

# --- options -----------------------------------------------------------------------------

ROUNDS=3
SECS=5
SYSTEMS_ARG=
JSON_OUT=
PLOT_OUT=
TXT_OUT=
PEER=
OVERLAY=

usage() {
	sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^#//'
	echo " See docs/bench.md, or the comment at the top of ${BASH_SOURCE[0]}."
}

die() {
	printf '%s: %s\n' "$ME" "$*" >&9
	exit 1
}

# optval NAME "$@": the value of an option given as "--name VALUE", "--name=VALUE", "-n VALUE"
# or "-nVALUE"; sets OPTVAL, and OPTSHIFT to the number of words used.
optval() {
	local name=$1 arg=$2
	case $arg in
	--*=*) OPTVAL=${arg#*=} OPTSHIFT=1 ;;
	--* | -?)
		[ $# -ge 3 ] || die "option $arg needs a value"
		OPTVAL=$3 OPTSHIFT=2
		;;
	*) OPTVAL=${arg:2} OPTSHIFT=1 ;;
	esac
	[ -n "$OPTVAL" ] || die "option $name needs a value"
}

while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	-n | -n?* | --rounds | --rounds=*) optval -n "$@"; ROUNDS=$OPTVAL ;;
	-t | -t?* | --time | --time=*) optval -t "$@"; SECS=$OPTVAL ;;
	--systems | --systems=*) optval --systems "$@"; SYSTEMS_ARG=$OPTVAL ;;
	--json | --json=*) optval --json "$@"; JSON_OUT=$OPTVAL ;;
	--plot | --plot=*) optval --plot "$@"; PLOT_OUT=$OPTVAL ;;
	--txt | --txt=*) optval --txt "$@"; TXT_OUT=$OPTVAL ;;
	--peer | --peer=*) optval --peer "$@"; PEER=$OPTVAL ;;
	--overlay | --overlay=*) optval --overlay "$@"; OVERLAY=$OPTVAL ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
	shift "$OPTSHIFT"
done

[[ $ROUNDS =~ ^[0-9]+$ ]] && [ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 100 ] ||
	die "-n wants a number of rounds from 1 to 100, not '$ROUNDS'"
[[ $SECS =~ ^[0-9]+$ ]] && [ "$SECS" -ge 1 ] && [ "$SECS" -le 3600 ] ||
	die "-t wants whole seconds from 1 to 3600, not '$SECS'"
# "08" is a fine number of seconds, and not an octal one.
ROUNDS=$((10#$ROUNDS))
SECS=$((10#$SECS))
[ -n "$OVERLAY" ] && [ -z "$PEER" ] && die "--overlay goes with --peer"
[ -n "$PEER" ] && [ -n "$SYSTEMS_ARG" ] && die "--systems is for the local mode; --peer measures the path to HOST"

# Tools: the same list tools/bench.c checks, for when this script is run by hand.
need() {
	command -v "$1" >/dev/null 2>&1 || die "$1 is not installed (Debian package $2; \`make deps' installs it)"
}
need iperf3 iperf3
need ping iputils-ping
need ip iproute2
need ss iproute2
need timeout coreutils
[ -n "$PLOT_OUT" ] && need gnuplot gnuplot-nox
if [ -z "$PEER" ] && [ "$(id -u)" != 0 ]; then
	die "needs root to build network namespaces: run it with sudo"
fi

# The build this script belongs to, unless the caller (sealnet bench) says otherwise.
SEALNET=${SEALNET:-}
if [ -z "$SEALNET" ]; then
	for f in "$BENCH_HOME/../../build/tools/sealnet" "$(command -v sealnet 2>/dev/null)"; do
		[ -n "$f" ] && [ -x "$f" ] && { SEALNET=$f; break; }
	done
fi
SEALNETD=${SEALNETD:-}
if [ -z "$SEALNETD" ]; then
	for f in "$BENCH_HOME/../../build/daemon/sealnetd" "$(command -v sealnetd 2>/dev/null)"; do
		[ -n "$f" ] && [ -x "$f" ] && { SEALNETD=$f; break; }
	done
fi
export SEALNET SEALNETD

# --- bookkeeping and cleanup -------------------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sn-bench.XXXXXX") || die "cannot make a scratch directory"
RESULTS=$WORK/results # the samples and what the report needs besides (see report.sh)
: >"$RESULTS"
NAMESPACES=() # every namespace we created
CLEANED=0
WHY=          # what went wrong, for the closing message
TTY=0
[ -t 2 ] && TTY=1

# Every background process we start, by PID (shared with tests/netns/lib.sh).
# shellcheck source=tools/bench/procs.sh
. "$BENCH_HOME/procs.sh" || die "cannot load $BENCH_HOME/procs.sh"
track() { procs_track "$1"; }
untrack() { procs_untrack "$1"; }
# stop_pids PID...: SIGTERM, up to 5 s of grace, SIGKILL; reaps our own children.
stop_pids() { procs_stop 50 TERM "$@"; }

progress_clear() { [ "$TTY" = 1 ] && printf '\r\033[K' >&9; return 0; }

cleanup() {
	local rc=$? pid ns left i nproc=${#PROCS_PIDS[@]} nns=${#NAMESPACES[@]}
	[ "$CLEANED" = 1 ] && return
	CLEANED=1
	trap - EXIT INT TERM HUP PIPE
	progress_clear
	procs_stop_all 50
	for ns in "${NAMESPACES[@]}"; do
		# Anything still inside a namespace we made was started by us: a daemon's own
		# helper finishing its exit (given 2 s), or a process of a driver that did not
		# use bench_spawn. Stopped by PID before the namespace goes.
		for ((i = 0; i < 20; i++)); do
			left=$(ip netns pids "$ns" 2>/dev/null)
			[ -z "$left" ] && break
			sleep 0.1
		done
		if [ -n "$left" ]; then
			printf '%s: stopping processes left in %s: %s\n' "$ME" "$ns" "$(echo $left)" >&9
			for pid in $left; do
				kill -s KILL "$pid" 2>/dev/null
				wait "$pid" 2>/dev/null # no "Killed" notice if it was our child
			done
		fi
		ip netns del "$ns" 2>/dev/null
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		printf '%s: kept %s\n' "$ME" "$WORK" >&9
	else
		rm -rf "$WORK"
	fi
	if [ "$rc" != 0 ]; then
		[ -n "$WHY" ] && printf '%s: %s\n' "$ME" "$WHY" >&9
		printf '%s: stopped (exit %s); cleaned up %d namespace(s) and %d process(es)\n' \
			"$ME" "$rc" "$nns" "$nproc" >&9
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'WHY="interrupted (SIGINT)"; exit 130' INT
trap 'WHY="terminated (SIGTERM)"; exit 143' TERM
trap 'WHY="hung up (SIGHUP)"; exit 129' HUP
trap 'WHY="standard output closed (SIGPIPE)"; exit 141' PIPE

# --- helpers for drivers -------------------------------------------------------------------

bench_spawn() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@" >>"$BENCH_LOG" 2>&1 </dev/null 9>&- &
	BENCH_SPAWNED=$!
	track "$BENCH_SPAWNED"
	# Out of the job table: a daemon that dies is reported by us, not by a bash notice.
	disown "$BENCH_SPAWNED"
}

bench_stop() {
	local pid live=()
	for pid; do [ -n "$pid" ] && live+=("$pid"); done
	[ "${#live[@]}" -gt 0 ] && stop_pids "${live[@]}"
	return 0
}

bench_wait() {
	local deadline=$((SECONDS + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

bench_if_ready() {
	# Not grep -q: under pipefail, ip could die of SIGPIPE after a match and fail the test.
	ip -n "$1" -o -4 addr show dev "$2" up 2>/dev/null | grep "inet $3/" >/dev/null
}

bench_genkey() {
	if [ -n "$SEALNET" ] && [ -x "$SEALNET" ]; then "$SEALNET" genkey; else wg genkey; fi
}
bench_pubkey() {
	if [ -n "$SEALNET" ] && [ -x "$SEALNET" ]; then "$SEALNET" pubkey; else wg pubkey; fi
}

# --- systems ---------------------------------------------------------------------------------

declare -A SYS_FILE SYS_DESCR SYS_FAILED SYS_K
SYS_LIST=() # in the order they run and print: plain first
SKIPPED=()  # "name<TAB>why"

sys_file() {
	case $1 in
	*/*) echo "$1" ;;
	*) echo "$BENCH_HOME/systems/$1.sh" ;;
	esac
}

sys_name() {
	local n=${1##*/}
	echo "${n%.sh}"
}

# sys_load NAME: forget the previous driver, source NAME's.
sys_load() {
	local f=${SYS_FILE[$1]} fn
	unset -f sys_available sys_up sys_down sys_pids
	SYS_DESC=
	# shellcheck disable=SC1090
	. "$f" || die "cannot load system driver $f"
	for fn in sys_up sys_down; do
		declare -F "$fn" >/dev/null || die "system driver $f does not define $fn (see the top of bench.sh)"
	done
	declare -F sys_available >/dev/null || sys_available() { return 0; }
	declare -F sys_pids >/dev/null || sys_pids() { return 0; }
}

choose_systems() {
	local want=() name f why
	if [ -n "$SYSTEMS_ARG" ]; then
		IFS=, read -r -a want <<<"$SYSTEMS_ARG"
	else
		want=(plain sealnet)
		for f in "$BENCH_HOME"/systems/*.sh; do
			name=$(sys_name "$f")
			[ "$name" = plain ] || [ "$name" = sealnet ] || want+=("$name")
		done
	fi
	# plain is the reference: always there, always first.
	SYS_FILE[plain]=$(sys_file plain)
	SYS_LIST=(plain)
	for f in "${want[@]}"; do
		[ -n "$f" ] || continue
		name=$(sys_name "$f")
		[ "$name" = plain ] && continue
		[ -n "${SYS_FILE[$name]:-}" ] && continue
		[[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || die "system name '$name': letters, digits, '.', '_' and '-' only"
		SYS_FILE[$name]=$(sys_file "$f")
		if [ ! -r "${SYS_FILE[$name]}" ]; then
			die "no system '$name' (no driver ${SYS_FILE[$name]}; known: $(cd "$BENCH_HOME/systems" && ls *.sh | sed 's/\.sh$//' | tr '\n' ' '))"
		fi
		SYS_LIST+=("$name")
	done
	local keep=()
	for name in "${SYS_LIST[@]}"; do
		sys_load "$name"
		if why=$(sys_available 2>&1); then
			keep+=("$name")
			SYS_DESCR[$name]=$SYS_DESC
		else
			[ -n "$SYSTEMS_ARG" ] && [ "$name" != plain ] &&
				printf '%s: skipping %s: %s\n' "$ME" "$name" "${why:-not available}" >&9
			[ "$name" = plain ] && die "plain is not available: $why"
			SKIPPED+=("$name"$'\t'"${why:-not available}")
		fi
	done
	SYS_LIST=("${keep[@]}")
	[ "${#SYS_LIST[@]}" -ge 2 ] || die "nothing to compare with plain: no other system is available"
}

# --- namespaces --------------------------------------------------------------------------

# make_pair NAME K: namespaces and veth for the system with index K.
make_pair() {
	local name=$1 k=$2 a b
	a="sn-bench-$$-$k-a"
	b="sn-bench-$$-$k-b"
	ip netns add "$a" || die "ip netns add $a failed"
	NAMESPACES+=("$a")
	ip netns add "$b" || die "ip netns add $b failed"
	NAMESPACES+=("$b")
	ip -n "$a" link set lo up && ip -n "$b" link set lo up &&
		ip -n "$a" link add ul type veth peer name ul netns "$b" &&
		ip -n "$a" addr add "198.18.$k.1/24" dev ul &&
		ip -n "$b" addr add "198.18.$k.2/24" dev ul &&
		ip -n "$a" link set ul up &&
		ip -n "$b" link set ul up ||
		die "cannot build the veth pair for $name"
	SYS_K[$name]=$k
}

# sys_env NAME ROUND: the variables a driver sees.
# shellcheck disable=SC2034 # they are for the drivers
sys_env() {
	local name=$1 k=${SYS_K[$1]}
	BENCH_NS_A="sn-bench-$$-$k-a"
	BENCH_NS_B="sn-bench-$$-$k-b"
	BENCH_UL_A="198.18.$k.1"
	BENCH_UL_B="198.18.$k.2"
	BENCH_OV_A="100.64.$k.1"
	BENCH_OV_B="100.64.$k.2"
	BENCH_OV_PLEN=24
	BENCH_IF_A=$(printf 'snb%d%s%d' "$k" a $$ | cut -c1-15)
	BENCH_IF_B=$(printf 'snb%d%s%d' "$k" b $$ | cut -c1-15)
	BENCH_PORT=51820
	BENCH_MTU=1420
	BENCH_DIR=$WORK/$name.$2
	BENCH_LOG=$WORK/$name.log
	mkdir -p "$BENCH_DIR"
	SYS_DEST=$BENCH_OV_B
}

# --- measuring -----------------------------------------------------------------------------

CLIENT_NS= # where the traffic generator runs ("" = here)
WATCH_PIDS= # the daemons of the system being measured
SERVER_NS= # where its iperf3 server runs ("" = the peer runs its own)
IPERF_PORT=5201
CUR_SYS=
CUR_ROUND=0
STEP=0
STEPS=1
T0=$SECONDS

client() {
	if [ -n "$CLIENT_NS" ]; then ip netns exec "$CLIENT_NS" "$@"; else "$@"; fi
}

# watched OUT CMD...: run CMD as the client (in CLIENT_NS), output to OUT, while watching
# the daemons in WATCH_PIDS: if one dies, stop CMD at once instead of waiting for its
# timeout, and return 1 with DIED set to the PID.
watched() {
	local out=$1 pid rc d
	shift
	DIED=
	if [ -n "$CLIENT_NS" ]; then
		ip netns exec "$CLIENT_NS" "$@" >"$out" 2>&1 </dev/null 9>&- &
	else
		"$@" >"$out" 2>&1 </dev/null 9>&- &
	fi
	pid=$!
	track "$pid"
	while kill -0 "$pid" 2>/dev/null; do
		for d in $WATCH_PIDS; do
			kill -0 "$d" 2>/dev/null || DIED=$d
		done
		if [ -n "$DIED" ]; then
			stop_pids "$pid"
			return 1
		fi
		sleep 0.1
	done
	wait "$pid"
	rc=$?
	untrack "$pid"
	return "$rc"
}

progress() {
	local pct=$((100 * STEP / STEPS)) el=$((SECONDS - T0))
	if [ "$TTY" = 1 ]; then
		printf '\r\033[K[round %d/%d %3d%% %dm%02ds] %s: %s' "$CUR_ROUND" "$ROUNDS" "$pct" \
			$((el / 60)) $((el % 60)) "$CUR_SYS" "$1" >&9
	fi
}

record() { printf 'sample\t%s\t%s\t%s\t%s\n' "$CUR_ROUND" "$CUR_SYS" "$1" "$2" >>"$RESULTS"; }

# iperf_field FILE KEY: KEY from iperf3's end.sum_received (the receiver's view).
iperf_field() {
	awk -v key="\"$2\"" '
		/"sum_received"[ \t]*:/ { inside = 1; next }
		inside && /}/ { exit }
		inside && index($0, key ":") {
			v = $0; sub(/^[^:]*:[ \t]*/, "", v); sub(/[, \t\r]*$/, "", v); print v; exit
		}' "$1"
}

# run_iperf WHAT DEST ARGS...: one iperf3 run; the JSON is left in $WORK/iperf.json.
run_iperf() {
	local what=$1 dest=$2 json=$WORK/iperf.json spid='' err
	shift 2
	progress "$what ($SECS s)"
	if [ -n "$SERVER_NS" ]; then
		ip netns exec "$SERVER_NS" iperf3 -s -1 -p "$IPERF_PORT" >"$WORK/iperf-server.log" 2>&1 </dev/null 9>&- &
		spid=$!
		track "$spid"
		disown "$spid"
		if ! bench_wait 5 _listening; then
			bench_stop "$spid"
			FAIL="$what: iperf3 server did not start: $(tail -n 2 "$WORK/iperf-server.log")"
			return 1
		fi
	fi
	# timeout passes the SIGTERM of stop_pids on to iperf3.
	watched "$json" timeout $((SECS + 30)) iperf3 -c "$dest" -p "$IPERF_PORT" -t "$SECS" \
		--connect-timeout 5000 -J "$@"
	local rc=$?
	[ -n "$spid" ] && bench_stop "$spid"
	STEP=$((STEP + 1))
	[ -n "$DIED" ] && { FAIL="$what: daemon $DIED died"; return 1; }
	# iperf3 3.12 -J exits 0 even when it could not connect: the "error" key tells.
	err=$(sed -n 's/.*"error":[ \t]*"\(.*\)".*/\1/p' "$json" | head -n 1)
	if [ "$rc" != 0 ] || [ -n "$err" ]; then
		[ "$rc" = 124 ] && err="no result after $((SECS + 30)) s"
		FAIL="$what to $dest: iperf3: ${err:-exit $rc}"
		[ -z "$SERVER_NS" ] && FAIL="$FAIL (is \`iperf3 -s' running on $PEER?)"
		return 1
	fi
	return 0
}

_listening() { ip netns exec "$SERVER_NS" ss -Hltn "sport = :$IPERF_PORT" | grep . >/dev/null; }

# cpu_ticks PID...: user + system clock ticks of all threads of those processes.
cpu_ticks() {
	local pid line total=0 f
	for pid; do
		read -r line <"/proc/$pid/stat" 2>/dev/null || return 1
		# Fields after "(comm) ": state is the first, utime the 12th, stime the 13th.
		read -r -a f <<<"${line##*) }"
		total=$((total + f[11] + f[12]))
	done
	echo "$total"
}

alive() {
	local pid
	for pid; do kill -0 "$pid" 2>/dev/null || return 1; done
}

# measure DEST PIDS: every figure for the current system, recorded; 1 with FAIL set if one
# cannot be had.
measure() {
	local dest=$1 pids=$2 c0 c1 b1 b4 m out pkts lost secs hwm p
	WATCH_PIDS=$pids
	# shellcheck disable=SC2086
	c0=$( [ -n "$pids" ] && cpu_ticks $pids)

	run_iperf "TCP, 1 stream" "$dest" || return 1
	b1=$(iperf_field "$WORK/iperf.json" bytes)
	m=$(iperf_field "$WORK/iperf.json" bits_per_second)
	[ -n "$m" ] && [ -n "$b1" ] || { FAIL="TCP, 1 stream: no result in iperf3's output"; return 1; }
	record tcp1_mbps "$(awk -v b="$m" 'BEGIN { printf "%.2f", b / 1e6 }')"

	run_iperf "TCP, 4 streams" "$dest" -P 4 || return 1
	b4=$(iperf_field "$WORK/iperf.json" bytes)
	m=$(iperf_field "$WORK/iperf.json" bits_per_second)
	[ -n "$m" ] && [ -n "$b4" ] || { FAIL="TCP, 4 streams: no result in iperf3's output"; return 1; }
	record tcp4_mbps "$(awk -v b="$m" 'BEGIN { printf "%.2f", b / 1e6 }')"

	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086
		alive $pids || { FAIL="a daemon died during the TCP runs"; return 1; }
		# shellcheck disable=SC2086
		c1=$(cpu_ticks $pids)
		record cpu_s_per_gb "$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v b=$((b1 + b4)) \
			'BEGIN { printf "%.4f", (b > 0) ? (t / hz) / (b / 1e9) : 0 }')"
	else
		record cpu_s_per_gb null
	fi

	run_iperf "UDP, 64-byte packets" "$dest" -u -l 64 -b 0 || return 1
	pkts=$(iperf_field "$WORK/iperf.json" packets)
	lost=$(iperf_field "$WORK/iperf.json" lost_packets)
	secs=$(iperf_field "$WORK/iperf.json" seconds)
	[ -n "$pkts" ] && [ -n "$lost" ] && [ -n "$secs" ] ||
		{ FAIL="UDP: no result in iperf3's output"; return 1; }
	record udp64_pps "$(awk -v p="$pkts" -v l="$lost" -v s="$secs" \
		'BEGIN { printf "%.1f", (s > 0) ? (p - l) / s : 0 }')"

	progress "ping, 200 probes"
	# 5 ms apart needs root; otherwise the unprivileged minimum, with fewer probes.
	if [ "$(id -u)" = 0 ]; then p="-c 200 -i 0.005"; else p="-c 50 -i 0.2"; fi
	# shellcheck disable=SC2086
	watched "$WORK/ping.out" ping -n $p -W 1 -w 30 "$dest"
	STEP=$((STEP + 1))
	[ -n "$DIED" ] && { FAIL="ping: daemon $DIED died"; return 1; }
	out=$(cat "$WORK/ping.out")
	m=$(awk '
		function isort(a, n,   i, j, t) {
			for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
		}
		match($0, /time=[0-9.]+/) { n++; v[n] = substr($0, RSTART + 5, RLENGTH - 5) + 0 }
		END {
			if (n == 0) exit 1
			isort(v, n)
			med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			k = int(0.99 * n); if (k < 0.99 * n) k++
			printf "%.4f %.4f %d\n", med, v[k], n
		}' <<<"$out") || { FAIL="ping $dest: no replies: $(tail -n 2 <<<"$out" | tr '\n' ' ')"; return 1; }
	read -r med p99 _ <<<"$m"
	record rtt_median_ms "$med"
	record rtt_p99_ms "$p99"

	if [ -n "$pids" ]; then
		hwm=0
		for p in $pids; do
			m=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
			[ -n "$m" ] || { FAIL="daemon $p died"; return 1; }
			[ "$m" -gt "$hwm" ] && hwm=$m
		done
		record rss_peak_kib "$hwm"
	else
		record rss_peak_kib null
	fi
	return 0
}

# show_failure NAME: tell what went wrong with NAME and show the end of its log.
show_failure() {
	progress_clear
	printf '%s: %s failed in round %d: %s\n' "$ME" "$1" "$CUR_ROUND" "${SYS_FAILED[$1]}" >&9
	if [ -s "$WORK/$1.log" ]; then
		printf '%s: last lines of its log:\n' "$ME" >&9
		tail -n 15 "$WORK/$1.log" | sed 's/^/    /' >&9
	fi
}

# run_local NAME: one round of one system.
run_local() {
	local name=$1 pids rc=0
	CUR_SYS=$name
	FAIL=
	sys_load "$name"
	sys_env "$name" "$CUR_ROUND"
	CLIENT_NS=$BENCH_NS_A
	SERVER_NS=$BENCH_NS_B
	[ "$TTY" = 1 ] || printf '%s: round %d/%d: %s\n' "$ME" "$CUR_ROUND" "$ROUNDS" "$name" >&9
	progress "starting"
	if ! sys_up "$BENCH_NS_A" "$BENCH_NS_B" >>"$BENCH_LOG" 2>&1; then
		FAIL="could not start: $(grep . "$BENCH_LOG" | tail -n 1)"
		rc=1
	elif ! bench_wait 10 client ping -n -c 1 -W 1 "$SYS_DEST"; then
		FAIL="up, but no ping from $BENCH_NS_A reaches $SYS_DEST within 10 s"
		rc=1
	else
		[ -n "$SYS_DESC" ] && SYS_DESCR[$name]=$SYS_DESC
		pids=$(sys_pids 2>>"$BENCH_LOG" | tr -s ' \n' '  ' | sed 's/^ *//; s/ *$//')
		measure "$SYS_DEST" "$pids" || rc=1
	fi
	progress "stopping"
	sys_down >>"$BENCH_LOG" 2>&1
	if [ "$rc" != 0 ]; then
		SYS_FAILED[$name]=$FAIL
		show_failure "$name"
		[ "$name" = plain ] && { WHY="plain, the reference, failed: nothing to compare with"; exit 1; }
	fi
	return 0
}

# --- peer mode ----------------------------------------------------------------------------

# resolve HOST: its first address.
resolve() {
	local a
	a=$(getent ahosts "$1" 2>/dev/null | awk 'NR == 1 { print $1 }')
	echo "${a:-$1}"
}

# find_overlay ADDR: the overlay address of the peer whose endpoint is ADDR, from the
# WireGuard-style interfaces (sealnetd, wireguard-go, the kernel's) of this namespace.
find_overlay() {
	local want=$1 dev found=''
	command -v wg >/dev/null || return 1
	for dev in $(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
		found=$(wg show "$dev" dump 2>/dev/null | awk -F'\t' -v want="$want" '
			NR > 1 && !done {
				ep = $3; sub(/:[0-9]+$/, "", ep); gsub(/[][]/, "", ep)
				if (ep != want) next
				n = split($4, a, ",")
				for (i = 1; i <= n; i++) if (a[i] ~ /\/(32|128)$/) { sub(/\/.*/, "", a[i]); print a[i]; done = 1; break }
			}')
		[ -n "$found" ] && { echo "$found"; return 0; }
	done
	return 1
}

# local_daemon ADDR: PID of the process serving the WireGuard interface ADDR is routed through.
local_daemon() {
	local dev
	dev=$(ip route get "$1" 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n 1)
	[ -n "$dev" ] || return 1
	ss -xlpn 2>/dev/null | awk -v s="/var/run/wireguard/$dev.sock" '
		index($0, s " ") && match($0, /pid=[0-9]+/) { print substr($0, RSTART + 4, RLENGTH - 4); exit }'
}

run_peer() {
	local name=$1 dest=$2 pids=$3
	CUR_SYS=$name
	FAIL=
	[ "$TTY" = 1 ] || printf '%s: round %d/%d: %s (%s)\n' "$ME" "$CUR_ROUND" "$ROUNDS" "$name" "$dest" >&9
	if [ -n "$pids" ] && ! alive $pids; then pids=; fi
	if ! measure "$dest" "$pids"; then
		SYS_FAILED[$name]=$FAIL
		WHY="$name: $FAIL"
		exit 1
	fi
}

# --- the results file ----------------------------------------------------------------------

# results_line KIND NAME TEXT: one record of the results file, TEXT escaped as report.sh reads it.
results_line() {
	local t=$3
	t=${t//\\/\\\\}
	t=${t//$'\n'/\\n}
	t=${t//$'\t'/\\t}
	t=${t//$'\r'/\\r}
	printf '%s\t%s\t%s\n' "$1" "$2" "$t"
}

# record_run: what the report needs besides the samples.
record_run() {
	local name i
	{
		results_line meta mode "$MODE"
		results_line meta reference "$REF"
		results_line meta date "$DATE"
		results_line meta host "$(uname -n)"
		results_line meta kernel "$(uname -r)"
		results_line meta cpus "$(nproc)"
		results_line meta rounds "$ROUNDS"
		results_line meta seconds "$SECS"
		if [ "$MODE" = peer ]; then
			results_line meta peer "$PEER"
			results_line meta peer_underlay "$PEER_UL"
			results_line meta overlay "$OVERLAY"
		fi
		for name in "${SYS_LIST[@]}"; do
			results_line system "$name" "${SYS_DESCR[$name]:-}"
			[ -n "${SYS_FAILED[$name]:-}" ] && results_line failed "$name" "${SYS_FAILED[$name]}"
		done
		for i in "${SKIPPED[@]}"; do results_line skipped "${i%%$'\t'*}" "${i#*$'\t'}"; done
	} >>"$RESULTS"
}

# report: the table on stdout and the files asked for, by report.sh.
report() {
	local args=()
	[ -n "$JSON_OUT" ] && args+=(--json "$JSON_OUT")
	[ -n "$PLOT_OUT" ] && args+=(--plot "$PLOT_OUT")
	[ -n "$TXT_OUT" ] && args+=(--txt "$TXT_OUT")
	"$BENCH_HOME/report.sh" "${args[@]}" "$RESULTS" 9>&-
	case $? in
	0) ;;
	141) WHY="standard output closed (SIGPIPE)"; exit 141 ;;
	*) WHY="the report is incomplete" ;;
	esac
}

# --- main --------------------------------------------------------------------------------

# All of it in a function, called from the last line: bash reads a script as it runs it, and
# an edit of this file during a run (a git pull) must not change the run's ending.
main() {
	DATE=$(date -u '+%Y-%m-%dT%H:%M:%SZ')
	if [ -n "$PEER" ]; then
		MODE=peer
		REF=underlay
		PEER_UL=$(resolve "$PEER")
		if [ -z "$OVERLAY" ]; then
			OVERLAY=$(find_overlay "$PEER_UL") ||
				die "cannot tell $PEER's overlay address: no WireGuard peer here has the endpoint $PEER_UL; give it with --overlay ADDR"
		fi
		SYS_LIST=(underlay overlay)
		SYS_DESCR[underlay]="$PEER_UL, the peer's underlay address"
		SYS_DESCR[overlay]="$OVERLAY, the peer's overlay address"
		STEPS=$((ROUNDS * 2 * 4))
		OV_PIDS=$(local_daemon "$OVERLAY")
		[ -n "$OV_PIDS" ] && SYS_DESCR[overlay]="${SYS_DESCR[overlay]} (CPU and RSS: local daemon, PID $OV_PIDS)"
		# Fail early, with the reason, if the peer cannot be reached at all.
		ping -n -c 1 -W 2 "$PEER_UL" >/dev/null 2>&1 || die "$PEER ($PEER_UL) does not answer ping"
		ping -n -c 1 -W 2 "$OVERLAY" >/dev/null 2>&1 ||
			die "$PEER's overlay address $OVERLAY does not answer ping: is the tunnel up?"
		for ((CUR_ROUND = 1; CUR_ROUND <= ROUNDS; CUR_ROUND++)); do
			run_peer underlay "$PEER_UL" ""
			run_peer overlay "$OVERLAY" "$OV_PIDS"
		done
	else
		MODE=local
		REF=plain
		choose_systems
		k=0
		for name in "${SYS_LIST[@]}"; do
			k=$((k + 1))
			make_pair "$name" "$k"
		done
		STEPS=$((ROUNDS * ${#SYS_LIST[@]} * 4))
		for ((CUR_ROUND = 1; CUR_ROUND <= ROUNDS; CUR_ROUND++)); do
			for name in "${SYS_LIST[@]}"; do
				[ -n "${SYS_FAILED[$name]:-}" ] && { STEP=$((STEP + 4)); continue; }
				run_local "$name"
			done
		done
	fi
	progress_clear
	record_run
	report
	for name in "${SYS_LIST[@]}"; do
		if [ -n "${SYS_FAILED[$name]:-}" ]; then
			WHY="$name failed: ${SYS_FAILED[$name]}"
			exit 1
		fi
	done
	[ -n "$WHY" ] && exit 1
	exit 0
}

main "$@"; exit
