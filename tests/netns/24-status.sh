#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# sealnet status (and show --brief, show --json, show IFACE FIELD) on a node with three named
# peers: two that answer (online) and one that answered once and then went down (stale, as
# soon as a's handshake to it goes unanswered). A peer with traffic flowing has a non-zero
# rate, an idle one 0. The kernel's own IPv6 multicast on the new interface is no no_route
# drop; a real no_route drop gets one log line, and more within the minute none. Names
# survive set and reload; the fields of `show IFACE dump|endpoints|...` are what `wg show`
# prints from the same socket (private-key too, as wg; the rest keeps keys hidden); colours
# appear on a terminal only.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

[ "${IMPL_A:-${IMPL:-sealnetd}}" = sealnetd ] || { skip "status needs sealnetd on a"; exit 0; }
node_new a sealnetd
node_new b
node_new c
node_new d
link_veth a b
link_veth a c
link_veth a d
ifa=${IFACE[a]}
out=$SN_TMP/out
err=$SN_TMP/err

# tool EXPECTED_RC ARGS...: run sealnet in a's namespace, stdout in $out, stderr in $err.
tool() {
	local want=$1 rc
	shift
	nsx a "$SEALNET" "$@" >"$out" 2>"$err"
	rc=$?
	if [ "$rc" != "$want" ]; then
		sed 's/^/    stderr: /' "$err" >&2
		fail "sealnet $*: exit $rc, expected $want"
	fi
}

# jq_ FILE EXPR: EXPR of the JSON document in FILE, with d its first interface.
jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['interfaces'][0]; print(eval(sys.argv[2]))" "$1" "$2"; }

# peer_line NAME: the status line of that peer, blanks squeezed.
peer_line() { grep -E "^  $1 " "$out" | tr -s ' '; }

step "a with three named peers; b, c and d up"
{
	conf_interface a
	conf_peer b endpoint=4
	echo "Name = laptop"
	conf_peer c endpoint=4
	echo "Name = build server"
	conf_peer d endpoint=4
	echo "Name = phone"
} >"$(conf_path a)"
for n in b c d; do
	{ conf_interface "$n"; conf_peer a; } >"$(conf_path "$n")"
	start_node "$n"
done
start_node a
for n in b c d; do
	check "a pings $n" wait_ping a "${OV4[$n]}" 10
done

step "the kernel's own multicast on a's new interface is not a no_route drop"
# By now the kernel has sent its MLD reports (and router solicitations) for a's IPv6 address.
tool 0 show "$ifa" --json
cp "$out" "$SN_TMP/idle.json"
check_eq "no_route on a healthy interface" "$(jq_ "$SN_TMP/idle.json" "d['counters']['drops']['no_route']")" 0
check_gt "link_local counts them" "$(jq_ "$SN_TMP/idle.json" "d['counters']['drops']['link_local']")" 0
tool 0 status "$ifa" --interval 0
check_not "status shows neither no_route nor link_local" grep -Eq "drops:.*(no_route|link_local)" "$out"

step "a real no_route drop: one log line, more drops within the minute add none"
nowhere=${OV4[a]%.*}.250
routelines() { grep -c "$ifa: drops: no_route" "${LOG[a]}"; }
one_line() { [ "$(routelines)" = 1 ]; }
nsx a ping -n -q -c 2 -i 0.2 -W 1 "$nowhere" >/dev/null 2>&1
check "one line within 3 s" wait_for 3 one_line
grep "$ifa: drops: no_route" "${LOG[a]}" | sed 's/^/    | /'
check "it says what to do" grep -Eq "drops: no_route \([12] so far\): .*add it to a peer's AllowedIPs" "${LOG[a]}"
nsx a ping -n -q -c 5 -i 0.2 -W 1 "$nowhere" >/dev/null 2>&1
sleep 1.5
check_eq "five more drops, no more lines" "$(routelines)" 1

step "d goes down; a keeps sending to it"
stop_node d
# a's session with d is still valid: its pings go out until the passive keepalive timer
# (15 s) starts a handshake, which d does not answer (REKEY_TIMEOUT 5 s).
nsx a ping -n -q -c 40 -i 1 -W 1 "${OV4[d]}" >/dev/null 2>&1 &
pinger=$!
track "$pinger"
stale() { tool 0 status "$ifa" --interval 0; peer_line phone | grep -q ' stale$'; }
check "d turns stale within 35 s" wait_for 35 stale
# And stays so while a keeps sending: a's new-handshake timer (15 s after data that got no
# answer) starts a new initiation, not a retry, which resets the attempt count; the state
# must not read online again for the 5 s until its retry.
steady_stale() {
	local i
	for i in $(seq 16); do
		stale || { echo "phone not stale after $i s: $(peer_line phone)"; return 1; }
		sleep 1
	done
}
check "d stays stale for 16 s of pings" steady_stale
stop_pid "$pinger" TERM
untrack "$pinger"

