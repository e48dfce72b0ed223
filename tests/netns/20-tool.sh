#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# The sealnet tool against a running daemon: `up` starts sealnetd on a config file, `set`
# adds a peer, `show` (text and --json) reports it, `reload` takes a good config and refuses a
# broken one without losing the running state, `down` stops the daemon and its interface.
# Node b is wireguard-go when installed, so `show` also meets a daemon that only speaks
# get=1 (and `reload` one that does not know reload=1).
#
# Node a is started by `sealnet up`, which daemonizes: it is not our child, its pid comes
# from its pid file, and it logs to syslog rather than to a file here.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

RUN_DIR=/run/sealnet

node_new a sealnetd
if command -v wireguard-go >/dev/null; then
	node_new b wggo
else
	node_new b sealnetd
fi
link_veth a b
[ -x "$SEALNET" ] || fail "sealnet not found at $SEALNET"
export SEALNETD

ifa=${IFACE[a]}
ifb=${IFACE[b]}
# `up FILE` takes the interface name from the file's name.
conf_a=$SN_TMP/$ifa.conf
pidfile=$RUN_DIR/$ifa.pid
out=$SN_TMP/out
err=$SN_TMP/err

# A daemon that `up` started but the scenario had not recorded yet (it failed or was
# interrupted in between) is found through its pid file, checked to be a sealnetd, and
# handed to the library's cleanup.
track_up_daemon() { track_pidfile a "$pidfile"; }
# shellcheck disable=SC2154 # sn_rc is set by the trap itself
trap 'sn_rc=$?; track_up_daemon; (exit $sn_rc); sn_cleanup' EXIT

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

# jget FILE IFACE [PEERKEY] FIELD: a value from a `show --json` document, read from its
# layout (one key per line): the interface's first FIELD, or the one in PEERKEY's object.
# Strings lose their quotes; arrays stay as written.
jget() {
	local file=$1 ifc=$2 peer='' field
	if [ $# = 4 ]; then peer=$3 field=$4; else field=$3; fi
	awk -v ifc="$ifc" -v peer="$peer" -v field="$field" '
		function val(line) { sub(/^ *"[^"]*": /, "", line); sub(/,$/, "", line)
			if (line ~ /^".*"$/) line = substr(line, 2, length(line) - 2); return line }
		/^      "name": / { inif = (val($0) == ifc); inpeer = 0
			if (inif && field == "name" && peer == "") { print val($0); exit }
			next }
		!inif { next }
		peer != "" && /^          "public_key": / { inpeer = (val($0) == peer); next }
		(peer == "" || inpeer) && index($0, "\"" field "\": ") { print val($0); exit }
	' "$file"
}

# npeers FILE IFACE: how many peers the document lists for IFACE.
npeers() {
	awk -v ifc="$2" '
		/^      "name": / { inif = index($0, "\"" ifc "\"") > 0; next }
		inif && /^          "public_key": / { n++ }
		END { print n + 0 }' "$1"
}

# json_valid FILE: python3's parser when there is one, else a check of the nesting.
json_valid() {
	if command -v python3 >/dev/null; then
		python3 -m json.tool "$1" >/dev/null
	else
		awk '{ s = $0; gsub(/\\./, "", s); gsub(/"[^"]*"/, "", s)
			for (i = 1; i <= length(s); i++) { c = substr(s, i, 1)
				if (c == "{" || c == "[") d++; else if (c == "}" || c == "]") d--
				if (d < 0) exit 1 } }
			END { exit d != 0 }' "$1"
	fi
}

