#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# `sealnet up` and `down` on a wg-quick file with everything wg-quick itself acts on: PreUp,
# PostUp, PreDown and PostDown hooks with %i, a file without PrivateKey whose PostUp sets the
# key with wg(8), DNS through resolvconf, SaveConfig, and a 500-byte AllowedIPs line. The
# resolvconf first in PATH is a fake that records its arguments and input, so the calls are
# checked as made. Then the failures: a failing PostUp fails up and leaves no interface, a
# failing PreUp starts nothing, DNS without resolvconf is refused before anything runs, and
# sealnetd started on such a file without `sealnet up` refuses it, naming the line.
#
# Node a is started by `sealnet up`, which daemonizes: its pid comes from its pid file (as in
# 20-tool.sh). Node b is a plain peer.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

RUN_DIR=/run/sealnet

node_new a sealnetd
node_new b
link_veth a b
[ -x "$SEALNET" ] || fail "sealnet not found at $SEALNET"
export SEALNETD

ifa=${IFACE[a]}
conf_a=$SN_TMP/$ifa.conf
pidfile=$RUN_DIR/$ifa.pid
out=$SN_TMP/out
err=$SN_TMP/err
marks=$SN_TMP/marks
keyfile=$SN_TMP/a.key
(umask 077 && echo "${PRIV[a]}" >"$keyfile")

# The daemon `up` started, if the scenario had not recorded it yet, for the cleanup.
track_up_daemon() { track_pidfile a "$pidfile"; }
# shellcheck disable=SC2154 # sn_rc is set by the trap itself
trap 'sn_rc=$?; track_up_daemon; (exit $sn_rc); sn_cleanup' EXIT

# The fake resolvconf: each call appends its arguments to calls, and its input to input.N.
bin=$SN_TMP/bin
mkdir -p "$bin"
cat >"$bin/resolvconf" <<EOF
#!/bin/sh
n=\$(wc -l <"$SN_TMP/resolvconf.calls" 2>/dev/null || echo 0)
echo "\$*" >>"$SN_TMP/resolvconf.calls"
case "\$1" in -a) cat >"$SN_TMP/resolvconf.input.\$n" ;; esac
exit 0
EOF
chmod 755 "$bin/resolvconf"
PATH_FAKE=$bin:$PATH
# Where PATH has no resolvconf at all: a directory with only what the hooks use.
nodns=$SN_TMP/nodns
mkdir -p "$nodns"
for tool in bash sh ip wg echo cat; do ln -sf "$(command -v "$tool")" "$nodns/$tool"; done

# wg-quick's name for the resolvconf entry (see tools/quick.c): the first "PREFIX*" line of
# Debian's interface-order, or none.
prefix=$(sed -n 's/^[[:space:]]*\([A-Za-z0-9-]\{1,\}\)\*[[:space:]]*$/\1./p' \
	/etc/resolvconf/interface-order 2>/dev/null | head -n 1)
rcname=$prefix$ifa

# debian-etc CMD...: CMD in a private mount namespace whose /etc has Debian's interface-order
# (an overlay on a tmpfs: the host's /etc is untouched), so the "tun." prefix is checked
# whatever the host has.
cat >"$SN_TMP/interface-order" <<'EOF'
lo.inet6
lo.inet
lo.@(dnsmasq|pdnsd)
lo.!(pdns|pdns-recursor)
lo
tun*
tap*
hso*
em+([0-9])?(_+([0-9]))*
EOF
cat >"$SN_TMP/debian-etc" <<EOF
#!/bin/sh
set -e
d=\$(mktemp -d "$SN_TMP/etc.XXXXXX")
mount -t tmpfs tmpfs "\$d"
mkdir "\$d/up" "\$d/work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=\$d/up,workdir=\$d/work" /etc
mkdir -p /etc/resolvconf
cp "$SN_TMP/interface-order" /etc/resolvconf/interface-order
exec "\$@"
EOF
chmod 755 "$SN_TMP/debian-etc"
WRAP=()

