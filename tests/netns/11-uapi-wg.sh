#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# The control socket answers what wg(8) sends as wireguard-go answers it (issue 11).  Node a
# is the one under test, sealnetd unless IMPL_A=wggo (or IMPL=wggo): the same sequence then
# runs against wireguard-go and must pass the same way, which is how the expectations below
# were checked.  b is its peer.
#
#   1. `wg set ... allowed-ips -PREFIX` removes that prefix from the peer and only there; one
#      the peer does not hold is no error.
#   2. `wg set` / `wg addconf` naming a peer with a's own public key succeed and the peer does
#      not appear (a mesh-wide list pushed to every node); a new private key whose public key
#      a peer has removes that peer; a private key comes back clamped.
#   3. Raw requests get wireguard-go's errno: -71 (EPROTO) for a line without '=', -22 for
#      protocol_version=2 and for IPv4 in brackets, 0 for CRLF lines.
#   4. A link-local endpoint [fe80::...%IFACE]:port, set with wg (which sends the zone as
#      the interface's name) or raw with a numeric zone, is shown back with its zone, and
#      carries the handshake and the pings once the veth has no other address.
#
# WG=/path/to/wg picks the wg(8) to drive (default: wg in PATH).  `allowed-ips -PREFIX`
# needs wireguard-tools 1.0.20250521 or later; with an older wg the line it would send,
# allowed_ip=-PREFIX, goes to the socket raw.  wireguard-go understands that line from
# 0.0.20250515 on, and shows an endpoint's zone from the same release (StdNetBind on Linux;
# the LinuxSocketBind before it dropped the zone in get).  Against an older wireguard-go
# those checks say "skip" (sealnetd must pass them all).
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

WG=${WG:-wg}
command -v socat >/dev/null || fail "socat is not installed (make deps)"
command -v "$WG" >/dev/null || fail "wg not found ($WG)"
node_new a
node_new b
link_veth a b # 198.18.1.0/24, fd00:18:1::/64; "ulb" in a, "ula" in b
SOCK=/var/run/wireguard/${IFACE[a]}.sock
DEV=${IFACE[a]}

wga() { nsx a "$WG" "$@"; }

# hex KEY: a base64 key in the control socket's form; b64 HEX: back.
hex() { base64 -d <<<"$1" | od -An -v -tx1 | tr -d ' \n'; }
# shellcheck disable=SC2001 # every pair of digits, which ${//} cannot refer to
b64() { printf '%b' "$(sed 's/../\\x&/g' <<<"$1")" | base64; }

# uapi REQUEST: send "set=1", REQUEST's lines and the blank line to a's control socket; print
# the answer's errno.
uapi_set() {
	printf 'set=1\n%s\n\n' "$1" | timeout 10 socat -t 5 - "UNIX-CONNECT:$SOCK" |
		sed -n 's/^errno=//p'
}

peers_of_a() { wga show "$DEV" peers | sort | tr '\n' ' '; }
allowed_of() { wga show "$DEV" allowed-ips | awk -v k="$1" '$1 == k { $1 = ""; print substr($0, 2) }'; }
endpoint_of() { wga show "$DEV" endpoints | awk -v k="$1" '$1 == k { print $2 }'; }
sorted() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort | tr '\n' ' '; }

# wg_version_at_least YYYYMMDD: the wg in use is wireguard-tools v1.0.YYYYMMDD or later.
wg_version_at_least() {
	local v
	v=$("$WG" --version 2>/dev/null | sed -n 's/.*v1\.0\.\([0-9]\{8\}\).*/\1/p')
	[ -n "$v" ] && [ "$v" -ge "$1" ]
}

is_sealnetd() { [ "${IMPL[a]}" = sealnetd ]; }

step "a (${IMPL[a]}) and b (${IMPL[b]}) over the veth's IPv4"
conf_interface a >"$(conf_path a)"
{ conf_interface b; conf_peer a endpoint=4; } >"$(conf_path b)"
start_node a
start_node b
PB=${PUB[b]}
check "wg set a peer b" wga set "$DEV" peer "$PB" endpoint "${UL4[b]}:${PORT[b]}" \
	allowed-ips "${OV4[b]}/32,${OV6[b]}/128,100.64.7.0/24,fd00:64:7::/64"
check "ping a -> b within 10 s" wait_ping a "${OV4[b]}" 10

step "allowed-ips -PREFIX removes one prefix"
# A peer that holds a prefix of its own: removing it from b must leave it there.
PX=$(genkey | pubkey)
check "wg set a peer x allowed-ips 100.64.8.0/24" wga set "$DEV" peer "$PX" allowed-ips 100.64.8.0/24
minus_supported=1
if ! is_sealnetd && [ "$(uapi_set "public_key=$(hex "$PB")
allowed_ip=-100.64.99.0/24")" != 0 ]; then
	minus_supported=0
	skip "this wireguard-go refuses allowed_ip=-PREFIX (before 0.0.20250515)"