step "sealnet status $ifa"
# --interval 0 here and below: one reading, at once. The rates have a step of their own
# (after the checks of the stale state: a's new-handshake timer makes d's state flicker).
tool 0 status "$ifa" --interval 0
sed 's/^/    | /' "$out"
check "interface line: port, mtu, pid, user, uptime, threads" grep -Eq \
	"^$ifa: port ${PORT[a]}, mtu 1420, pid ${PID[a]}, user [a-z0-9]+, up [0-9]+[smhd][0-9]*[smh]?, [0-9]+ threads?, offload " "$out"
check "addresses" grep -qxF "  addresses: ${OV4[a]}/24 ${OV6[a]}/64" "$out"
check "header" grep -Eq '^  NAME +KEY +ENDPOINT +HANDSHAKE +RX +TX +RX/s +TX/s +STATE$' "$out"
check "--interval 0: no rates, and says so" grep -qF "  (RX/s, TX/s: not measured, --interval 0;" "$out"
check "laptop online" bash -c "grep -E '^  laptop ' '$out' | grep -Eq ' ${UL4[b]}:${PORT[b]} .* online$'"
check "build server online" bash -c "grep -E '^  build server ' '$out' | grep -q ' online$'"
check "phone stale" bash -c "grep -E '^  phone ' '$out' | grep -q ' stale$'"
check "the key's prefix" grep -qF "${PUB[b]:0:10}" "$out"
check_not "no colour into a file" grep -q $'\033' "$out"
check_not "no private key" grep -qF "${PRIV[a]}" "$out"

tool 0 show "$ifa" --brief --interval 0
check "show --brief is status" bash -c "grep -q ' stale$' '$out' && grep -c ' online$' '$out' | grep -qx 2"
tool 0 status --interval 0
check "status with no interface: all of them" grep -q "^$ifa: " "$out"

step "colours on a terminal only"
# script(1) gives the tool a terminal.
if command -v script >/dev/null; then
	nsx a env TERM=xterm script -qec "$SEALNET status $ifa --interval 0" /dev/null >"$out" 2>&1
	check "green online on a terminal" grep -q $'\033\\[32monline' "$out"
	check "red stale on a terminal" grep -q $'\033\\[31mstale' "$out"
	nsx a env TERM=xterm NO_COLOR=1 script -qec "$SEALNET status $ifa --interval 0" /dev/null >"$out" 2>&1
	check_not "NO_COLOR: none" grep -q $'\033\\[3' "$out"
else
	skip "no script(1) for a terminal"
fi

step "sealnet status --json"
tool 0 status "$ifa" --json --interval 0
cp "$out" "$SN_TMP/status.json"
check "valid JSON" python3 -c "import json; json.load(open('$SN_TMP/status.json'))"
j() { python3 -c "import json,sys; d=json.load(open('$SN_TMP/status.json'))['interfaces'][0]; print(eval(sys.argv[1]))" "$1"; }
check_eq "pid" "$(j "d['pid']")" "${PID[a]}"
check_eq "mtu" "$(j "d['mtu']")" 1420
check_eq "addresses" "$(j "' '.join(d['addresses'])")" "${OV4[a]}/24 ${OV6[a]}/64"
check_eq "names" "$(j "' '.join(str(p['name']) for p in d['peers'])")" "laptop build server phone"
check_eq "states" "$(j "' '.join(p['state'] for p in d['peers'])")" "online online stale"
check "user" test -n "$(j "d['user']")"
check "offload list" test -n "$(j "d['offload']")"

