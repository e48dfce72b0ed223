#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# sealnet status (and show --brief, show --json, show IFACE FIELD) on a node with three named
# peers: two that answer (online) and one that answered once and then went down (stale, as
# soon as a's handshake to it goes unanswered). Names survive set and reload; the fields of
# `show IFACE dump|endpoints|...` are what `wg show` prints from the same socket (keys
# hidden); colours appear on a terminal only.
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

step "d goes down; a keeps sending to it"
stop_node d
# a's session with d is still valid: its pings go out until the passive keepalive timer
# (15 s) starts a handshake, which d does not answer (REKEY_TIMEOUT 5 s).
nsx a ping -n -q -c 40 -i 1 -W 1 "${OV4[d]}" >/dev/null 2>&1 &
pinger=$!
track "$pinger"
stale() { tool 0 status "$ifa"; peer_line phone | grep -q ' stale$'; }
check "d turns stale within 35 s" wait_for 35 stale
stop_pid "$pinger" TERM
untrack "$pinger"

step "sealnet status $ifa"
tool 0 status "$ifa"
sed 's/^/    | /' "$out"
check "interface line: port, mtu, pid, user, uptime, threads" grep -Eq \
	"^$ifa: port ${PORT[a]}, mtu 1420, pid ${PID[a]}, user [a-z0-9]+, up [0-9]+[smhd][0-9]*[smh]?, [0-9]+ threads?, offload " "$out"
check "addresses" grep -qxF "  addresses: ${OV4[a]}/24 ${OV6[a]}/64" "$out"
check "header" grep -Eq '^  NAME +KEY +ENDPOINT +HANDSHAKE +RX +TX +STATE$' "$out"
check "laptop online" bash -c "grep -E '^  laptop ' '$out' | grep -Eq ' ${UL4[b]}:${PORT[b]} .* online$'"
check "build server online" bash -c "grep -E '^  build server ' '$out' | grep -q ' online$'"
check "phone stale" bash -c "grep -E '^  phone ' '$out' | grep -q ' stale$'"
check "the key's prefix" grep -qF "${PUB[b]:0:10}" "$out"
check_not "no colour into a file" grep -q $'\033' "$out"
check_not "no private key" grep -qF "${PRIV[a]}" "$out"

tool 0 show "$ifa" --brief
check "show --brief is status" bash -c "grep -q ' stale$' '$out' && grep -c ' online$' '$out' | grep -qx 2"
tool 0 status
check "status with no interface: all of them" grep -q "^$ifa: " "$out"

step "colours on a terminal only"
# script(1) gives the tool a terminal.
if command -v script >/dev/null; then
	nsx a env TERM=xterm script -qec "$SEALNET status $ifa" /dev/null >"$out" 2>&1
	check "green online on a terminal" grep -q $'\033\\[32monline' "$out"
	check "red stale on a terminal" grep -q $'\033\\[31mstale' "$out"
	nsx a env TERM=xterm NO_COLOR=1 script -qec "$SEALNET status $ifa" /dev/null >"$out" 2>&1
	check_not "NO_COLOR: none" grep -q $'\033\\[3' "$out"
else
	skip "no script(1) for a terminal"
fi

step "sealnet status --json"
tool 0 status "$ifa" --json
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
tool 0 status "$ifa"
check "laptop still named after set" grep -q '^  laptop ' "$out"
sed -i 's/^Name = laptop$/Name = old laptop/' "$(conf_path a)"
tool 0 reload "$ifa"
tool 0 status "$ifa"
check "renamed by reload" grep -q '^  old laptop ' "$out"

step "reload checks the file first: every error, and nothing changes"
cp "$(conf_path a)" "$SN_TMP/a.good"
printf 'Bogus = 1\nAllowedIPs = 100.64.0.9/32,\n' >>"$(conf_path a)"
tool 1 reload "$ifa"
sed 's/^/    | /' "$err"
check_eq "two errors, each with its line" "$(grep -c "^sealnet: reload $ifa: $(conf_path a):[0-9]*: " "$err")" 2
tool 0 status "$ifa"
check "still named as before" grep -q '^  old laptop ' "$out"
cp "$SN_TMP/a.good" "$(conf_path a)"

for n in a b c; do stop_node "$n"; done
say "done"