fi
# wg_minus PREFIX...: `wg set a peer b allowed-ips -P1,-P2`, or its lines raw for an older wg.
wg_minus() {
	local p list='' lines
	lines="public_key=$(hex "$PB")"
	if wg_version_at_least 20250521; then
		for p; do list="$list${list:+,}-$p"; done
		wga set "$DEV" peer "$PB" allowed-ips "$list"
	else
		for p; do lines="$lines
allowed_ip=-$p"; done
		[ "$(uapi_set "$lines")" = 0 ]
	fi
}
# routed_to_a ADDR: a's kernel sends ADDR into the tunnel (sealnetd keeps a route per
# AllowedIPs prefix; the harness sets wireguard-go's routes only at start).
routed_to_a() { nsx a ip route get "$1" 2>/dev/null | grep -q "dev $DEV "; }
if [ "$minus_supported" = 1 ]; then
	wg_version_at_least 20250521 ||
		say "$("$WG" --version | head -n 1) predates allowed-ips -PREFIX: sending allowed_ip=-PREFIX, the line it would send, raw"
	if is_sealnetd; then
		check "a routes 100.64.7.0/24 into the tunnel" routed_to_a 100.64.7.1
	fi
	check "allowed-ips -100.64.7.0/24" wg_minus 100.64.7.0/24
	check_eq "b's allowed ips" "$(sorted "$(allowed_of "$PB")")" \
		"$(sorted "${OV4[b]}/32 ${OV6[b]}/128 fd00:64:7::/64")"
	if is_sealnetd; then
		check_not "a no longer routes 100.64.7.0/24 into the tunnel" routed_to_a 100.64.7.1
	fi
	check "allowed-ips -fd00:64:7::/64 (IPv6), -100.64.99.0/24 (held by nobody), -100.64.8.0/24 (held by x)" \
		wg_minus fd00:64:7::/64 100.64.99.0/24 100.64.8.0/24
	check_eq "b's allowed ips" "$(sorted "$(allowed_of "$PB")")" \
		"$(sorted "${OV4[b]}/32 ${OV6[b]}/128")"
	check_eq "x keeps 100.64.8.0/24" "$(allowed_of "$PX")" "100.64.8.0/24"
	check "ping a -> b after the removals" ping_ok a "${OV4[b]}"
fi
check "wg set a peer x remove" wga set "$DEV" peer "$PX" remove

step "a peer with a's own public key is ignored"
check "wg set with a's own key as a peer, then b" wga set "$DEV" peer "${PUB[a]}" \
	allowed-ips 100.64.0.99/32 endpoint 198.18.1.99:1 peer "$PB" persistent-keepalive 0
check_eq "a: peers" "$(peers_of_a)" "$PB "
# The whole mesh, as the same file would be pushed to every node.
{
	echo "[Peer]"
	echo "PublicKey = ${PUB[a]}"
	echo "AllowedIPs = ${OV4[a]}/32, 100.64.0.98/32"
	echo "Endpoint = ${UL4[a]}:${PORT[a]}"
	echo
	echo "[Peer]"
	echo "PublicKey = $PB"
	echo "AllowedIPs = ${OV4[b]}/32, ${OV6[b]}/128"
	echo "Endpoint = ${UL4[b]}:${PORT[b]}"
} >"$SN_TMP/mesh.conf"
check "wg addconf of the whole mesh" wga addconf "$DEV" "$SN_TMP/mesh.conf"
check_eq "a: peers" "$(peers_of_a)" "$PB "
check_eq "no peer holds a's own ${OV4[a]}/32" \
	"$(wga show "$DEV" allowed-ips | grep -c "${OV4[a]}/32")" 0
check "ping a -> b" ping_ok a "${OV4[b]}"

step "a new private key removes the peer that has its public key; keys come back clamped"
NEWPRIV=$(genkey)
NEWPUB=$(pubkey <<<"$NEWPRIV")
check "wg set a peer (the new key's public key)" wga set "$DEV" peer "$NEWPUB" allowed-ips 100.64.9.0/24
check_eq "a: peers" "$(peers_of_a)" "$(printf '%s\n' "$PB" "$NEWPUB" | sort | tr '\n' ' ')"
# The new key unclamped (low three bits of its first byte set): the same X25519 key, and get
# must answer it clamped, which is what genkey wrote.
nh=$(hex "$NEWPRIV")
unclamped=$(printf '%02x' $((0x${nh:0:2} | 7)))${nh:2}
check_eq "private_key set raw, unclamped" "$(uapi_set "private_key=$unclamped")" 0
check_eq "a: the peer with the new identity's key is gone" "$(peers_of_a)" "$PB "
check_eq "wg show private-key: clamped" "$(wga show "$DEV" private-key)" "$NEWPRIV"
check_eq "wg show public-key" "$(wga show "$DEV" public-key)" "$NEWPUB"
(umask 077 && echo "${PRIV[a]}" >"$SN_TMP/a.key")
check "wg set private-key back to a's" wga set "$DEV" private-key "$SN_TMP/a.key"
check "ping a -> b with a's key again within 10 s" wait_ping a "${OV4[b]}" 10

