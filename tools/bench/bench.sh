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
# The system drivers: tools/bench/drivers.sh; the measurements: tools/bench/measure.sh.
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

# shellcheck source=tools/bench/drivers.sh
. "$BENCH_HOME/drivers.sh" || die "cannot load $BENCH_HOME/drivers.sh"
# shellcheck source=tools/bench/measure.sh
. "$BENCH_HOME/measure.sh" || die "cannot load $BENCH_HOME/measure.sh"

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
