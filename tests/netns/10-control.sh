#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# The control socket driven by the real wg(8): a (sealnetd) starts with no peer; b is added
# with `wg set`, c with `wg addconf`; `wg show` and `wg showconf` report them, and showconf
# round-trips through setconf.  `wg syncconf` then drops c while b's session goes on
# untouched (no new handshake, transfer still rising).  A malformed raw set=1 is refused with
# errno=-22 and changes nothing; a broken config on SIGHUP is logged with FILE:LINE and keeps
# the running state, a good one is applied.  Finally clients that connect and send nothing,
# or half a request, must block neither other clients nor the datapath.
. "$(dirname "$0")/lib.sh"

command -v socat >/dev/null || fail "socat is not installed (make deps)"
node_new a sealnetd # the node under test: its control socket, its SIGHUP
node_new b
node_new c
link_veth a b # 198.18.1.0/24: a .1, b .2
link_veth a c # 198.18.2.0/24: a .1, c .3
A_TO_C=198.18.2.${IDX[a]}
SOCK=/var/run/wireguard/${IFACE[a]}.sock

# wga ARGS...: wg about a's interface, from a's namespace.
wga() { nsx a wg "$@"; }

# hex KEY: a base64 key in the control socket's form.
hex() { base64 -d <<<"$1" | od -An -v -tx1 | tr -d ' \n'; }

# uapi REQUEST: send REQUEST (lines without the final blank line) to a's control socket and
# print the answer.
uapi() {
	printf '%s\n\n' "$1" | timeout 10 socat -t 5 - "UNIX-CONNECT:$SOCK"
}

# errno_of REQUEST: the errno= line of the answer.
errno_of() { uapi "$1" | sed -n 's/^errno=//p'; }

# latest NODE PEER: NODE's latest handshake time with PEER, as wg shows it (epoch seconds).
latest() { nsx "$1" wg show "${IFACE[$1]}" latest-handshakes | awk -v k="${PUB[$2]}" '$1 == k { print $2 }'; }

# transfer NODE PEER: "rx tx" bytes NODE counts with PEER.
transfer() { nsx "$1" wg show "${IFACE[$1]}" transfer | awk -v k="${PUB[$2]}" '$1 == k { print $2, $3 }'; }

# allowed_of PEER: the allowed ips a gives PEER, as wg shows them.
allowed_of() { wga show "${IFACE[a]}" allowed-ips | awk -v k="${PUB[$1]}" '$1 == k { $1 = ""; print substr($0, 2) }'; }

show_a() { wga show "${IFACE[a]}" >/dev/null; }

peers_of_a() { wga show "${IFACE[a]}" peers | sort | tr '\n' ' '; }

step "a (sealnetd) with no peer; b (${IMPL[b]}) knows a"
conf_interface a >"$(conf_path a)"
{ conf_interface b; conf_peer a endpoint=4; } >"$(conf_path b)"
start_node a
start_node b
check_eq "a: no peers at start" "$(peers_of_a)" ""
check "a: wg show answers" show_a

step "wg set: a learns b"
check "wg set a peer b allowed-ips ... endpoint ..." \
	wga set "${IFACE[a]}" peer "${PUB[b]}" allowed-ips "${OV4[b]}/32,${OV6[b]}/128" \
	endpoint "${UL4[b]}:${PORT[b]}"
check_eq "a: peers" "$(peers_of_a)" "${PUB[b]} "
check_eq "a: b's allowed ips" "$(allowed_of b)" "${OV4[b]}/32 ${OV6[b]}/128"
check "first ping a -> b (handshake) within 10 s" wait_ping a "${OV4[b]}" 10
check "ping a -> b" ping_ok a "${OV4[b]}"
check "ping b -> a, IPv6 overlay" ping_ok b "${OV6[a]}"
wga show "${IFACE[a]}" >"$SN_TMP/show1" || fail "wg show"
sed 's/^/    /' "$SN_TMP/show1"
check "wg show: latest handshake" grep -qE 'latest handshake: (Now|.* ago)' "$SN_TMP/show1"
check "wg show: transfer" grep -Eq 'transfer: [0-9.]+ [KMGi]*B received, [0-9.]+ [KMGi]*B sent' \
	"$SN_TMP/show1"
