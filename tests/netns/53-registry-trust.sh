#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# What one writer of etcd can do to the others through the peer registry (docs/security.md,
# "The peer registry"): two sealnetd nodes join through a real etcd in the router namespace r,
# as in 51, with the cluster's range 100.64.0.0/10 on their command lines, and then a rogue
# writer (curl against etcd's JSON gateway, as a compromised node could) puts entries that
# every node must refuse, and deletes and overwrites a node's own entry.
#
#	a (198.18.1.1) --\
#	                  r: routes between the links; etcd on 198.18.1.3:2379
#	b (198.18.2.2) --/
#
# 1. Join; a has a peer configured by hand (100.64.9.9/32), b does not.
# 2. Claims outside the cluster's range (pod subnets 8.0.0.0/8 and 198.18.0.0/15, the
#    underlay with every node's endpoint; overlay 1.1.1.1), an endpoint inside it, an entry
#    named after one key that says it is another: refused by both nodes, counted, and no
#    allowed-ip and no route anywhere.  An entry claiming the hand peer's 100.64.9.9: a
#    refuses it (the hand peer keeps its prefix), b, which has no such peer, takes it.
#    A key and a value with newlines: logged escaped, no forged line.
# 3. a's own entry deleted: a publishes it again at once, b keeps a.  Overwritten with another
#    overlay address and no lease: published again, and b routes a's own address to a.
#
#	SN_ETCD     etcd binary (default: etcd from PATH)
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

ETCD_BIN=${SN_ETCD:-$(command -v etcd)}
[ -x "$ETCD_BIN" ] || fail "etcd not found (make deps: etcd-server)"
command -v curl >/dev/null || fail "curl is not installed (make deps)"
[ -x "$SEALNET" ] || fail "sealnet not found at $SEALNET (make)"

TTL=3
PREFIX=/sealnet/t53
CLUSTER=100.64.0.0/10

node_new a
node_new b
node_new r none
link_veth a r
link_veth b r
nsx r sysctl -q -w net.ipv4.ip_forward=1 || fail "ip_forward in r"
for n in a b; do
	ip -n "${NS[$n]}" route add 198.18.0.0/16 via "198.18.${IDX[$n]}.${IDX[r]}" ||
		fail "route on $n"
done
ETCD="http://${UL4[r]}:2379"

bg_start "$SN_TMP/etcd.log" r "$ETCD_BIN" --name t53 --data-dir "$SN_TMP/etcd" \
	--listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
	--listen-peer-urls http://127.0.0.1:2380 \
	--initial-advertise-peer-urls http://127.0.0.1:2380 \
	--initial-cluster t53=http://127.0.0.1:2380
wait_for 15 nsx r curl -sf -m 1 "$ETCD/health" ||
	fail "etcd did not answer in 15 s: $(tail -n 5 "$SN_TMP/etcd.log")"

b64() { printf '%s' "$1" | base64 -w0; }
# What a rogue writer does: put and delete any key, with no lease.
etcd_put() {
	nsx r curl -sf -m 3 "$ETCD/v3/kv/put" \
		-d "{\"key\":\"$(b64 "$1")\",\"value\":\"$(b64 "$2")\"}" >/dev/null
}
etcd_del() {
	nsx r curl -sf -m 3 "$ETCD/v3/kv/deleterange" -d "{\"key\":\"$(b64 "$1")\"}" >/dev/null
}
# etcd_get KEY: the value, or nothing.
etcd_get() {
	nsx r curl -sf -m 3 "$ETCD/v3/kv/range" -d "{\"key\":\"$(b64 "$1")\"}" |
		jq -r '.kvs[0].value // empty' | base64 -d
}
key_name() { printf '%s' "$1" | tr '+/' '-_' | tr -d '='; }

