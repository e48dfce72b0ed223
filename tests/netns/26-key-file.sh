#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# PrivateKeyFile = PATH: the key read at startup (as root) and again at each reload, after the
# privilege drop, through the root helper, which opens only the key file named at startup. A
# new key written to that file is taken by a reload; a reload that names another file is
# refused and changes nothing; a key file others can read is a warning; one that cannot be
# read stops the start with the file and line. PresharedKeyFile = PATH in a's [Peer] for b: a
# handshake with b, which has the same key inline, and again after a reload (the helper reads
# every key file named at startup).
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

[ "${IMPL_A:-${IMPL:-sealnetd}}" = sealnetd ] || { skip "PrivateKeyFile needs sealnetd on a"; exit 0; }
node_new a sealnetd
node_new b
link_veth a b
ifa=${IFACE[a]}
key=$SN_TMP/a.key
pskfile=$SN_TMP/ab.psk
psk=$(nsx a "$SEALNET" genpsk)
err=$SN_TMP/err

# conf_a KEYFILE: a's config, with its key in KEYFILE and the one it shares with b in $pskfile.
conf_a() {
	conf_interface a | sed "s|^PrivateKey = .*|PrivateKeyFile = $1|"
	conf_peer b endpoint=4
	echo "PresharedKeyFile = $pskfile"
}

# shown_key: a's public key as the control socket gives it.
shown_key() { nsx a "$SEALNET" show "$ifa" | sed -n 's/^  public key: //p'; }

step "a starts with PrivateKeyFile and b's PresharedKeyFile; the daemon drops root"
echo "${PRIV[a]}" >"$key"
(umask 077 && echo "$psk" >"$pskfile")
chmod 600 "$key"
conf_a "$key" >"$(conf_path a)"
{ conf_interface b; conf_peer a endpoint=4 psk="$psk"; } >"$(conf_path b)"
grep -q '^PrivateKeyFile' "$(conf_path a)" || fail "no PrivateKeyFile line in a's config"
start_node b
start_node a
check_eq "a's public key is the file's" "$(shown_key)" "${PUB[a]}"
check "a pings b" wait_ping a "${OV4[b]}" 10
check "a runs unprivileged" bash -c "[ \"\$(ps -o uid= -p ${PID[a]} | tr -d ' ')\" != 0 ]"
check_eq "b's preshared key on a is the file's" "$(nsx a wg show "$ifa" preshared-keys | cut -f 2)" "$psk"

step "a new key in the same file, taken by a reload"
PRIV[a]=$(genkey)
PUB[a]=$(pubkey <<<"${PRIV[a]}")
echo "${PRIV[a]}" >"$key"
{ conf_interface b; conf_peer a endpoint=4 psk="$psk"; } >"$(conf_path b)"
check "b reloads with a's new public key" nsx b "$SEALNET" reload "${IFACE[b]}"
check "a reloads" nsx a "$SEALNET" reload "$ifa"
check_eq "a's public key is the new one" "$(shown_key)" "${PUB[a]}"
check "a pings b with its new key" wait_ping a "${OV4[b]}" 15
check_eq "the preshared key read again after the drop" "$(nsx a wg show "$ifa" preshared-keys | cut -f 2)" "$psk"

step "a reload that names another key file is refused"
(umask 077 && genkey >"$SN_TMP/other.key")
chmod 600 "$SN_TMP/other.key"
conf_a "$SN_TMP/other.key" >"$(conf_path a)"
nsx a "$SEALNET" reload "$ifa" >"$SN_TMP/out" 2>"$err"
check_eq "reload fails" "$?" 1
sed 's/^/    | /' "$err"
check "names the file, the line and why" grep -q \
	"$(conf_path a):2: PrivateKeyFile: cannot open \"$SN_TMP/other.key\": Operation not permitted (after the privilege drop only the file the daemon started with can be read)" "$err"
check_eq "a's key is unchanged" "$(shown_key)" "${PUB[a]}"
check "a is still running" node_alive a

step "a key file others can read: a warning in the log"
conf_a "$key" >"$(conf_path a)"
chmod 644 "$key"
check "a reloads" nsx a "$SEALNET" reload "$ifa"
check "the log says so" wait_for 5 grep -q \
	"$(conf_path a):2: PrivateKeyFile: \"$key\" is readable by others (mode 644)" "${LOG[a]}"
chmod 600 "$key"
stop_node a

step "a key file that cannot be read stops the start, naming the line"
rm -f "$key"
timeout 10 ip netns exec "${NS[a]}" "$SEALNETD" -f -c "$(conf_path a)" "$ifa" >"$err" 2>&1
check_eq "sealnetd's exit status" "$?" 1
sed 's/^/    | /' "$err"
check_eq "the file, the line and the reason" "$(cat "$err")" \
	"$(conf_path a):2: PrivateKeyFile: cannot open \"$key\": No such file or directory"
check_not "no interface left" ip -n "${NS[a]}" link show "$ifa" 2>/dev/null
say "done"