check "wg show: allowed ips" grep -q "allowed ips: ${OV4[b]}/32, ${OV6[b]}/128" "$SN_TMP/show1"
check "wg show: endpoint" grep -q "endpoint: ${UL4[b]}:${PORT[b]}" "$SN_TMP/show1"
check "wg show: listening port" grep -q "listening port: ${PORT[a]}" "$SN_TMP/show1"

step "wg showconf round-trips"
wga showconf "${IFACE[a]}" >"$SN_TMP/showconf1" || fail "wg showconf"
sed 's/^/    /' "$SN_TMP/showconf1"
check_eq "showconf: PrivateKey" "$(conf_get "$SN_TMP/showconf1" PrivateKey)" "${PRIV[a]}"
check_eq "showconf: ListenPort" "$(conf_get "$SN_TMP/showconf1" ListenPort)" "${PORT[a]}"
check_eq "showconf: PublicKey" "$(conf_get "$SN_TMP/showconf1" PublicKey)" "${PUB[b]}"
check_eq "showconf: AllowedIPs" "$(conf_get "$SN_TMP/showconf1" AllowedIPs | tr '\n' ' ')" \
	"${OV4[b]}/32 ${OV6[b]}/128 "
check_eq "showconf: Endpoint" "$(conf_get "$SN_TMP/showconf1" Endpoint)" "${UL4[b]}:${PORT[b]}"
counters_of a >/dev/null
hs0=$(peer_counter a b handshakes)
check "wg setconf with showconf's output" wga setconf "${IFACE[a]}" "$SN_TMP/showconf1"
wga showconf "${IFACE[a]}" >"$SN_TMP/showconf2" || fail "wg showconf"
check "showconf after setconf is identical" cmp -s "$SN_TMP/showconf1" "$SN_TMP/showconf2"
check "ping a -> b after setconf" ping_ok a "${OV4[b]}"
check_eq "a: handshakes with b unchanged by setconf of the same config" "$(handshakes a b)" "$hs0"

step "wg addconf: a learns c (${IMPL[c]})"
{
	conf_interface c
	conf_peer a
	echo "Endpoint = $A_TO_C:${PORT[a]}"
} >"$(conf_path c)"
start_node c
{
	echo "[Peer]"
	echo "PublicKey = ${PUB[c]}"
	echo "AllowedIPs = ${OV4[c]}/32, ${OV6[c]}/128"
	echo "Endpoint = ${UL4[c]}:${PORT[c]}"
} >"$SN_TMP/add-c.conf"
check "wg addconf" wga addconf "${IFACE[a]}" "$SN_TMP/add-c.conf"
check_eq "a: peers" "$(peers_of_a)" "$(printf '%s\n' "${PUB[b]}" "${PUB[c]}" | sort | tr '\n' ' ')"
check "ping a -> c within 10 s" wait_ping a "${OV4[c]}" 10
check "ping c -> a" ping_ok c "${OV4[a]}"
check "ping a -> b still" ping_ok a "${OV4[b]}"

step "wg syncconf without c: c goes, b's session goes on"
# The same config as now, minus c: the interface and b, as showconf wrote them.
cp "$SN_TMP/showconf1" "$SN_TMP/sync.conf"
counters_of a >/dev/null
hs1=$(peer_counter a b handshakes)
check_gt "a: handshakes with b so far" "$hs1" 0
lh1=$(latest a b)
read -r rx1 tx1 <<<"$(transfer a b)"
check "wg syncconf" wga syncconf "${IFACE[a]}" "$SN_TMP/sync.conf"
check_eq "a: peers after syncconf" "$(peers_of_a)" "${PUB[b]} "
check_eq "a: no allowed ips for c" "$(allowed_of c)" ""
check_not "ping a -> c fails now" ping_once a "${OV4[c]}"
check "ping a -> b (10 echoes) after syncconf" ping_ok a "${OV4[b]}" 10
check "ping b -> a after syncconf" ping_ok b "${OV4[a]}" 5
read -r rx2 tx2 <<<"$(transfer a b)"
check_gt "a: rx bytes from b keep rising" "$rx2" "$rx1"
check_gt "a: tx bytes to b keep rising" "$tx2" "$tx1"
check_eq "a: handshakes with b (same session)" "$(handshakes a b)" "$hs1"
check_eq "a: latest handshake with b unchanged" "$(latest a b)" "$lh1"
wga showconf "${IFACE[a]}" >"$SN_TMP/showconf3" || fail "wg showconf"
check "showconf after syncconf equals the synced file" cmp -s "$SN_TMP/sync.conf" "$SN_TMP/showconf3"

