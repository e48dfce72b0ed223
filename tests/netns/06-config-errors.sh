#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# A wrong config makes sealnetd exit non-zero at once with "FILE:LINE: message" on stderr,
# leaving no interface behind; the same node then starts from a correct config.
# wireguard-go has no config file of its own (wg setconf parses it), so this is sealnetd only.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

node_new a
node_new b none
link_veth a b
if [ "${IMPL[a]}" != sealnetd ]; then
	skip "config errors: ${IMPL[a]} does not read wg-quick files itself"
	exit 0
fi

conf=$SN_TMP/bad.conf
n=0

# bad_conf LINE DESCRIPTION: $conf must be refused with an error naming LINE ("any" for a
# rule spanning several lines: then only FILE:N: is checked).
bad_conf() {
	local line=$1 what=$2 rc err=$SN_TMP/err.$n
	n=$((n + 1))
	chmod 600 "$conf"
	nsx a timeout 5 "$SEALNETD" -f -c "$conf" "${IFACE[a]}" >"$err" 2>&1
	rc=$?
	[ "$rc" = 124 ] && fail "$what: sealnetd started (killed after 5 s) instead of refusing the config"
	[ "$rc" = 0 ] && fail "$what: sealnetd exited 0"
	[ "$line" = any ] && line='[0-9]+'
	if ! grep -Eq "^$conf:$line: " "$err"; then
		sed 's/^/    /' "$err"
		fail "$what: no '$conf:$1: message' line on stderr"
	fi
	if ip -n "${NS[a]}" link show "${IFACE[a]}" >/dev/null 2>&1; then
		fail "$what: ${IFACE[a]} left behind"
	fi
	ok "$what: exit $rc, $(grep -E "^$conf:$line: " "$err" | head -n 1 | sed "s|^$SN_TMP/||")"
}

iface() { conf_interface a; }

step "configs sealnetd must refuse"
{ iface; echo "Bogus = 1"; } >"$conf"
bad_conf 5 "unknown key"
{ echo "[Interface]"; echo "PrivateKey = c2hvcnQ="; echo "ListenPort = 51001"; } >"$conf"
bad_conf 2 "short private key"
{ iface; conf_peer b; echo "Endpoint = ${UL4[b]}"; } >"$conf"
bad_conf 9 "endpoint without a port"
{ iface; conf_peer b; echo "Endpoint = [${UL6[b]}:51002"; } >"$conf"
bad_conf 9 "IPv6 endpoint without the closing bracket"
{ iface; echo; echo "[Peer]"; echo "PublicKey = ${PUB[b]}"; echo "AllowedIPs = 100.64.0.300/32"; } >"$conf"
bad_conf 8 "AllowedIPs address out of range"
{ conf_interface a port=none; echo "ListenPort = 70000"; } >"$conf"
bad_conf 4 "listen port out of range"
{ iface; echo "ListenPort = 51009"; } >"$conf"
bad_conf 5 "ListenPort given twice"
{ conf_interface a | sed 's|/24,|/33,|'; } >"$conf"
bad_conf 4 "IPv4 prefix /33 in Address"
{ iface; echo; echo "[Peer]"; echo "AllowedIPs = ${OV4[b]}/32"; } >"$conf"
bad_conf any "peer without a public key"
{ iface; echo "[Bogus]"; } >"$conf"
bad_conf 5 "unknown section"

step "a missing file"
nsx a timeout 5 "$SEALNETD" -f -c "$SN_TMP/missing.conf" "${IFACE[a]}" >"$SN_TMP/err.missing" 2>&1
rc=$?
if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then
	fail "missing config: exit $rc"
fi
grep -q "missing.conf" "$SN_TMP/err.missing" || fail "missing config: the error does not name the file"
ok "missing config: exit $rc, $(head -n 1 "$SN_TMP/err.missing" | sed "s|$SN_TMP/||")"

step "control: the same node starts from a correct config"
{ conf_interface a; conf_peer b endpoint=4; } >"$(conf_path a)"
start_node a
ok "${IFACE[a]} up with ${OV4[a]}"
stop_node a
ok "exit 0 on SIGTERM, interface gone"
say "done"
