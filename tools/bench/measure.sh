#!/usr/bin/env bash
# Sourced by bench.sh: the namespaces a system runs in, the measurements (iperf3, ping, CPU
# and RSS of its daemons) and the two modes that run them, local and peer. Samples go to
# bench.sh's results file through record.
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
