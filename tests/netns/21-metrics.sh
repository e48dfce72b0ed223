#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# Prometheus metrics (MetricsListen): two sealnetd nodes, a serving on 127.0.0.1 and b on
# [::1] inside their namespaces.  After N pings the pages must pass `promtool check metrics`
# and show the traffic (packets >= N, a handshake, no drops); other paths are 404, other
# methods 405; a reload that moves MetricsListen only logs a notice; a second daemon on the
# same port refuses to start.  Taken at a quiet moment, after traffic that makes every pair of
# counters differ (a one-way UDP burst), each page must equal, sample for sample, what the
# control socket's get=sealnet answers.
. "$(dirname "$0")/lib.sh"

MPORT=9586
N=20

command -v curl >/dev/null || fail "curl is not installed (make deps)"

# The metrics are sealnetd's own: IMPL=wggo does not apply here.
node_new a sealnetd
node_new b sealnetd
link_veth a b
# The kernel's IPv6 router solicitations on the TUN have no peer and would count as
# drop_link_local; without them every drop counter must stay 0.
for node in a b; do
	nsx "$node" sysctl -qw net.ipv6.conf.default.router_solicitations=0 || fail "sysctl in $node"
done

# fetch NODE URL FILE [curl args...]: body into FILE, headers into FILE.h; prints the status.
fetch() {
	local node=$1 url=$2 file=$3
	shift 3
	nsx "$node" curl -sS --max-time 5 -D "$file.h" -o "$file" -w '%{http_code}' "$@" "$url"
}

# refused NODE URL: nothing listens there.
refused() { ! nsx "$1" curl -s --max-time 2 -o /dev/null "$2"; }

link_exists() { ip -n "${NS[$1]}" link show "$2" >/dev/null 2>&1; }

# sample FILE METRIC LABELS: the value of the sample METRIC{LABELS} (empty if absent); a
# peer's name label (which may hold blanks) is left out: check_names looks at it.
sample() {
	awk -v want="$2{$3}" '{ k = $0; sub(/ [^ ]*$/, "", k); sub(/,name="([^"\\]|\\.)*"/, "", k) } k == want { print $NF }' "$1"
}

# check_names FILE NODE NAME: every peer sample of the page carries name="NAME" (none when
# NAME is empty).
check_names() {
	local all named
	all=$(grep -c '^sealnet_peer_[a-z_]*{.*peer="' "$1")
	named=$(grep -cF "name=\"$3\"}" "$1")
	check_gt "$2: peer samples on the page" "$all" 6
	if [ -n "$3" ]; then
		check_eq "$2: each peer sample names the peer ($3)" "$named" "$all"
	else
		check_eq "$2: no name label without a Name" "$(grep -c 'name="' "$1")" 0
	fi
}

# peer_sample FILE NODE PEER METRIC: METRIC of NODE's page about PEER.
peer_sample() {
	sample "$1" "$4" "interface=\"${IFACE[$2]}\",peer=\"${PUB[$3]}\""
}

promcheck() {
	if command -v promtool >/dev/null; then
		check "promtool check metrics ($1)" promtool check metrics <"$2"
	else
		skip "promtool check metrics ($1): promtool not installed (Debian package prometheus)"
	fi
}

