#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# `sealnet set IF rules ...` and `... peer KEY groups ...`: the access rules and a peer's
# groups changed at run time in the words of the config file (Allow = / Deny = lines, a
# Groups list), each list whole; `sealnet show` lists what is in force. b pings a throughout:
# what passes follows each change.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

[ "${IMPL_A:-${IMPL:-sealnetd}}" = sealnetd ] || { skip "rules are sealnetd's"; exit 0; }
node_new a sealnetd
node_new b
link_veth a b
ifa=${IFACE[a]}
out=$SN_TMP/out

# set ARGS...: sealnet set on a, which must succeed.
set_a() { nsx a "$SEALNET" set "$ifa" "$@" || fail "sealnet set $ifa $*"; }
# b_pings: one ping from b to a, answered or not.
b_pings() { ping_once b "${OV4[a]}"; }
# b_refused: three pings from b, none answered (no flow of a's own lets them by).
b_refused() { ! nsx b ping -n -q -c 3 -i 0.3 -W 1 "${OV4[a]}" >/dev/null 2>&1; }

step "a without rules; b pings a"
{ conf_interface a; conf_peer b endpoint=4; } >"$(conf_path a)"
{ conf_interface b; conf_peer a endpoint=4; } >"$(conf_path b)"
start_node a
start_node b
check "b pings a" wait_ping b "${OV4[a]}" 10

step "rules as the file writes them: icmp only from group web, b in no group"
set_a rules "$(printf 'Allow = tcp/5201 # iperf\nAllow = icmp from group:web')"
nsx a "$SEALNET" show "$ifa" >"$out"
sed -n '/access rules/,/^$/p' "$out" | sed 's/^/    | /'
check "show lists the first rule" grep -qx '    allow tcp/5201 from any (0 matched)' "$out"
check "show lists the second rule" grep -qx '    allow icmp from group:web (0 matched)' "$out"
check "b's pings are dropped" b_refused

step "b into groups web and db"
set_a peer "${PUB[b]}" groups "web, db"
nsx a "$SEALNET" show "$ifa" >"$out"
check "show lists b's groups" grep -qx '  groups: web, db' "$out"
check "b pings a" wait_ping b "${OV4[a]}" 5
check_gt "the icmp rule counted b's pings" \
	"$(nsx a "$SEALNET" show "$ifa" | sed -n 's/^    allow icmp from group:web (\([0-9]*\) matched)$/\1/p')" 0

step "b's groups emptied: dropped again"
set_a peer "${PUB[b]}" groups ''
nsx a "$SEALNET" show "$ifa" >"$out"
check_not "show lists no groups" grep -q '^  groups:' "$out"
check "b's pings are dropped" b_refused

step "a Deny in the list, then no rules at all"
set_a peer "${PUB[b]}" groups web
set_a rules "Deny = icmp from key:${PUB[b]}; Allow = icmp from group:web"
check "the Deny comes first: dropped" b_refused
set_a rules ''
nsx a "$SEALNET" show "$ifa" >"$out"
check_not "show lists no rules" grep -q 'access rules' "$out"
check "no rules: b pings a" wait_ping b "${OV4[a]}" 5

step "a bad rule changes nothing"
set_a rules 'Allow = icmp from group:web'
nsx a "$SEALNET" set "$ifa" rules 'Allow = icmp; Allow = tcp/70000' 2>"$out"
check_eq "a usage error" "$?" 2
check "says which rule and why" grep -q "bad rule \`Allow = tcp/70000': bad port" "$out"
check_eq "the rules in force are the last good ones" \
	"$(nsx a "$SEALNET" show "$ifa" | grep -c '^    allow ')" 1
stop_node b
stop_node a
say "done"