step "a setconf of 150 peers goes in slices; b's session goes on; get comes in pieces"
# More than a slice (DEVICE_SLICE, 32) of peers, and more than a get writes in one turn
# (128): every slice, the removals and the get's pieces run. Keys are any 32 bytes.
K=()
for i in $(seq 1 150); do K[i]=$(head -c 32 /dev/urandom | base64); done
# big_conf LAST HOLDER: b and peers 1..LAST, each 10.77.X.Y/32, HOLDER also 10.78.0.0/24.
big_conf() {
	cat "$SN_TMP/sync.conf"
	for i in $(seq 1 "$1"); do
		printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.77.%d.%d/32%s\n' "${K[i]}" \
			$((i / 250)) $((i % 250 + 1)) "$([ "$i" = "$2" ] && echo ', 10.78.0.0/24')"
	done
}
holder_of() { wga show "${IFACE[a]}" allowed-ips | awk '/10\.78\.0\.0\/24/ { print $1 }'; }
npeers() { wga show "${IFACE[a]}" peers | wc -l; }
big_conf 150 1 >"$SN_TMP/big1.conf"
hs2=$(handshakes a b)
check "wg setconf: b and 150 peers" wga setconf "${IFACE[a]}" "$SN_TMP/big1.conf"
check_eq "a: peers (wg show, one get in pieces)" "$(npeers)" 151
check "a's log: 151 peers set in slices" grep -q ': 151 peers set, 0 removed, in slices' "${LOG[a]}"
check_eq "10.78.0.0/24 is peer 1's" "$(holder_of)" "${K[1]}"
check "a routes 10.78.0.0/24 into the tunnel" \
	sh -c "ip -n ${NS[a]} route get 10.78.0.1 | grep -q 'dev ${IFACE[a]}'"
# The same 150 peers and new prefixes, replacing them all, and a bad line at the very end:
# the whole set is parsed (over several turns when long) before any of it is applied.
wga showconf "${IFACE[a]}" >"$SN_TMP/before" || fail "wg showconf"
HK=()
for i in $(seq 1 150); do HK[i]=$(hex "${K[i]}"); done
badset=$(
	printf 'set=1\nreplace_peers=true\n'
	for i in $(seq 1 150); do
		printf 'public_key=%s\nallowed_ip=10.79.%d.%d/32\n' "${HK[i]}" $((i / 250)) $((i % 250))
	done
	printf 'allowed_ip=10.79.9.0/33'
)
check_eq "a 150-peer set with a bad last line: refused" "$(errno_of "$badset")" -22
check "the daemon logs the refusal with the last line's number" \
	grep -q "set refused, nothing changed: line 302: allowed_ip: bad prefix" "${LOG[a]}"
check "showconf identical after the refused set" \
	cmp -s "$SN_TMP/before" <(wga showconf "${IFACE[a]}")
# Peers 101..150 go (two slices of removals); 10.78.0.0/24 moves from peer 1 (first slice)
# to peer 100 (fourth), as one apply would move it.
big_conf 100 100 >"$SN_TMP/big2.conf"
check "wg setconf: b and 100 of them, 10.78.0.0/24 to peer 100" \
	wga setconf "${IFACE[a]}" "$SN_TMP/big2.conf"
