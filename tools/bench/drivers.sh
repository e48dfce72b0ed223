#!/usr/bin/env bash
# Sourced by bench.sh: the system drivers, what bench.sh offers them, and how it picks and
# loads them. Uses bench.sh's globals (WORK, NAMESPACES, die, track, ...).
#
# ---- System drivers ---------------------------------------------------------------------
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