# check_page NODE PEER FILE: the page of NODE after the pings, about PEER.
check_page() {
	local node=$1 peer=$2 file=$3 now last drops rx tx want have
	promcheck "$node" "$file"
	check "$node: Content-Type is the 0.0.4 text format" \
		grep -qi '^Content-Type: text/plain; version=0.0.4; charset=utf-8' "$file.h"
	check_eq "$node: sealnet_peers" "$(sample "$file" sealnet_peers "interface=\"${IFACE[$node]}\"")" 1
	check_gt "$node: rx packets from $peer" "$(peer_sample "$file" "$node" "$peer" sealnet_peer_rx_packets_total)" $((N - 1))
	check_gt "$node: tx packets to $peer" "$(peer_sample "$file" "$node" "$peer" sealnet_peer_tx_packets_total)" $((N - 1))
	check_gt "$node: rx bytes from $peer" "$(peer_sample "$file" "$node" "$peer" sealnet_peer_rx_bytes_total)" $((N * 84))
	check_gt "$node: tx bytes to $peer" "$(peer_sample "$file" "$node" "$peer" sealnet_peer_tx_bytes_total)" $((N * 84))
	check_gt "$node: handshakes with $peer" "$(peer_sample "$file" "$node" "$peer" sealnet_peer_handshakes_total)" 0
	check_eq "$node: failed handshakes with $peer" "$(peer_sample "$file" "$node" "$peer" sealnet_peer_handshakes_failed_total)" 0
	now=$(date +%s)
	last=$(peer_sample "$file" "$node" "$peer" sealnet_peer_last_handshake_seconds)
	check_gt "$node: last handshake with $peer is recent" "$last" $((now - 120))
	[ "$last" -le "$now" ] || fail "$node: last handshake $last is in the future (now $now)"
	drops=$(awk '/^sealnet_drops_total\{/ && $2 != 0' "$file")
	[ -z "$drops" ] || fail "$node: drops: $drops"
	ok "$node: every drop counter is 0"
	# The same counters through SIGUSR1, read after the page: never behind it.
	counters_of "$node" >/dev/null
	rx=$(sample "$file" sealnet_rx_datagrams_total "interface=\"${IFACE[$node]}\"")
	tx=$(sample "$file" sealnet_tx_datagrams_total "interface=\"${IFACE[$node]}\"")
	check_gt "$node: rx datagrams" "$rx" $((N - 1))
	check_gt "$node: tx datagrams" "$tx" $((N - 1))
	[ "$rx" -le "$(counter "$node" rx_datagrams)" ] && [ "$tx" -le "$(counter "$node" tx_datagrams)" ] &&
		[ "$(peer_sample "$file" "$node" "$peer" sealnet_peer_rx_packets_total)" -le "$(peer_counter "$node" "$peer" rx_packets)" ] ||
		fail "$node: page ahead of the SIGUSR1 counters: $(cat "$SN_TMP/$node.counters")"
	ok "$node: page agrees with the SIGUSR1 counters"
	want=$(tr ' ' '\n' <"$SN_TMP/$node.counters" | sed -n 's/^drop_\([a-z0-9_]*\)=.*/\1/p' | sort)
	have=$(sed -n 's/^sealnet_drops_total{.*,reason="\([^"]*\)"}.*/\1/p' "$file" | sort)
	[ -n "$want" ] && [ "$want" = "$have" ] ||
		fail "$node: drop reasons on the page ($(echo $have)) are not the daemon's ($(echo $want))"
	ok "$node: one drop sample per reason, without the drop_ prefix ($(echo "$have" | wc -l))"
}

# uapi_get NODE FILE: the control socket's answer to get=sealnet.
uapi_get() {
	nsx "$1" socat -t 2 - "UNIX-CONNECT:/var/run/wireguard/${IFACE[$1]}.sock" \
		<<<$'get=sealnet\n' >"$2" 2>&1 && grep -qx 'errno=0' "$2"
}

# hex_key NODE: the node's public key in hex, as the control socket writes it.
hex_key() { base64 -d <<<"${PUB[$1]}" | od -An -tx1 | tr -d ' \n'; }

# page_samples FILE: every sample of a page as "name{labels} value", without the interface
# label (one interface per page) and a peer's name, with peers in hex; rules by index only.
page_samples() {
	local node sed_keys=()
	for node in "${SN_NODES[@]}"; do
		sed_keys+=(-e "s|peer=\"${PUB[$node]}\"|peer=\"$(hex_key "$node")\"|")
	done
	awk '/^#/ || NF == 0 { next }
		{ name = $0; sub(/ [^ ]*$/, "", name); sub(/interface="[^"]*",?/, "", name); sub(/,?rule="([^"\\]|\\.)*"/, "", name)
		  sub(/,name="([^"\\]|\\.)*"/, "", name)
		  sub(/\{\}$/, "", name); print name " " $NF }' "$1" | sed "${sed_keys[@]}" | sort
}