declare -A REG
reg_start() {
	local n=$1
	ip netns exec "${NS[$n]}" "$SEALNET" registry "${IFACE[$n]}" --etcd "$ETCD" \
		--prefix "$PREFIX" --overlay "${OV4[$n]}" --pod-subnet "100.96.${IDX[$n]}.0/24" \
		--cluster-cidr "$CLUSTER" --ttl "$TTL" --state "$SN_TMP/$n.state" \
		--metrics "$SN_TMP/$n.prom" >>"${LOG[$n]}" 2>&1 &
	REG[$n]=$!
	track "${REG[$n]}"
}
has_peer() { wg show "${IFACE[$1]}" peers 2>/dev/null | grep -qxF "$2"; }
lacks_peer() { ! has_peer "$1" "$2"; }
allowed_of() { wg show "${IFACE[$1]}" allowed-ips | grep -F "$2" | cut -f2; }
# Not grep -q: it would leave the first grep a closed pipe, and pipefail (lib.sh) a failure.
reg_logged() { grep 'sealnet-registry\[' "${LOG[$1]}" | grep -F -- "$2" >/dev/null; }
metric() { sed -n "s/^$2{[^}]*} //p" "$SN_TMP/$1.prom" 2>/dev/null; }
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }

step "1. a and b join; a has a peer configured by hand"
for n in a b; do
	conf_interface "$n" >"$(conf_path "$n")"
	start_node "$n"
done
HAND_PUB=$(genkey | pubkey)
nsx a wg set "${IFACE[a]}" peer "$HAND_PUB" allowed-ips 100.64.9.9/32 || fail "hand peer on a"
reg_start a
reg_start b
check "a has b" wait_for 10 has_peer a "${PUB[b]}"
check "b has a" wait_for 10 has_peer b "${PUB[a]}"
check "ping a -> b" wait_ping a "${OV4[b]}"

step "2. entries no node may take"
# rogue NAME_PUB PUB JSON-FIELDS: an entry under NAME_PUB's name that says it is PUB.
rogue() {
	etcd_put "$PREFIX/nodes/$(key_name "$1")" "{\"public_key\":\"$2\",$3}" ||
		fail "put a rogue entry"
}
declare -a ROGUES
for i in 1 2 3 4 5 6; do
	ROGUES[i]=$(genkey | pubkey)
done
EP='"endpoints":["198.18.1.200:51820"]'
rogue "${ROGUES[1]}" "${ROGUES[1]}" "$EP,\"overlay\":\"100.64.0.51\",\"pod_subnet\":\"8.0.0.0/8\""
rogue "${ROGUES[2]}" "${ROGUES[2]}" "$EP,\"overlay\":\"100.64.0.52\",\"pod_subnet\":\"198.18.0.0/15\""
rogue "${ROGUES[3]}" "${ROGUES[3]}" "$EP,\"overlay\":\"1.1.1.1\""
rogue "${ROGUES[4]}" "${ROGUES[4]}" '"endpoints":["100.96.2.5:51820"],"overlay":"100.64.0.54"'
# Named after one key, says it is another: both are keys, the rest is valid.
rogue "${ROGUES[5]}" "${ROGUES[6]}" "$EP,\"overlay\":\"100.64.0.55\""
# A key and a value that would each forge a log line, were they logged as they are.
FORGED="sealnet-registry[0] warning: FORGED"
etcd_put "$PREFIX/nodes/x
$FORGED by the key" '{}' || fail "put the key with a newline"
rogue "${ROGUES[6]}" "${ROGUES[6]}" "\"overlay\":\"x\\n$FORGED by the value\""
for n in a b; do
	check "$n: pod subnet 8.0.0.0/8 refused" wait_for 5 reg_logged "$n" \
		"refused: pod_subnet 8.0.0.0/8 is outside the cluster's ranges"
	check "$n: pod subnet 198.18.0.0/15 (the underlay) refused" reg_logged "$n" \
		"refused: pod_subnet 198.18.0.0/15 is outside the cluster's ranges"
	check "$n: overlay 1.1.1.1 refused" reg_logged "$n" \
		"refused: overlay 1.1.1.1/32 is outside the cluster's ranges"
	check "$n: an endpoint inside the cluster's range refused" reg_logged "$n" \
		"refused: endpoint \"100.96.2.5:51820\" is inside the cluster's range $CLUSTER"
	check "$n: an entry named after another key refused" reg_logged "$n" \
		"$(key_name "${ROGUES[5]}"): refused: public_key is not the key the entry is named after"
	check "$n: 7 entries refused (metrics)" wait_for 3 metric_is "$n" \
		sealnet_registry_refused_entries 7
	for i in 1 2 3 4 5 6; do
		check_not "$n: no peer from rogue entry $i" has_peer "$n" "${ROGUES[$i]}"
	done
	check_eq "$n: one peer" "$(wg show "${IFACE[$n]}" peers | grep -c .)" \
		"$([ "$n" = a ] && echo 2 || echo 1)"
	check_not "$n: no route to 8.0.0.0/8, 198.18.0.0/15 or 1.1.1.1 through the tunnel" \
		grep -qE '^(8\.0\.0\.0/8|198\.18\.0\.0/15|1\.1\.1\.1) ' \
		<(ip -n "${NS[$n]}" route show table all dev "${IFACE[$n]}")
	check_not "$n: no forged log line" grep -q '^sealnet-registry\[0\] warning: FORGED' "${LOG[$n]}"
	check "$n: the key's newline logged escaped" grep -qF "x\\x0a$FORGED by the key" "${LOG[$n]}"
	check "$n: the value's newline logged escaped" grep -qF "x\\x0a$FORGED by the value" "${LOG[$n]}"