# gone PID: no such process, or a zombie (a daemon is not our child: init reaps it).
gone() {
	local state
	state=$(sed -n 's/^.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ -z "$state" ] || [ "$state" = Z ]
}

link_exists() { ip -n "${NS[a]}" link show "$ifa" >/dev/null 2>&1; }

# Not `ip | grep -q`: with pipefail, grep leaving early can fail the pipeline (SIGPIPE).
iface_up() { [[ $(ip -n "${NS[a]}" -o addr show dev "$ifa" up 2>/dev/null) == *"inet ${OV4[a]}/"* ]]; }

genpsk() { if [ -x "$SEALNET" ]; then "$SEALNET" genpsk; else wg genpsk; fi; }
psk=$(genpsk) || fail "genpsk"
pskfile=$SN_TMP/psk
(umask 077 && echo "$psk" >"$pskfile")
pub_c=$(genkey | pubkey) || fail "key for peer c"

step "b (${IMPL[b]}) waits for a; a starts with no peer"
{ conf_interface b; conf_peer a psk="$psk"; } >"$(conf_path b)"
start_node b
conf_interface a >"$conf_a"
chmod 600 "$conf_a"

step "sealnet up $ifa.conf"
# A daemon has no stderr: an ASan/UBSan build (make asan) reports into $san/a.san.PID,
# which becomes a's log, so the library's cleanup finds any report there.
san=$(san_dir) || fail "no directory for sanitizer reports"
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$san/a.san \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$san/a.san \
	tool 0 up "$conf_a"
track_up_daemon
[ -n "${PID[a]:-}" ] || fail "no sealnetd pid in $pidfile after up"
LOG[a]=$san/a.san.${PID[a]}
ok "up exit 0, sealnetd pid ${PID[a]} in $pidfile"
if ! iface_up; then
	ip -n "${NS[a]}" addr show 2>&1 | sed 's/^/    /'
	fail "$ifa is not up with ${OV4[a]} when up returns"
fi
ok "$ifa is up with ${OV4[a]} when up returns"
check "the control socket exists" test -S "/var/run/wireguard/$ifa.sock"
tool 0 show interfaces
check "show interfaces lists $ifa" grep -qw -- "$ifa" "$out"
tool 1 up "$conf_a"
check "a second up is refused: $(cat "$err")" grep -q "already running" "$err"
check "the first daemon still runs" kill -0 "${PID[a]}"
tool 1 up "$SN_TMP/missing-$$.conf"
ok "up on a missing file: exit 1, $(head -n 1 "$err" | sed "s|$SN_TMP/||")"

step "sealnet set: peer b with a preshared key, endpoint, allowed ips and keepalive"
tool 0 set "$ifa" peer "${PUB[b]}" preshared-key "$pskfile" endpoint "${UL4[b]}:${PORT[b]}" \
	allowed-ips "${OV4[b]}/32, ${OV6[b]}/128" persistent-keepalive 25
check "first ping a -> b within 10 s" wait_ping a "${OV4[b]}" 10
check "ping a -> b over IPv6" ping_ok a "${OV6[b]}"
check "ping b -> a" ping_ok b "${OV4[a]}"

step "sealnet show $ifa"
tool 0 show "$ifa"
sed 's/^/    | /' "$out"
check "interface line" grep -qxF "interface: $ifa" "$out"
check "public key" grep -qxF "  public key: ${PUB[a]}" "$out"
check "private key hidden" grep -qxF "  private key: (hidden)" "$out"
check "listening port" grep -qxF "  listening port: ${PORT[a]}" "$out"
check "peer b" grep -qxF "peer: ${PUB[b]}" "$out"
check "preshared key hidden" grep -qxF "  preshared key: (hidden)" "$out"
check "endpoint" grep -qxF "  endpoint: ${UL4[b]}:${PORT[b]}" "$out"
check "allowed ips" grep -qxF "  allowed ips: ${OV4[b]}/32, ${OV6[b]}/128" "$out"
check "latest handshake" grep -Eqx "  latest handshake: (now|.* seconds? ago)" "$out"
check "transfer" grep -Eq "^  transfer: .* received, .* sent$" "$out"
check "keepalive" grep -qxF "  persistent keepalive: every 25 seconds" "$out"
check "datagram counters" grep -Eq "^  datagrams: [1-9][0-9]* received, [1-9][0-9]* sent$" "$out"
check_not "no private key in the output" grep -qF "${PRIV[a]}" "$out"
check_not "no preshared key in the output" grep -qF "$psk" "$out"

step "sealnet show $ifa --json"
tool 0 show "$ifa" --json
json=$SN_TMP/a.json
cp "$out" "$json"
check "valid JSON" json_valid "$json"
check_eq "interface name" "$(jget "$json" "$ifa" name)" "$ifa"
check_eq "public key" "$(jget "$json" "$ifa" public_key)" "${PUB[a]}"
check_eq "listen port" "$(jget "$json" "$ifa" listen_port)" "${PORT[a]}"
check_eq "fwmark" "$(jget "$json" "$ifa" fwmark)" 0
check_gt "rx_datagrams" "$(jget "$json" "$ifa" rx_datagrams)" 0
check_gt "tx_datagrams" "$(jget "$json" "$ifa" tx_datagrams)" 0
check_eq "drops.bad_mac1" "$(jget "$json" "$ifa" bad_mac1)" 0
check_eq "one peer" "$(npeers "$json" "$ifa")" 1
check_eq "peer endpoint" "$(jget "$json" "$ifa" "${PUB[b]}" endpoint)" "${UL4[b]}:${PORT[b]}"
check_eq "peer allowed ips" "$(jget "$json" "$ifa" "${PUB[b]}" allowed_ips)" \
	"[\"${OV4[b]}/32\", \"${OV6[b]}/128\"]"
check_gt "peer latest_handshake (Unix time)" "$(jget "$json" "$ifa" "${PUB[b]}" latest_handshake)" 1500000000
check_gt "peer rx_bytes" "$(jget "$json" "$ifa" "${PUB[b]}" rx_bytes)" 0
check_gt "peer tx_packets" "$(jget "$json" "$ifa" "${PUB[b]}" tx_packets)" 0
check_gt "peer handshakes" "$(jget "$json" "$ifa" "${PUB[b]}" handshakes)" 0
check_eq "peer persistent_keepalive" "$(jget "$json" "$ifa" "${PUB[b]}" persistent_keepalive)" 25
privhex=$(base64 -d <<<"${PRIV[a]}" | od -An -v -tx1 | tr -d ' \n')
check_not "no private key in the JSON (base64)" grep -qF "${PRIV[a]}" "$json"
check_not "no private key in the JSON (hex)" grep -qiF "$privhex" "$json"
check_not "no private_key field" grep -q private "$json"

step "sealnet show on b (${IMPL[b]})"
tool 0 show "$ifb" --json
cp "$out" "$SN_TMP/b.json"
check "valid JSON" json_valid "$SN_TMP/b.json"
check_eq "b lists one peer" "$(npeers "$SN_TMP/b.json" "$ifb")" 1
check_gt "b's latest handshake with a" "$(jget "$SN_TMP/b.json" "$ifb" "${PUB[a]}" latest_handshake)" 0
if [ "${IMPL[b]}" = wggo ]; then
	check_not "no sealnet counters from wireguard-go" grep -q '"counters"' "$SN_TMP/b.json"
	tool 0 show "$ifb"
	check "text: b's peer" grep -qxF "peer: ${PUB[a]}" "$out"
	check_not "text: no datagram line from wireguard-go" grep -q "datagrams:" "$out"
	tool 1 reload "$ifb"
	ok "reload on wireguard-go: exit 1, $(cat "$err")"
fi
tool 0 show all --json
check "show all --json is valid JSON" json_valid "$out"
check_eq "show all --json lists $ifa" "$(jget "$out" "$ifa" name)" "$ifa"
check_eq "show all --json lists $ifb" "$(jget "$out" "$ifb" name)" "$ifb"

step "sealnet set: changes and refusals"
tool 0 set "$ifa" fwmark 0x2a
tool 0 show "$ifa" --json
check_eq "fwmark 0x2a" "$(jget "$out" "$ifa" fwmark)" 42
tool 0 set "$ifa" fwmark off
tool 0 show "$ifa" --json
check_eq "fwmark off" "$(jget "$out" "$ifa" fwmark)" 0
tool 0 set "$ifa" peer "$pub_c" allowed-ips 100.64.0.99/32
tool 0 show "$ifa" --json
check_eq "peer c added" "$(npeers "$out" "$ifa")" 2
tool 0 set "$ifa" peer "$pub_c" remove
tool 0 show "$ifa" --json
check_eq "peer c removed" "$(npeers "$out" "$ifa")" 1
# A peer with the interface's own key is ignored, as WireGuard ignores it (mesh-wide lists).
tool 0 set "$ifa" peer "$pub_c" allowed-ips 100.64.0.99/32 peer "${PUB[a]}"
tool 0 show "$ifa" --json
check_eq "own key ignored, peer c added" "$(npeers "$out" "$ifa")" 2
tool 0 set "$ifa" peer "$pub_c" remove
# A port below 1024 passes our checks but not the daemon's (it dropped the right to bind).
tool 1 set "$ifa" listen-port 80 peer "$pub_c" allowed-ips 100.64.0.99/32
check_eq "the daemon's refusal" "$(cat "$err")" "sealnet: set $ifa: Permission denied"
tool 0 show "$ifa" --json
check_eq "nothing of the refused set was applied" "$(npeers "$out" "$ifa")" 1
tool 2 set "$ifa" listen-port 70000
ok "bad port: usage error, exit 2"
check "ping a -> b still works" ping_ok a "${OV4[b]}"

step "sealnet reload: a good config"
{
	conf_interface a
	conf_peer b endpoint=4 keepalive=25 psk="$psk"
	echo
	echo "[Peer]"
	echo "PublicKey = $pub_c"
	echo "AllowedIPs = 100.64.0.99/32"
} >"$conf_a"
tool 0 reload "$ifa"
tool 0 show "$ifa" --json
check_eq "two peers after reload" "$(npeers "$out" "$ifa")" 2
check_eq "peer c from the file" "$(jget "$out" "$ifa" "$pub_c" allowed_ips)" '["100.64.0.99/32"]'
check "ping a -> b after reload" ping_ok a "${OV4[b]}"

step "sealnet reload: a broken config changes nothing"
cp "$conf_a" "$conf_a.good"
echo "Bogus = 1" >>"$conf_a"
tool 1 reload "$ifa"
# The caller hears the reason with the file and line, not just "Invalid argument".
check_eq "the daemon's refusal, with file:line" "$(cat "$err")" \
	"sealnet: reload $ifa: $conf_a:$(wc -l <"$conf_a"): Bogus: unknown key in [Peer]"
check "still running" kill -0 "${PID[a]}"
tool 0 show "$ifa" --json
check_eq "still two peers" "$(npeers "$out" "$ifa")" 2
check_eq "peer b kept" "$(jget "$out" "$ifa" "${PUB[b]}" endpoint)" "${UL4[b]}:${PORT[b]}"
check "ping a -> b after the refused reload" ping_ok a "${OV4[b]}"
mv "$conf_a.good" "$conf_a"

step "sealnet down"
tool 0 down "$ifa"
check "sealnetd ${PID[a]} has exited" gone "${PID[a]}"
untrack "${PID[a]}"
check_not "$ifa is gone" link_exists
check_not "the pid file is gone" test -e "$pidfile"
check_not "the control socket is gone" test -e "/var/run/wireguard/$ifa.sock"
if _sanitizer_report "${LOG[a]}"; then
	head -n 40 "${LOG[a]}" >&2
	fail "sanitizer report from a's sealnetd"
fi
tool 1 down "$ifa"
check_eq "down again" "$(cat "$err")" "sealnet: down $ifa: not running"
tool 1 reload "$ifa"
ok "reload when down: exit 1, $(cat "$err")"
tool 1 show "$ifa"
ok "show when down: exit 1, $(cat "$err")"

stop_node b
say "done"