step "sealnet status $ifa, with traffic to laptop (b) while build server (c) is idle"
nsx a ping -n -q -c 60 -i 0.05 -s 1000 "${OV4[b]}" >/dev/null 2>&1 &
pinger=$!
track "$pinger"
sleep 0.5
tool 0 status "$ifa"
cp "$out" "$SN_TMP/status.txt"
tool 0 status "$ifa" --json
cp "$out" "$SN_TMP/rates.json"
stop_pid "$pinger" TERM
untrack "$pinger"
cp "$SN_TMP/status.txt" "$out"
sed 's/^/    | /' "$out"
check "header" grep -Eq '^  NAME +KEY +ENDPOINT +HANDSHAKE +RX +TX +RX/s +TX/s +STATE$' "$out"
check "the legend says what the rate is" grep -qF "  (RX/s, TX/s: bytes per second over the last 1." "$out"
check "laptop: traffic flowing, a non-zero rate" bash -c "grep -E '^  laptop ' '$out' | grep -Eq ' [1-9][0-9.]*[KM]iB/s +[1-9][0-9.]*[KM]iB/s +[a-z]+$'"
check "build server: idle, 0B/s" bash -c "grep -E '^  build server ' '$out' | grep -Eq ' 0B/s +0B/s +[a-z]+$'"
check_gt "JSON: laptop's rx_rate" "$(jq_ "$SN_TMP/rates.json" "int(d['peers'][0]['rx_rate'])")" 1000
check_gt "JSON: laptop's tx_rate" "$(jq_ "$SN_TMP/rates.json" "int(d['peers'][0]['tx_rate'])")" 1000
check_eq "JSON: build server's rates" "$(jq_ "$SN_TMP/rates.json" "(d['peers'][1]['rx_rate'], d['peers'][1]['tx_rate'])")" "(0.0, 0.0)"
check "JSON: rate_interval about 1 s" python3 -c "import json; d=json.load(open('$SN_TMP/rates.json'))['interfaces'][0]; assert 1 <= d['rate_interval'] < 3"
tool 0 show "$ifa"
check "show: the peer's name" grep -qxF "  name: build server" "$out"
check "show: the addresses" grep -qxF "  addresses: ${OV4[a]}/24, ${OV6[a]}/64" "$out"

step "show $ifa FIELD: what wg show prints from the same socket (private-key too)"
for f in public-key listen-port fwmark peers endpoints allowed-ips latest-handshakes \
	persistent-keepalive; do
	tool 0 show "$ifa" "$f"
	check_eq "show $f" "$(cat "$out")" "$(nsx a wg show "$ifa" "$f")"
done
tool 0 show "$ifa" preshared-keys
check_eq "preshared-keys: none here" "$(cut -f 2 "$out" | sort -u)" "(none)"
tool 0 show "$ifa" private-key
check_eq "private-key: the key, as wg show prints it" "$(cat "$out")" "$(nsx a wg show "$ifa" private-key)"
check_eq "private-key: a's" "$(cat "$out")" "${PRIV[a]}"
tool 0 show "$ifa" dump
wg_dump=$(nsx a wg show "$ifa" dump)
# Everything but the private key (the first field of the first line) and the transfer
# counters, which keepalives may move between the two reads.
strip() { awk -F '\t' -v OFS='\t' 'NR == 1 { $1 = "" } NR > 1 { $6 = $7 = "" } { print }'; }
check_eq "dump" "$(strip <"$out")" "$(strip <<<"$wg_dump")"
check_eq "dump: the private key hidden" "$(head -n 1 "$out" | cut -f 1)" "(hidden)"
tool 0 show all endpoints
check "show all endpoints: lines start with the interface" grep -q "^$ifa	${PUB[b]}	${UL4[b]}:${PORT[b]}$" "$out"
tool 2 show "$ifa" dump endpoints
tool 2 show "$ifa" --json dump
tool 2 status "$ifa" dump

step "names survive set and reload"
tool 0 set "$ifa" peer "${PUB[b]}" persistent-keepalive 30
tool 0 status "$ifa" --interval 0
check "laptop still named after set" grep -q '^  laptop ' "$out"
sed -i 's/^Name = laptop$/Name = old laptop/' "$(conf_path a)"
tool 0 reload "$ifa"
tool 0 status "$ifa" --interval 0
check "renamed by reload" grep -q '^  old laptop ' "$out"

step "reload checks the file first: every error, and nothing changes"
cp "$(conf_path a)" "$SN_TMP/a.good"
printf 'Bogus = 1\nAllowedIPs = 100.64.0.9/32,\n' >>"$(conf_path a)"
tool 1 reload "$ifa"
sed 's/^/    | /' "$err"
check_eq "two errors, each with its line" "$(grep -c "^sealnet: reload $ifa: $(conf_path a):[0-9]*: " "$err")" 2
tool 0 status "$ifa" --interval 0
check "still named as before" grep -q '^  old laptop ' "$out"
cp "$SN_TMP/a.good" "$(conf_path a)"

for n in a b c; do stop_node "$n"; done
say "done"
