#!/usr/bin/env bash
# make scale: what a daemon holding N peers costs (issue 14). Figures, never pass or fail.
#
#	scale.sh [N ...]        default: 1000 10000
#
# Two namespaces (tests/netns/lib.sh): node a runs the sealnetd under test, node b a real
# peer of it. For each N, a is started afresh from a file that names b only, then
# tests/tools/scale (SCALE) loads N synthetic peers through a's control socket as `wg
# setconf` would (replace_peers=true, b among them) and times, on the same socket:
#	load_s          the whole set of N + 1 peers (wg setconf)
#	set_ms          single-peer sets (new AllowedIPs for one peer): median and max of 200
#	                (SCALE_SETS=)
#	add_ms/del_ms   a set that adds one new peer, and one that removes it: median of 50
#	                (SCALE_ADDS=)
#	dump_ms         get=1, what `wg show dump` reads
#	rss_kib         VmRSS after the load, and kib_per_peer above the idle daemon's
#	rtt_idle_ms     ping a -> b through the tunnel, 200 probes 10 ms apart: median and max
#	rtt_sets_ms     the same while 100 single-peer sets per second run: median, max, loss
#	stall_*_ms      the event loop's longest stall a packet felt: the max RTT of pings a -> b
#	                every 5 ms during the load (wg setconf), during get=1, and during
#	                reload_s, a reload of a's file with N more peers (other keys) added
# The handshake lookup cost at N is the unit micro-benchmark (build/tests/test_peer_table
# prints it).
# shellcheck source=tests/netns/lib.sh
set -u
. "$(dirname "$0")/../../tests/netns/lib.sh"
SCALE=${SCALE:-$SN_ROOT/build/tests/scale}
[ -x "$SCALE" ] || fail "tests/tools/scale not built (make scale builds it)"
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 10000)

node_new a
node_new b
link_veth a b
{ conf_interface b; conf_peer a endpoint=4; } >"$(conf_path b)"
start_node b

rss_of() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# ping_stats NODE ADDR: "median max lost" in ms over 200 probes 10 ms apart.
ping_stats() {
	local out
	out=$(nsx "$1" ping -n -i 0.01 -c 200 -W 1 "$2" 2>/dev/null)
	{
		sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' <<<"$out" | sort -n
		echo "lost $(sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\1 \2/p' <<<"$out")"
	} | awk '
		$1 == "lost" { lost = $2 - $3; next }
		{ t[n++] = $1 }
		END { if (!n) print "- - " lost + 0; else printf "%.3f %.3f %d\n", t[int(n / 2)], t[n - 1], lost }'
}

# probe_start / probe_stop: pings a -> b every 5 ms around one operation; probe_stop sets
# PROBE_MAX, the longest RTT in ms (how long the daemon's loop held a packet), and
# PROBE_LOST, the pings lost (the last one excused: it may be in flight).
# ip netns exec, not nsx: $! must be the ping itself (ip execs it), and probe_stop runs in
# this shell, not in a $(...), to wait for it.
probe_start() {
	ip netns exec "${NS[a]}" ping -n -i 0.005 -W 2 "${OV4[b]}" >"$SN_TMP/probe" 2>&1 &
	PROBE=$!
	sleep 0.3
}
probe_stop() {
	sleep 0.3
	kill -INT "$PROBE"
	wait "$PROBE"
	# Lost: sent minus answered, but for the last probe when it has no answer: ping's own
	# count also takes the probe still in flight when it was stopped.
	awk '
		/time=/ {
			seq = $0; sub(/.*icmp_seq=/, "", seq); seq += 0
			if (!(seq in got)) { got[seq] = 1; n++ }
			if (seq > last) last = seq
			sub(/.*time=/, ""); t = $1 + 0; if (t > max) max = t
		}
		/packets transmitted/ { sent = $1 }
		END { printf "%.1f %d\n", max, sent - n - (sent > 0 && last < sent) }' \
		"$SN_TMP/probe" >"$SN_TMP/probe.res"
	read -r PROBE_MAX PROBE_LOST <"$SN_TMP/probe.res"
}

TABLE="$SN_TMP/table"
printf '%-7s %8s %16s %9s %9s %9s %9s %9s %16s %20s %9s %22s\n' peers load_s 'set_ms med/max' \
	add_ms del_ms dump_ms rss_mib kib/peer 'rtt_idle med/max' 'rtt_sets med/max/lost' \
	reload_s 'stall load/reload/dump' >"$TABLE"