done
check "ping a -> b: the underlay still goes around the tunnel" ping_ok a "${OV4[b]}" 2

# The hand peer's prefix: a valid entry everywhere, but not a peer where it would take it.
TAKER=$(genkey | pubkey)
rogue "$TAKER" "$TAKER" "$EP,\"overlay\":\"100.64.9.9\""
check "a refuses the entry that claims its hand peer's prefix" wait_for 5 reg_logged a \
	"refused here: 100.64.9.9/32 overlaps 100.64.9.9/32, held by peer $HAND_PUB"
check_eq "a: the hand peer keeps 100.64.9.9/32" "$(allowed_of a "$HAND_PUB")" "100.64.9.9/32"
check_not "a: no peer for it" has_peer a "$TAKER"
check "a: 8 entries refused (metrics)" wait_for 3 metric_is a sealnet_registry_refused_entries 8
check "b, without such a peer, takes it" wait_for 5 has_peer b "$TAKER"
for i in 1 2 3 4 5 6; do
	etcd_del "$PREFIX/nodes/$(key_name "${ROGUES[$i]}")"
done
etcd_del "$PREFIX/nodes/$(key_name "$TAKER")"
etcd_del "$PREFIX/nodes/x
$FORGED by the key"
check "b drops the entry once deleted" wait_for 5 lacks_peer b "$TAKER"

step "3. a's own entry deleted, then overwritten"
A_KEY="$PREFIX/nodes/$(key_name "${PUB[a]}")"
own=$(etcd_get "$A_KEY")
[ -n "$own" ] || fail "a's entry is not in etcd"
etcd_del "$A_KEY" || fail "delete a's entry"
t0=$SECONDS
check "a notices its entry is gone" wait_for 5 reg_logged a "$A_KEY is gone from etcd"
a_entry() { [ -n "$(etcd_get "$A_KEY")" ]; }
check "a's entry is back" wait_for 5 a_entry
say "a's entry back $((SECONDS - t0)) s after it was deleted"
check "b has a" wait_for 5 has_peer b "${PUB[a]}"
check "ping b -> a" wait_ping b "${OV4[a]}"

etcd_put "$A_KEY" "{\"public_key\":\"${PUB[a]}\",\"overlay\":\"100.64.0.77\"}" ||
	fail "overwrite a's entry"
check "a notices its entry changed" wait_for 5 reg_logged a "$A_KEY says something else"
a_overlay_is() { [ "$(etcd_get "$A_KEY" | jq -r .overlay)" = "$1" ]; }
check "a's entry says a's overlay address again" wait_for 5 a_overlay_is "${OV4[a]}"
b_routes_a() { allowed_of b "${PUB[a]}" | grep -qF "${OV4[a]}/32"; }
check "b routes a's address to a" wait_for 5 b_routes_a
check "ping b -> a" wait_ping b "${OV4[a]}"
for n in a b; do
	stop_pid "${REG[$n]}" TERM
	check_eq "$n's registry exits 0 on SIGTERM" "$STOP_RC" 0
done
stop_pid "$BG_PID" TERM
say "done"