step "raw requests: wireguard-go's errno"
PZ=$(hex "$(genkey | pubkey)")
check_eq "a line without '=': EPROTO" "$(uapi_set "listen_port")" -71
check_eq "protocol_version=2: EINVAL" "$(uapi_set "public_key=$PZ
protocol_version=2")" -22
check_eq "IPv4 endpoint in brackets: EINVAL" "$(uapi_set "public_key=$PZ
endpoint=[${UL4[b]}]:${PORT[b]}")" -22
check_eq "a peer key before any public_key: EINVAL" "$(uapi_set "allowed_ip=100.64.0.97/32")" -22
check_eq "a bad line after a's own key: EINVAL" "$(uapi_set "public_key=$(hex "${PUB[a]}")
allowed_ip=100.64.0.97/40")" -22
check_eq "CRLF lines: 0" "$(uapi_set "$(printf 'public_key=%s\r\npersistent_keepalive_interval=0\r\nremove=true\r' "$PZ")")" 0
check "wg set a peer z remove (what the refused sets left on wireguard-go)" \
	wga set "$DEV" peer "$(b64 "$PZ")" remove
check_eq "a: peers" "$(peers_of_a)" "$PB "

step "a link-local endpoint [fe80::...%IFACE]:port"
# ll_of NODE DEV: the link-local address of DEV, once it is no longer tentative.
ll_of() { ip -n "${NS[$1]}" -6 -o addr show dev "$2" scope link | grep -v tentative | awk '{ print $4 }' | cut -d/ -f1; }
has_ll() { [ -n "$(ll_of "$1" "$2")" ]; }
check "b's link-local address on ula" wait_for 5 has_ll b ula
check "a's link-local address on ulb" wait_for 5 has_ll a ulb
LLB=$(ll_of b ula)
LLA=$(ll_of a ulb)
say "b is $LLB on ula, a is $LLA on ulb"
IDX_ULB=$(ip -n "${NS[a]}" -o link show dev ulb | cut -d: -f1)
zone_ok=1
check_eq "raw endpoint with a numeric zone (%$IDX_ULB)" "$(uapi_set "public_key=$(hex "$PB")
endpoint=[$LLB%$IDX_ULB]:${PORT[b]}")" 0
ep=$(endpoint_of "$PB")
if is_sealnetd; then
	check_eq "wg show: the zone as the interface's name" "$ep" "[$LLB%ulb]:${PORT[b]}"
elif [ "$ep" = "[$LLB]:${PORT[b]}" ]; then
	zone_ok=0
	skip "this wireguard-go shows no zone ($ep): LinuxSocketBind (before 0.0.20250515)"
else
	check_eq "wg show: the zone as given" "$ep" "[$LLB%$IDX_ULB]:${PORT[b]}"
fi
# Only the link-local addresses are left on the veth: the handshake has no other way.
ip -n "${NS[a]}" addr flush dev ulb scope global || fail "flush a's ulb"
ip -n "${NS[b]}" addr flush dev ula scope global || fail "flush b's ula"
check_not "no IPv4 underlay any more" ping_once a "${UL4[b]}"
# b anew on a: no session, so the next packet needs a handshake over fe80.
check "wg set a peer b remove" wga set "$DEV" peer "$PB" remove
check "wg set a peer b endpoint [$LLB%ulb]:${PORT[b]}" wga set "$DEV" peer "$PB" \
	allowed-ips "${OV4[b]}/32,${OV6[b]}/128" endpoint "[$LLB%ulb]:${PORT[b]}"
ep=$(endpoint_of "$PB")
if [ "$zone_ok" = 1 ]; then
	check_eq "wg show: endpoint with its zone" "$ep" "[$LLB%ulb]:${PORT[b]}"
fi
check "handshake and ping a -> b over the link-local underlay within 10 s" \
	wait_ping a "${OV4[b]}" 10
check "ping a -> b, IPv6 overlay" ping_ok a "${OV6[b]}"
check "ping b -> a" ping_ok b "${OV4[a]}"
check_gt "a: latest handshake with b" \
	"$(wga show "$DEV" latest-handshakes | awk -v k="$PB" '$1 == k { print $2 }')" 0
bep=$(nsx b "$WG" show "${IFACE[b]}" endpoints | awk -v k="${PUB[a]}" '$1 == k { print $2 }')
check "b roamed to a's link-local address ($bep)" grep -qF "[$LLA" <<<"$bep"
wga show "$DEV" | sed 's/^/    /'

if is_sealnetd; then
	step "a set with an unknown zone is refused, and changes nothing"
	check_eq "endpoint=[fe80::1%snnosuch0]:1: EINVAL" "$(uapi_set "public_key=$(hex "$PB")
endpoint=[fe80::1%snnosuch0]:1")" -22
	check_eq "b's endpoint unchanged" "$(endpoint_of "$PB")" "[$LLB%ulb]:${PORT[b]}"
	stop_node a
	ok "a exited 0 on SIGTERM"
fi
say "done"