sock="/var/run/wireguard/${IFACE[a]}.sock"
for n in "${SIZES[@]}"; do
	step "N = $n"
	{ conf_interface a; conf_peer b endpoint=4; } >"$(conf_path a)"
	start_node a
	nlog=$(wc -l <"${LOG[a]}")
	wait_ping a "${OV4[b]}" 10 || fail "no ping a -> b before the load"
	rss0=$(rss_of "${PID[a]}")
	# setconf replaces every peer: b's lines ride along with the synthetic ones.
	bkey=$(printf '%s' "${PUB[b]}" | base64 -d | od -An -tx1 | tr -d ' \n')
	printf 'public_key=%s\nallowed_ip=%s/32\nendpoint=%s:%s\n' "$bkey" "${OV4[b]}" \
		"${UL4[b]}" "${PORT[b]}" >"$SN_TMP/b.set"
	probe_start
	load=$("$SCALE" "$sock" load "$n" "$SN_TMP/b.set")
	probe_stop
	stall_load=$PROBE_MAX
	echo "$load (ping max $PROBE_MAX ms, $PROBE_LOST lost)"
	wait_ping a "${OV4[b]}" 10 || fail "no ping a -> b after the load"
	rss=$(rss_of "${PID[a]}")
	sets=$("$SCALE" "$sock" set "$n" "${SCALE_SETS:-200}")
	echo "$sets"
	addel=$("$SCALE" "$sock" add "$n" "${SCALE_ADDS:-50}")
	echo "$addel"
	probe_start
	dump=$("$SCALE" "$sock" dump)
	probe_stop
	stall_dump=$PROBE_MAX
	echo "$dump (ping max $PROBE_MAX ms, $PROBE_LOST lost)"
	read -r idle_med idle_max idle_lost < <(ping_stats a "${OV4[b]}")
	"$SCALE" "$sock" stream "$n" 100 2.5 >"$SN_TMP/stream.$n" &
	spid=$!
	read -r sets_med sets_max sets_lost < <(ping_stats a "${OV4[b]}")
	wait "$spid"
	cat "$SN_TMP/stream.$n"
	{ conf_interface a; conf_peer b endpoint=4; "$SCALE" - conf "$n"; } >"$(conf_path a)"
	probe_start
	reload=$("$SCALE" "$sock" reload)
	probe_stop
	stall_reload=$PROBE_MAX
	echo "$reload (ping max $PROBE_MAX ms, $PROBE_LOST lost)"
	# How the load and the reload were split: parsed, then applied, over turns of the loop.
	tail -n +"$((nlog + 1))" "${LOG[a]}" | grep 'turns of the event loop' | sed 's/^.*: \(notice\|info\): /    /'
	printf '%-7s %8s %16s %9s %9s %9s %9s %9s %16s %20s %9s %22s\n' "$n" \
		"$(sed -n 's/.*: \([0-9.]*\) s.*/\1/p' <<<"$load")" \
		"$(sed -n 's/.*median \([0-9.]*\) ms.*max \([0-9.]*\) ms.*/\1\/\2/p' <<<"$sets")" \
		"$(sed -n 's/^peer added: median \([0-9.]*\) ms.*/\1/p' <<<"$addel")" \
		"$(sed -n 's/^peer removed: median \([0-9.]*\) ms.*/\1/p' <<<"$addel")" \
		"$(sed -n 's/.*: \([0-9.]*\) ms.*/\1/p' <<<"$dump")" \
		"$(awk -v r="$rss" 'BEGIN { printf "%.1f", r / 1024 }')" \
		"$(awk -v r="$rss" -v r0="$rss0" -v n="$n" 'BEGIN { printf "%.2f", (r - r0) / n }')" \
		"$idle_med/$idle_max" "$sets_med/$sets_max/$sets_lost" \
		"$(sed -n 's/.*: \([0-9.]*\) s.*/\1/p' <<<"$reload")" \
		"$stall_load/$stall_reload/$stall_dump" >>"$TABLE"
	# Its exit removes a route per peer (2N by now): longer than stop_node waits at 10,000.
	t0=$(date +%s.%N)
	procs_stop 1200 TERM "${PID[a]}"
	echo "a stopped in $(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }') s"
done
echo
cat "$TABLE"