# uapi_samples FILE: the same samples, as the control socket's counters say they must be.
uapi_samples() {
	awk '
		BEGIN {
			m["sealnet_rx_datagrams"] = "sealnet_rx_datagrams_total"
			m["sealnet_tx_datagrams"] = "sealnet_tx_datagrams_total"
			m["sealnet_cookie_replies_sent"] = "sealnet_cookie_replies_sent_total"
			pm["rx_bytes"] = "sealnet_peer_rx_bytes_total"
			pm["tx_bytes"] = "sealnet_peer_tx_bytes_total"
			pm["sealnet_rx_packets"] = "sealnet_peer_rx_packets_total"
			pm["sealnet_tx_packets"] = "sealnet_peer_tx_packets_total"
			pm["sealnet_handshakes"] = "sealnet_peer_handshakes_total"
			pm["sealnet_handshakes_failed"] = "sealnet_peer_handshakes_failed_total"
			pm["sealnet_initiations"] = "sealnet_peer_handshake_initiations_total"
			pm["sealnet_rotations"] = "sealnet_peer_keypair_rotations_total"
			pm["sealnet_staged_dropped"] = "sealnet_peer_staged_dropped_total"
			pm["last_handshake_time_sec"] = "sealnet_peer_last_handshake_seconds"
		}
		{ i = index($0, "="); k = substr($0, 1, i - 1); v = substr($0, i + 1) }
		k == "public_key" { peer = v; peers++; next }
		peer == "" && (k in m) { print m[k] " " v }
		peer == "" && k ~ /^sealnet_drop_/ { print "sealnet_drops_total{reason=\"" substr(k, 14) "\"} " v }
		peer == "" && k == "sealnet_rule_matches" { print "sealnet_rule_matches_total{index=\"" rules++ "\"} " v }
		peer != "" && (k in pm) { print pm[k] "{peer=\"" peer "\"} " v }
		END { print "sealnet_peers " peers + 0 }' "$1" | sort
}

# same_as_uapi NODE URL: a page, the control socket, the page again; where nothing moved in
# between (no keepalive, no retry), the page must equal the control socket's counters.
same_as_uapi() {
	local node=$1 url=$2 f=$SN_TMP/$1.same i
	for i in $(seq 10); do
		[ "$(fetch "$node" "$url" "$f.1")" = 200 ] || fail "$node: GET $url"
		uapi_get "$node" "$f.uapi" || fail "$node: get=sealnet on the control socket: $(cat "$f.uapi")"
		[ "$(fetch "$node" "$url" "$f.2")" = 200 ] || fail "$node: GET $url"
		if cmp -s "$f.1" "$f.2"; then
			page_samples "$f.1" >"$f.page"
			uapi_samples "$f.uapi" >"$f.want"
			diff -u "$f.want" "$f.page" >"$f.diff" ||
				fail "$node: the page is not what the control socket says (- get=sealnet, + page):$(printf '\n%s' "$(tail -n +3 "$f.diff")")"
			ok "$node: all $(wc -l <"$f.page") samples equal the control socket's counters"
			return 0
		fi
		sleep 1
	done
	fail "$node: counters kept moving for 10 s: no quiet moment to compare the page with"
}

step "a (MetricsListen 127.0.0.1:$MPORT) <-> b (MetricsListen [::1]:$MPORT), $N pings"
# a names b (Name =): its samples carry the name as a label.
{ conf_interface a; echo "MetricsListen = 127.0.0.1:$MPORT"; conf_peer b endpoint=4; echo "Name = b's laptop, rack 3"; } >"$(conf_path a)"
{ conf_interface b; echo "MetricsListen = [::1]:$MPORT"; conf_peer a endpoint=4; } >"$(conf_path b)"
start_node a
start_node b
check "a: notice with the metrics URL" grep -q "metrics on http://127.0.0.1:$MPORT/metrics" "${LOG[a]}"
check "first ping a -> b (handshake) within 10 s" wait_ping a "${OV4[b]}" 10
check "$N pings a -> b" ping_ok a "${OV4[b]}" "$N"
# One way only, so that no counter equals its opposite (rx and tx packets would, after pings).
udp_burst_check "a -> b, 300 datagrams" a b "${OV4[b]}" 300 64

step "each page equals the control socket's counters (get=sealnet), at a quiet moment"
same_as_uapi a "http://127.0.0.1:$MPORT/metrics"
same_as_uapi b "http://[::1]:$MPORT/metrics"

step "a's page"
check_eq "a: GET /metrics" "$(fetch a "http://127.0.0.1:$MPORT/metrics" "$SN_TMP/a.prom")" 200
check_page a b "$SN_TMP/a.prom"
check_names "$SN_TMP/a.prom" a "b's laptop, rack 3"