check_eq "a: peers" "$(npeers)" 101
check_eq "10.78.0.0/24 is peer 100's" "$(holder_of)" "${K[100]}"
check_eq "peer 1 keeps its own /32 only" "$(wga show "${IFACE[a]}" allowed-ips |
	awk -v k="${K[1]}" '$1 == k { print $2, $3 }')" "10.77.0.2/32 "
# Three requests in one connection: a get (in pieces), a set that removes peer 2, a get.
hk2=$(hex "${K[2]}")
printf 'get=1\n\nset=1\npublic_key=%s\nremove=true\n\nget=1\n\n' "$hk2" |
	timeout 10 socat -t 5 - "UNIX-CONNECT:$SOCK" >"$SN_TMP/pipelined"
check_eq "pipelined: three answers, in order" \
	"$(grep -o '^errno=.*' "$SN_TMP/pipelined" | tr '\n' ' ')" "errno=0 errno=0 errno=0 "
check_eq "pipelined: the first get has 101 peers, the second 100" \
	"$(awk '/^public_key=/ { n++ } /^errno=/ { printf "%d ", n; n = 0 }' "$SN_TMP/pipelined")" \
	"101 0 100 "
# A script that sends a set and a get and closes its side at once: the EOF comes while the
# set (50 new peers) is still applied in slices, and the get behind it is answered all the
# same (it was dropped: the client was closed with the set's answer).
eof_requests() {
	printf 'set=1\n'
	for i in $(seq 101 150); do
		printf 'public_key=%s\nallowed_ip=10.79.%d.%d/32\n' "${HK[i]}" $((i / 250)) $((i % 250))
	done
	printf '\nget=1\n\n'
}
eof_requests | timeout 10 socat -t 5 - "UNIX-CONNECT:$SOCK" >"$SN_TMP/eof"
check_eq "EOF behind a set in slices: both answered" \
	"$(grep -o '^errno=.*' "$SN_TMP/eof" | tr '\n' ' ')" "errno=0 errno=0 "
check_eq "the get after it has the 50 new peers" "$(grep -c '^public_key=' "$SN_TMP/eof")" 150
check "wg syncconf back to b alone (149 removals in slices)" \
	wga syncconf "${IFACE[a]}" "$SN_TMP/sync.conf"
check_eq "a: peers" "$(peers_of_a)" "${PUB[b]} "
check_not "no route for 10.78.0.0/24 left" \
	sh -c "ip -n ${NS[a]} route show | grep -q '10\.78\.0\.0/24'"
check "ping a -> b" ping_ok a "${OV4[b]}" 5
check_eq "a: handshakes with b unchanged through the slices" "$(handshakes a b)" "$hs2"

step "a malformed raw set=1 is refused, all or nothing"
wga showconf "${IFACE[a]}" >"$SN_TMP/before" || fail "wg showconf"
hb=$(hex "${PUB[b]}")
check_eq "bad prefix /40" "$(errno_of "set=1
public_key=$hb
allowed_ip=1.2.3.4/40")" -22
# Good lines first: none of them may stick.
check_eq "good lines, then a bad endpoint" "$(errno_of "set=1
listen_port=$((PORT[a] + 100))
public_key=$(hex "${PUB[c]}")
allowed_ip=100.64.0.99/32
public_key=$hb
replace_allowed_ips=true
allowed_ip=100.64.9.0/24
endpoint=198.18.1.2")" -22
check_eq "unknown key" "$(errno_of "set=1
public_key=$hb
frobnicate=1")" -22
check_eq "protocol_version=2" "$(errno_of "set=1
public_key=$hb
protocol_version=2")" -22 # EINVAL, as wireguard-go answers
check_eq "unknown request" "$(errno_of "frobnicate=1")" -22
wga showconf "${IFACE[a]}" >"$SN_TMP/after" || fail "wg showconf"
check "showconf identical after the refused sets" cmp -s "$SN_TMP/before" "$SN_TMP/after"
check_eq "a: peers" "$(peers_of_a)" "${PUB[b]} "
check "the daemon logs the refusal with the line" \
	grep -q "set refused, nothing changed: line 2: allowed_ip" "${LOG[a]}"