# tool EXPECTED_RC [ENV...] -- ARGS...: sealnet in a's namespace with the fake resolvconf
# first in PATH, stdout in $out, stderr in $err.
tool() {
	local want=$1 rc
	shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	san=$(san_dir) || fail "no directory for sanitizer reports"
	nsx a "${WRAP[@]}" env PATH="$PATH_FAKE" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$san/a.san" \
		UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$san/a.san" \
		"${envs[@]}" "$SEALNET" "$@" >"$out" 2>"$err"
	rc=$?
	if [ "$rc" != "$want" ]; then
		sed 's/^/    stderr: /' "$err" >&2
		fail "sealnet $*: exit $rc, expected $want"
	fi
}

link_exists() { ip -n "${NS[a]}" link show "$ifa" >/dev/null 2>&1; }
gone() {
	local state
	state=$(sed -n 's/^.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ -z "$state" ] || [ "$state" = Z ]
}
# marked LINE: the marks file holds exactly this line.
marked() { grep -qxF -- "$1" "$marks"; }
# a_down_clean: after a down (or a failed up), nothing of a is left.
a_down_clean() {
	check_not "$ifa is gone" link_exists
	check_not "the pid file is gone" test -e "$pidfile"
	check_not "the control socket is gone" test -e "/var/run/wireguard/$ifa.sock"
}
# untrack_a: a's daemon has exited (down, or a failed up).
untrack_a() {
	if [ -n "${PID[a]:-}" ]; then
		wait_for 5 gone "${PID[a]}" || fail "sealnetd ${PID[a]} still runs"
		untrack "${PID[a]}"
		PID[a]=
	fi
}

# The AllowedIPs that leave the private ranges out (IPv4 and IPv6), plus b's IPv6 address
# (in fd00::/8, left out too): one line of over 500 bytes.
not_private="0.0.0.0/5, 8.0.0.0/7, 11.0.0.0/8, 12.0.0.0/6, 16.0.0.0/4, 32.0.0.0/3, 64.0.0.0/2, 128.0.0.0/3, 160.0.0.0/5, 168.0.0.0/6, 172.0.0.0/12, 172.32.0.0/11, 172.64.0.0/10, 172.128.0.0/9, 173.0.0.0/8, 174.0.0.0/7, 176.0.0.0/4, 192.0.0.0/9, 192.128.0.0/11, 192.160.0.0/13, 192.169.0.0/16, 192.170.0.0/15, 192.172.0.0/14, 192.176.0.0/12, 192.192.0.0/10, 193.0.0.0/8, 194.0.0.0/7, 196.0.0.0/6, 200.0.0.0/5, 208.0.0.0/4, ::/2, 4000::/2, 8000::/2, c000::/3, e000::/4, f000::/5, f800::/6, fe00::/7"
allowed="$not_private, ${OV6[b]}/128"

# a's file: wg-quick's, no PrivateKey (the second PostUp sets it). Each hook leaves a mark:
# whether the interface exists, its addresses, how many resolvconf calls came before.
write_conf_a() {
	cat <<EOF
# a: brought up by sealnet up
[Interface]
ListenPort = ${PORT[a]}
Address = ${OV4[a]}/24, ${OV6[a]}/64
DNS = 100.64.0.53, fd00:64::53,corp.example lab.example
PreUp = echo "pre-up 1 %i \$(ip link show %i >/dev/null 2>&1 && echo exists || echo absent)" >>$marks
PreUp = echo "pre-up 2 %i" >>$marks
PostUp = echo "post-up 1 %i \$(ip -o -4 addr show dev %i | grep -c ${OV4[a]}/24) dns=\$(cat $SN_TMP/resolvconf.calls 2>/dev/null | wc -l)" >>$marks
PostUp = wg set %i private-key $keyfile
PostUp = echo "post-up 3 %i; a semicolon in a hook is the shell's" >>$marks
PreDown = echo "pre-down %i \$(ip link show %i >/dev/null 2>&1 && echo exists || echo absent)" >>$marks
PostDown = echo "post-down %i \$(ip link show %i >/dev/null 2>&1 && echo exists || echo absent)" >>$marks
SaveConfig = true

[Peer]
PublicKey = ${PUB[b]}
AllowedIPs = $allowed
Endpoint = ${UL4[b]}:${PORT[b]}
EOF
}
write_conf_a >"$conf_a"
chmod 600 "$conf_a"
[ "$(grep -c '^AllowedIPs = ' "$conf_a")" = 1 ] || fail "the AllowedIPs line"
check_gt "the AllowedIPs line is long" "$(grep '^AllowedIPs = ' "$conf_a" | wc -c)" 500

step "b waits for a"
{ conf_interface b; conf_peer a; } >"$(conf_path b)"
start_node b

step "sealnet up $ifa.conf: hooks, DNS, a key from PostUp"
: >"$marks"
rm -f "$SN_TMP"/resolvconf.*
tool 0 -- up "$conf_a"
track_up_daemon
[ -n "${PID[a]:-}" ] || fail "no sealnetd pid in $pidfile after up"
LOG[a]=$san/a.san.${PID[a]}
ok "up exit 0, sealnetd pid ${PID[a]}"
sed 's/^/    | /' "$err"
check "up said each hook, as wg-quick does" grep -qxF "[#] echo \"pre-up 2 $ifa\" >>$marks" "$err"
check "up said the resolvconf call" grep -qxF "[#] resolvconf -a $rcname -m 0 -x" "$err"
check "the daemon warned: no PrivateKey" grep -q "$conf_a: no PrivateKey: the interface will not handshake until one is set" "$err"
check_eq "the warning came once (from the daemon, not from up too)" "$(grep -c 'no PrivateKey' "$err")" 1
check "PreUp 1 ran before the interface existed, %i replaced" marked "pre-up 1 $ifa absent"
check "PreUp 2 ran, after PreUp 1" test "$(sed -n 2p "$marks")" = "pre-up 2 $ifa"
check "PostUp 1 ran with the address set, after DNS" marked "post-up 1 $ifa 1 dns=1"
check "PostUp 3 ran: the whole line, ';' and all" marked "post-up 3 $ifa; a semicolon in a hook is the shell's"
check_eq "four marks, in order" "$(cut -d' ' -f1,2 "$marks" | tr '\n' ,)" "pre-up 1,pre-up 2,post-up 1,post-up 3,"
check_not "no down hook ran" grep -q down "$marks"
check_eq "resolvconf called once" "$(cat "$SN_TMP/resolvconf.calls")" "-a $rcname -m 0 -x"
check_eq "resolvconf's input: nameservers, then the search domains on one line" \
	"$(cat "$SN_TMP/resolvconf.input.0")" \
	"$(printf 'nameserver 100.64.0.53\nnameserver fd00:64::53\nsearch corp.example lab.example')"
tool 0 -- show "$ifa"
check "the key PostUp set is the interface's" grep -qxF "  public key: ${PUB[a]}" "$out"
check "ping a -> b: handshake with the key from PostUp" wait_ping a "${OV4[b]}" 10
check "ping a -> b over IPv6" ping_ok a "${OV6[b]}"
check "ping b -> a" ping_ok b "${OV4[a]}"
# The file has no PrivateKey: a reload keeps the one PostUp set, as `wg syncconf` would.
tool 0 -- reload "$ifa"
tool 0 -- show "$ifa"
check "the key PostUp set survives a reload" grep -qxF "  public key: ${PUB[a]}" "$out"
check "ping a -> b after the reload" ping_ok a "${OV4[b]}"
tool 0 -- show "$ifa" --json
check_eq "all 39 prefixes of the long line reached the daemon" \
	"$(jq '[.. | objects | .allowed_ips? // empty | .[]] | length' "$out")" 39

step "a peer added at run time, then sealnet down: PreDown, SaveConfig, stop, DNS, PostDown"
pub_c=$(genkey | pubkey) || fail "key for peer c"
tool 0 -- set "$ifa" peer "$pub_c" allowed-ips 100.64.0.99/32 persistent-keepalive 7
: >"$marks"
# down needs no peer's address: a name that cannot resolve must not stop it.
pub_d=$(genkey | pubkey) || fail "key for peer d"
{ echo; echo "[Peer]"; echo "PublicKey = $pub_d"; echo "Endpoint = nowhere.invalid:51820"; } >>"$conf_a"
cp "$conf_a" "$SN_TMP/before-save.conf"
tool 0 -- down "$ifa"
sed 's/^/    | /' "$err"
untrack_a
a_down_clean
check "PreDown ran while the interface existed" marked "pre-down $ifa exists"
check "PostDown ran once it was gone" marked "post-down $ifa absent"
check_eq "two marks, in order" "$(cut -d' ' -f1 "$marks" | tr '\n' ,)" "pre-down,post-down,"
check_eq "resolvconf: the entry removed" "$(sed -n 2p "$SN_TMP/resolvconf.calls")" "-d $rcname -f"
check "down said so" grep -qxF "[#] resolvconf -d $rcname -f" "$err"

step "SaveConfig wrote the running state back"
sed 's/^/    | /' "$conf_a"
check_eq "mode 0600" "$(stat -c %a "$conf_a")" 600
check_not "the file changed" cmp -s "$conf_a" "$SN_TMP/before-save.conf"
check "the key set by PostUp is saved" grep -qxF "PrivateKey = ${PRIV[a]}" "$conf_a"
check "ListenPort" grep -qxF "ListenPort = ${PORT[a]}" "$conf_a"
check "the addresses" grep -qxF "Address = ${OV4[a]}/24" "$conf_a"
check "DNS, one line" grep -qxF "DNS = 100.64.0.53, fd00:64::53, corp.example, lab.example" "$conf_a"
check "SaveConfig = true kept" grep -qxF "SaveConfig = true" "$conf_a"
check_eq "the hooks, in order" "$(grep -E '^(Pre|Post)(Up|Down) = ' "$conf_a" | cut -d' ' -f1 | tr '\n' ,)" \
	"PreUp,PreUp,PostUp,PostUp,PostUp,PreDown,PostDown,"
check "a hook word for word" grep -qxF "PostUp = wg set %i private-key $keyfile" "$conf_a"
# The daemon lists prefixes in its trie's order, not the file's.
sorted_list() { tr ',' '\n' | tr -d ' ' | sort; }
check_eq "peer b's long AllowedIPs, on one line" \
	"$(grep -m 1 '^AllowedIPs = ' "$conf_a" | sed 's/^AllowedIPs = //' | sorted_list | tr '\n' ' ')" \
	"$(echo "$allowed" | sorted_list | tr '\n' ' ')"
check "peer c, added at run time" grep -qxF "PublicKey = $pub_c" "$conf_a"
check "with its keepalive" grep -qxF "PersistentKeepalive = 7" "$conf_a"
check_not "peer d, only in the file, is not (the running state is saved)" grep -q "$pub_d" "$conf_a"
check_not "comments are not kept (as wg-quick)" grep -q '^#' "$conf_a"
ls "$SN_TMP/$ifa.conf".* >/dev/null 2>&1 && fail "a temporary file was left next to the config"
ok "no temporary file left"

step "the saved file loads again, with a mesh-wide [Peer] for a itself appended"
{ echo; echo "[Peer]"; echo "PublicKey = ${PUB[a]}"; echo "AllowedIPs = ${OV4[a]}/32"; } >>"$conf_a"
: >"$marks"
tool 0 -- up "$conf_a"
track_up_daemon
LOG[a]=$san/a.san.${PID[a]}
sed 's/^/    | /' "$err"
check_not "no PrivateKey warning now" grep -q "no PrivateKey" "$err"
check "the daemon left out the [Peer] with a's own key, saying so" \
	grep -q "\[Peer\] ${PUB[a]} has this interface's own public key: left out" "$err"
check "ping a -> b" wait_ping a "${OV4[b]}" 10
tool 0 -- show "$ifa" --json
check "peer c is back" grep -q "\"$pub_c\"" "$out"
check_eq "two peers: b and c, none with a's own key" "$(grep -c '^          "public_key": ' "$out")" 2
check "PostUp ran again" marked "post-up 3 $ifa; a semicolon in a hook is the shell's"
# down FILE: the file given, as wg-quick down FILE.
tool 0 -- down "$conf_a"
untrack_a
a_down_clean
check "down FILE ran its PostDown" marked "post-down $ifa absent"

step "where Debian's resolvconf orders interfaces, the entry is tun.$ifa (wg-quick's name)"
if ! nsx a unshare -m "$SN_TMP/debian-etc" test -e /etc/resolvconf/interface-order 2>"$err"; then
	skip "no overlay mount here: $(head -n 1 "$err")"
else
	write_conf_a >"$conf_a"
	rm -f "$SN_TMP"/resolvconf.*
	WRAP=(unshare -m "$SN_TMP/debian-etc")
	tool 0 -- up "$conf_a"
	track_up_daemon
	LOG[a]=$san/a.san.${PID[a]}
	check "ping a -> b" wait_ping a "${OV4[b]}" 10
	tool 0 -- down "$ifa"
	WRAP=()
	untrack_a
	a_down_clean
	check_eq "resolvconf -a tun.$ifa, then -d tun.$ifa" "$(tr '\n' , <"$SN_TMP/resolvconf.calls")" \
		"-a tun.$ifa -m 0 -x,-d tun.$ifa -f,"
	check_not "the host's /etc has no interface-order of ours" \
		cmp -s /etc/resolvconf/interface-order "$SN_TMP/interface-order"
fi

step "a failing PostUp fails up and takes the interface down again"
write_conf_a | sed "s|^PostUp = echo \"post-up 3|PostUp = exit 3\nPostUp = echo \"post-up 3|" >"$conf_a"
: >"$marks"
rm -f "$SN_TMP"/resolvconf.*
tool 1 -- up "$conf_a"
track_up_daemon
sed 's/^/    | /' "$err"
check "up names the hook and its status" grep -qxF "sealnet: up $ifa: PostUp failed (exit 3): exit 3" "$err"
check "the PostUp before it ran" marked "post-up 1 $ifa 1 dns=1"
check_not "the PostUp after it did not" grep -q "post-up 3" "$marks"
check_not "no PreDown or PostDown (wg-quick's del_if runs none)" grep -q down "$marks"
check_eq "DNS set, then removed" "$(tr '\n' , <"$SN_TMP/resolvconf.calls")" "-a $rcname -m 0 -x,-d $rcname -f,"
untrack_a
a_down_clean

step "a failing PreUp starts nothing"
write_conf_a | sed 's@^PreUp = echo "pre-up 2.*@PreUp = false || exit 4@' >"$conf_a"
: >"$marks"
rm -f "$SN_TMP"/resolvconf.*
tool 1 -- up "$conf_a"
check "up names the hook" grep -q "sealnet: up $ifa: PreUp failed (exit 4)" "$err"
check "PreUp 1 ran" marked "pre-up 1 $ifa absent"
check_eq "nothing else ran" "$(wc -l <"$marks")" 1
check_not "no resolvconf call" test -e "$SN_TMP/resolvconf.calls"
check_not "no daemon" test -e "$pidfile"
check_not "no interface" link_exists

step "hooks run as wg-quick runs them: bash with -e and pipefail"
write_conf_a | sed 's|^PreUp = echo "pre-up 2.*|PreUp = false; echo "not reached" >>'"$marks"'|' >"$conf_a"
: >"$marks"
tool 1 -- up "$conf_a"
check_not "a failing command inside a hook stops it" marked "not reached"
write_conf_a | sed 's@^PreUp = echo "pre-up 2.*@PreUp = false | true@' >"$conf_a"
tool 1 -- up "$conf_a"
check "a failing pipeline fails the hook" grep -q "PreUp failed (exit 1): false | true" "$err"
check_not "no interface" link_exists

step "DNS without a resolvconf in PATH: refused before anything runs"
write_conf_a >"$conf_a"
: >"$marks"
tool 1 PATH="$nodns" -- up "$conf_a"
sed 's/^/    | /' "$err"
check "the error says so" grep -q "DNS is set but there is no resolvconf in PATH" "$err"
check_eq "no hook ran" "$(wc -l <"$marks")" 0
check_not "no interface" link_exists

step "sealnetd alone on the file refuses it, naming the line"
nsx a timeout 5 "$SEALNETD" -f -c "$conf_a" "$ifa" >"$err" 2>&1
rc=$?
[ "$rc" = 124 ] && fail "sealnetd started on a file with hooks"
check_gt "sealnetd exit status" "$rc" 0
line=$(grep -n '^DNS = ' "$conf_a" | cut -d: -f1)
check "the error names DNS, the first such line ($line)" \
	grep -qF "$conf_a:$line: DNS: acted on by \`sealnet up\` and \`down\`, not by sealnetd" "$err"
check_not "no interface" link_exists
check_not "no hook ran" test -s "$marks"

stop_node b
say "done"