step "b's page (IPv6 loopback)"
check_eq "b: GET /metrics" "$(fetch b "http://[::1]:$MPORT/metrics" "$SN_TMP/b.prom")" 200
check_page b a "$SN_TMP/b.prom"
check_names "$SN_TMP/b.prom" b ""
check "b: nothing on 127.0.0.1:$MPORT (IPv6 only)" refused b "http://127.0.0.1:$MPORT/metrics"

step "other paths and methods"
check_eq "a: GET / is 404" "$(fetch a "http://127.0.0.1:$MPORT/" "$SN_TMP/r")" 404
check_eq "a: GET /metrics/x is 404" "$(fetch a "http://127.0.0.1:$MPORT/metrics/x" "$SN_TMP/r")" 404
check_eq "a: GET /metrics?x=1 is 200" "$(fetch a "http://127.0.0.1:$MPORT/metrics?x=1" "$SN_TMP/r")" 200
check_eq "a: POST /metrics is 405" "$(fetch a "http://127.0.0.1:$MPORT/metrics" "$SN_TMP/r" -X POST -d x=1)" 405
check "a: 405 names the allowed methods" grep -qi '^Allow: GET, HEAD' "$SN_TMP/r.h"
check_eq "a: DELETE /metrics is 405" "$(fetch a "http://127.0.0.1:$MPORT/metrics" "$SN_TMP/r" -X DELETE)" 405
check_eq "a: HEAD /metrics is 200" "$(fetch a "http://127.0.0.1:$MPORT/metrics" "$SN_TMP/r" -I)" 200

step "reload with another MetricsListen: a notice, the page stays where it was"
sed -i "s/^MetricsListen = .*/MetricsListen = 127.0.0.1:$((MPORT + 1))/" "$(conf_path a)"
kill -s HUP "${PID[a]}"
check "a: reload logged" wait_for 5 grep -q "reloaded" "${LOG[a]}"
check "a: notice that MetricsListen takes effect on restart" \
	grep -q "MetricsListen 127.0.0.1:$((MPORT + 1)) takes effect on restart" "${LOG[a]}"
check_eq "a: old address still serves" "$(fetch a "http://127.0.0.1:$MPORT/metrics" "$SN_TMP/r")" 200
check "a: nothing on the new address yet" refused a "http://127.0.0.1:$((MPORT + 1))/metrics"

step "a second daemon in a's namespace on the same metrics port refuses to start"
busy_if="sn${SN_SCEN}x$$"
busy_if=${busy_if:0:15}
busy_conf=$SN_TMP/busy.conf
busy_log=$SN_TMP/busy.log
printf '[Interface]\nPrivateKey = %s\nMetricsListen = 127.0.0.1:%s\n' "$(genkey)" "$MPORT" >"$busy_conf"
chmod 600 "$busy_conf"
nsx a timeout 15 "$SEALNETD" -f -c "$busy_conf" "$busy_if" >"$busy_log" 2>&1
rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "second daemon: exit code $rc, expected a failure at startup"
ok "second daemon exited with $rc"
check "second daemon says why" \
	grep -q "$busy_if: MetricsListen 127.0.0.1:$MPORT: cannot listen: Address already in use" "$busy_log"
check_not "second daemon removed $busy_if" link_exists a "$busy_if"
check_not "second daemon removed its control socket" test -e "/var/run/wireguard/$busy_if.sock"
check_eq "a: still serving" "$(fetch a "http://127.0.0.1:$MPORT/metrics" "$SN_TMP/r")" 200

step "garbage at b's port: drops of several reasons, and b's page still equals get=sealnet"
[ -x "$UDPFUZZ" ] || fail "udpfuzz not found at $UDPFUZZ (make build/tests/udpfuzz)"
nsx a "$UDPFUZZ" -i 100 garbage "${UL4[b]}" "${PORT[b]}" 1000 2>&1 | sed 's/^/    /'
same_as_uapi b "http://[::1]:$MPORT/metrics"
reasons=$(awk '/^sealnet_drops_total\{/ && $2 != 0 { print $2 }' "$SN_TMP/b.same.1" | sort -u | wc -l)
check_gt "b: distinct non-zero drop counts compared" "$reasons" 2

step "stop"
stop_node a
ok "a exited 0 on SIGTERM"
stop_node b
ok "b exited 0 on SIGTERM"
check "a's metrics port closed" refused a "http://127.0.0.1:$MPORT/metrics"
say "done"