check "a valid raw set=1 through the same path" test "$(errno_of "set=1
public_key=$hb
persistent_keepalive_interval=0")" = 0
check "ping a -> b" ping_ok a "${OV4[b]}"

step "SIGHUP with a broken config keeps the running state"
wga showconf "${IFACE[a]}" >"$SN_TMP/before" || fail "wg showconf"
wga show "${IFACE[a]}" allowed-ips >"$SN_TMP/allowed-before"
hs2=$(handshakes a b)
{
	conf_interface a
	conf_peer b endpoint=4
	echo "AllowedIPs = 100.64.5.0/40"
} >"$(conf_path a)"
badline=$(grep -n '100.64.5.0/40' "$(conf_path a)" | cut -d: -f1)
nlog=$(wc -l <"${LOG[a]}")
kill -s HUP "${PID[a]}"
reload_logged() { tail -n +"$((nlog + 1))" "${LOG[a]}" | grep "reload: .*$(conf_path a):$badline:" >/dev/null; }
check "a logs the bad file as FILE:LINE ($(basename "$(conf_path a)"):$badline)" wait_for 5 reload_logged
tail -n +"$((nlog + 1))" "${LOG[a]}" | grep 'reload' | sed 's/^/    /'
check "a still running" node_alive a
wga showconf "${IFACE[a]}" >"$SN_TMP/after" || fail "wg showconf"
check "showconf unchanged" cmp -s "$SN_TMP/before" "$SN_TMP/after"
check "wg show allowed-ips unchanged" \
	cmp -s "$SN_TMP/allowed-before" <(wga show "${IFACE[a]}" allowed-ips)
check "ping a -> b" ping_ok a "${OV4[b]}"

step "SIGHUP with a good changed config of 41 peers applies it in slices"
{
	conf_interface a
	conf_peer b endpoint=4
	echo "AllowedIPs = 100.64.5.0/24"
	for i in $(seq 1 40); do
		printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.77.0.%d/32\n' "${K[i]}" "$i"
	done
} >"$(conf_path a)"
nlog=$(wc -l <"${LOG[a]}")
kill -s HUP "${PID[a]}"
reloaded() { tail -n +"$((nlog + 1))" "${LOG[a]}" | grep "reloaded $(conf_path a)" >/dev/null; }
check "a logs the reload" wait_for 5 reloaded
check "a's log: 41 peers set in slices, by the SIGHUP" \
	sh -c "tail -n +$((nlog + 1)) ${LOG[a]} | grep -Eq ': 41 peers set, 0 removed, in slices over ([2-9]|[1-9][0-9]+) turns'"
check_eq "a: peers" "$(npeers)" 41
check "b's new AllowedIPs in wg show" \
	grep -q "100.64.5.0/24" <(wga show "${IFACE[a]}" allowed-ips | awk -v k="${PUB[b]}" '$1 == k')
check "a routes 100.64.5.0/24 into the tunnel" \
	nsx a sh -c "ip route get 100.64.5.1 | grep -q 'dev ${IFACE[a]}'"
check "ping a -> b after the reload" ping_ok a "${OV4[b]}"
check_eq "a: handshakes with b unchanged by the reload" "$(handshakes a b)" "$hs2"
# A SIGHUP while a set runs in slices waits for its end: not lost, nor run inside it. (One
# signal: two sent at once may merge into one.) A set of 2000 new peers, 100 ms or more in
# slices, and a file with 40 peers more: whichever runs first, a has b, the file's 80 and
# the set's 2000 then. The log says whether the reload waited (most often).
{
	conf_interface a
	conf_peer b endpoint=4
	echo "AllowedIPs = 100.64.5.0/24"
	for i in $(seq 1 80); do
		printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.77.0.%d/32\n' "${K[i]}" "$i"
	done
} >"$(conf_path a)"
many=$(head -c $((32 * 2000)) /dev/urandom | od -An -v -tx1 | tr -d ' \n' | fold -w 64 |
	sed 's/^/public_key=/')
