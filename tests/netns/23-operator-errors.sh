#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# What an operator reads when sealnetd cannot start: the file and line of a User that does
# not exist, and what to do about an interface of the same name that is not a TUN device.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

node_new a sealnetd
ifa=${IFACE[a]}
conf=$(conf_path a)
err=$SN_TMP/err

# start EXPECTED_RC: sealnetd in the foreground on $conf, stderr in $err.
start() {
	local rc
	nsx a timeout 10 "$SEALNETD" -f -c "$conf" "$ifa" >"$err" 2>&1
	rc=$?
	check_eq "sealnetd's exit status" "$rc" "$1"
}

step "User = a user that does not exist"
{ conf_interface a; echo "User = nosuchuser$$"; } >"$conf"
chmod 600 "$conf"
start 1
sed 's/^/    | /' "$err"
check_eq "the file, the line and the name" "$(cat "$err")" \
	"$conf:$(grep -n '^User' "$conf" | cut -d: -f1): User: no such user \"nosuchuser$$\""
check_not "no interface left" ip -n "${NS[a]}" link show "$ifa" 2>/dev/null
check "sealnet check says it too" bash -c "'$SEALNET' check '$conf' | grep -q 'error: User: no such user'"

step "an interface of that name that is not a TUN device"
conf_interface a >"$conf"
# A veth: this host's kernel may have no dummy module.
ip -n "${NS[a]}" link add "$ifa" type veth peer name "x$ifa" 2>/dev/null ||
	ip -n "${NS[a]}" link add "$ifa" type veth peer name "y$$" || fail "veth $ifa"
start 1
sed 's/^/    | /' "$err"
check "says what to do" grep -q "$ifa: an interface of that name exists and is not a TUN device: remove it (ip link del $ifa)" "$err"
check "the veth is left alone" ip -n "${NS[a]}" link show "$ifa" type veth
ip -n "${NS[a]}" link del "$ifa"
say "done"