nlog=$(wc -l <"${LOG[a]}")
errno_of "set=1
$many" >"$SN_TMP/many.errno" &
setter=$!
sleep 0.1
kill -s HUP "${PID[a]}"
check "a set of 2000 new peers meanwhile" wait "$setter"
check_eq "its answer" "$(cat "$SN_TMP/many.errno")" 0
one_reload() { [ "$(tail -n +"$((nlog + 1))" "${LOG[a]}" | grep -c "reloaded $(conf_path a)")" = 1 ]; }
check "a SIGHUP during the set: one reload" wait_for 5 one_reload
tail -n +"$((nlog + 1))" "${LOG[a]}" | grep -E 'SIGHUP|reloaded|peers set' | sed 's/^/    /'
check_eq "a: peers" "$(npeers)" 2081
# Back to b alone by replacing: the search for the 2080 peers that go walks the device's
# peers 1024 a turn (job.c, JOB_SCAN), and takes every one.
nlog=$(wc -l <"${LOG[a]}")
check "wg setconf back to b alone (2080 removals)" wga setconf "${IFACE[a]}" "$SN_TMP/sync.conf"
check_eq "a: peers" "$(peers_of_a)" "${PUB[b]} "
check "a's log: 1 peer set, 2080 removed" \
	sh -c "tail -n +$((nlog + 1)) ${LOG[a]} | grep -q ': 1 peers set, 2080 removed, in slices'"
check "ping a -> b" ping_ok a "${OV4[b]}" 5

step "silent clients block nothing"
# One connection that never sends, one with half a request (no blank line) kept open through
# a FIFO that this shell holds.  Both run in a's namespace, where the daemon's ends of the
# connections live too (a UNIX socket accepted belongs to the connecting side's namespace).
bg_start "$SN_TMP/silent.log" a socat -u "UNIX-CONNECT:$SOCK" STDOUT
silent=$BG_PID
mkfifo "$SN_TMP/half.fifo"
exec 9<>"$SN_TMP/half.fifo"
# Not bg_start: an asynchronous command's stdin is /dev/null unless redirected on itself.
# -u: socat would not read the socket anyway while its output, a read-only FIFO, is not
# writable.
ip netns exec "${NS[a]}" socat -u STDIN "UNIX-CONNECT:$SOCK" <"$SN_TMP/half.fifo" \
	>"$SN_TMP/half.log" 2>&1 &
half=$!
track "$half"
printf 'set=1\nlisten_port=%s\n' "$((PORT[a] + 200))" >&9
opened=$SECONDS
# conns: established connections to a's control socket, as seen from a's namespace.
conns() { nsx a ss -xH | grep -cF "$SOCK "; }
conns_are() { [ "$(conns)" = "$1" ]; }
check "both clients connected" wait_for 5 conns_are 2
t0=$(date +%s%N)
wga show "${IFACE[a]}" >/dev/null || fail "wg show with silent clients connected"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 1000 ] || fail "wg show took ${ms} ms with a silent client connected"
ok "wg show answers at once with two silent clients (${ms} ms)"
check "wg set works meanwhile" wga set "${IFACE[a]}" peer "${PUB[b]}" persistent-keepalive 0
check "ping a -> b meanwhile (10 echoes)" ping_ok a "${OV4[b]}" 10
check "ping b -> a meanwhile" ping_ok b "${OV4[a]}" 5
check_eq "the half request changed nothing" "$(conf_get <(wga showconf "${IFACE[a]}") ListenPort)" \
	"${PORT[a]}"
check_eq "both clients still connected" "$(conns)" 2
# The daemon drops clients idle for 10 s (UAPI_TIMEOUT_SEC); both must be gone by 15 s.
check "a drops both idle clients within 15 s" wait_for $((15 - (SECONDS - opened))) conns_are 0
say "idle clients dropped after about $((SECONDS - opened)) s"
check "the silent client saw the close" wait_for 2 sh -c "! kill -0 $silent"
stop_pid "$silent"
stop_pid "$half"
exec 9>&-
check "a still running" node_alive a
check "wg show still answers" show_a

stop_node a
ok "a exited 0 on SIGTERM, ${IFACE[a]} gone"
check "a removed its control socket" test ! -e "$SOCK"
say "done"
