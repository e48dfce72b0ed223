#!/usr/bin/env bash
# The peer registry (sealnet registry, docs/cluster.md): three sealnetd nodes started without
# a single peer find each other through a real etcd (Debian's etcd-server), run by this
# scenario in the router namespace r on its underlay address.
#
#	a (198.18.1.1) --\
#	b (198.18.2.2) ---- r: routes between the links; etcd on 198.18.1.4:2379
#	c (198.18.3.3) --/
#
# 0. Command lines the registry refuses (no --cluster-cidr, claims outside it, a range that
#    covers etcd).  tests/netns/53 plays a rogue writer of etcd.
# 1. Join: every node gets the two others as peers, with no peer written by hand, and every
#    overlay address answers pings from every node; so does every container (two per node,
#    attached by sealnet-cni when it is built, dual stack) from the containers of the other
#    nodes, over IPv4 and IPv6, both pod subnets of each node being in its peer's AllowedIPs.  r captures its links meanwhile: leaving
#    out etcd's own traffic (TCP port 2379, which is the registry's, not the overlay's) and
#    the links' own chatter (ARP, neighbour discovery, MLD), everything must be UDP between
#    WireGuard ports, and the marker the pings carry must appear nowhere.
# 2. Entries that fail validation (a bad key, a pod subnet overlapping one claimed first) are
#    refused, reported, never applied; a peer configured by hand is never touched.
#    Access rules from etcd: PREFIX/rules/all allows only tcp/5201 from group:web (c is in
#    web): iperf3 from c, and from c's container to a's, gets through; pings from b and its
#    container to a and a's container are dropped and counted (drop_firewall); b's own rule
#    (its config file's Allow) stays first.  An invalid rules list is refused and the rules
#    stay; a per-node key (PREFIX/rules/<a>) goes before the cluster's; b's registry restarts
#    and still knows which of b's rules are its own; the keys removed, the rules go.
# 3. Key rotation: b takes a new key (sealnet set private-key); its registry moves b's entry,
#    a and c swap the old peer for the new one, traffic resumes.  Then again while b's
#    registry is stopped: restarted, it finds its old entry still there (older, so it keeps
#    the claims until its lease expires), never makes it a peer of b, and the others move to
#    the new key once the old lease has expired.
# 4. etcd stopped: nodes keep their peers and traffic, registries say so; etcd restarted
#    (same data): registries reconnect, nothing is lost.  Then a's daemon restarts, empty:
#    its registry puts the peers and the rules from etcd back.
# 5. A node leaves (registry killed, daemon stopped): once its lease expires the others drop it.
# 6. etcd over TLS that wants client certificates (the scenario's own CA, made with openssl):
#    a registry without one cannot reach it, registries with one do.
#
#	SN_ETCD     etcd binary (default: etcd from PATH)
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

ETCD_BIN=${SN_ETCD:-$(command -v etcd)}
[ -x "$ETCD_BIN" ] || fail "etcd not found (make deps: etcd-server)"
command -v curl >/dev/null || fail "curl is not installed (make deps)"
[ -x "$SEALNET" ] || fail "sealnet not found at $SEALNET (make)"

TTL=3
PREFIX=/sealnet/t51
# The cluster's ranges: every overlay address and pod subnet of the scenario is in one (the
# IPv6 pod subnets in the second: the nodes are dual stack, as conf/sealnet-cni.conflist).
CLUSTER=(--cluster-cidr 100.64.0.0/10 --cluster-cidr fd00:96::/32)
NODES=(a b c)

node_new a
node_new b
node_new c
node_new r none
link_veth a r
link_veth b r
link_veth c r
nsx r sysctl -q -w net.ipv4.ip_forward=1 || fail "ip_forward in r"
for n in "${NODES[@]}"; do
	ip -n "${NS[$n]}" route add 198.18.0.0/16 via "198.18.${IDX[$n]}.${IDX[r]}" ||
		fail "route on $n"
done
ETCD_IP=${UL4[r]}
ETCD="http://$ETCD_IP:2379"

# --- etcd -------------------------------------------------------------------------------

etcd_start() {
	bg_start "$SN_TMP/etcd.log.$1" r "$ETCD_BIN" --name t51 --data-dir "$SN_TMP/etcd" \
		--listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
		--listen-peer-urls http://127.0.0.1:2380 \
		--initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster t51=http://127.0.0.1:2380
	ETCD_PID=$BG_PID
	wait_for 15 nsx r curl -sf -m 1 "$ETCD/health" ||
		fail "etcd did not answer in 15 s: $(tail -n 5 "$SN_TMP/etcd.log.$1")"
}

b64() { printf '%s' "$1" | base64 -w0; }

# etcd_put KEY VALUE / etcd_del KEY: what an operator (or a rogue node) would write.
etcd_put() {
	nsx r curl -sf -m 3 "$ETCD/v3/kv/put" \
		-d "{\"key\":\"$(b64 "$1")\",\"value\":\"$(b64 "$2")\"}" >/dev/null
}
etcd_del() {
	nsx r curl -sf -m 3 "$ETCD/v3/kv/deleterange" -d "{\"key\":\"$(b64 "$1")\"}" >/dev/null
}

# key_name PUBKEY: the last part of a node's key in etcd (base64url, no padding).
key_name() { printf '%s' "$1" | tr '+/' '-_' | tr -d '='; }

# --- nodes and registries ------------------------------------------------------------------

declare -A REG POD POD6
# reg_start NODE [ARGS...]: the node's registry; its lines go to the node's log, after the
# daemon's, so a failure shows both.
reg_start() {
	local n=$1
	shift
	ip netns exec "${NS[$n]}" "$SEALNET" registry "${IFACE[$n]}" --etcd "$ETCD" \
		--prefix "$PREFIX" --overlay "${OV4[$n]}" --pod-subnet "${POD[$n]}" \
		--pod-subnet "${POD6[$n]}" --ttl "$TTL" \
		"${CLUSTER[@]}" --state "$SN_TMP/$n.state" --metrics "$SN_TMP/$n.prom" "$@" \
		>>"${LOG[$n]}" 2>&1 &
	REG[$n]=$!
	track "${REG[$n]}"
}

peers_of() { wg show "${IFACE[$1]}" peers 2>/dev/null | sort; }
has_peer() { peers_of "$1" | grep -qxF "$2"; }
lacks_peer() { ! has_peer "$1" "$2"; }
peer_count() { peers_of "$1" | grep -c .; }
count_is() { [ "$(peer_count "$1")" = "$2" ]; }
# reg_logged NODE TEXT: the node's registry has logged TEXT (fixed string).
# Not grep -q: it would leave the first grep a closed pipe, and pipefail (lib.sh) a failure.
reg_logged() { grep 'sealnet-registry\[' "${LOG[$1]}" | grep -F -- "$2" >/dev/null; }
# reg_count_ge NODE TEXT N: the node's registry has logged TEXT at least N times.
reg_count_ge() { [ "$(grep 'sealnet-registry\[' "${LOG[$1]}" | grep -cF -- "$2")" -ge "$3" ]; }
metric() { sed -n "s/^$2{[^}]*} //p" "$SN_TMP/$1.prom" 2>/dev/null; }
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }

MARKER="SNREG51$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
MARKER_HEX=$(printf '%s' "$MARKER" | od -An -v -tx1 | tr -d ' \n' | cut -c1-32)
ping_marker() {
	nsx "$1" ping -n -q -c 2 -i 0.2 -W 2 -p "$MARKER_HEX" "$2" >/dev/null 2>&1
}

# mesh_pings WHAT NODES...: every node (or container) pings every other's address: a
# container's own (CIP), else the node's overlay address.
declare -A CIP
mesh_pings() {
	local what=$1 x y dest
	shift
	for x in "$@"; do
		for y in "$@"; do
			[ "$x" = "$y" ] && continue
			dest=${CIP[$y]:-${OV4[$y]}}
			check "$what: $x -> $y ($dest)" wait_for 10 ping_marker "$x" "$dest"
		done
	done
}

# Containers, when the CNI plugin (tests/netns/50-cni.sh) and host-local are there: two per
# node, namespaces that sealnet-cni attaches to their node with an address of the node's pod
# subnet, as a container runtime would.
CNI=${SEALNET_CNI:-$SN_ROOT/build/tools/sealnet-cni}
CNI_BIN_DIR=${CNI_BIN_DIR:-/usr/lib/cni}
CONTAINERS=()
declare -A HOST
# cni_add NODE CONTAINER: ADD; the container's addresses in CIP and CIP6, its node in HOST.
declare -A CIP6
cni_add() {
	local node=$1 cont=$2
	cat >"$SN_TMP/cni-$node.json" <<EOF
{"cniVersion": "1.0.0", "name": "sn51", "type": "sealnet-cni", "mtu": 1380,
 "ipam": {"type": "host-local", "dataDir": "$SN_TMP/ipam-$node",
          "ranges": [[{"subnet": "${POD[$node]}"}], [{"subnet": "${POD6[$node]}"}]],
          "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]}}
EOF
	nsx "$node" env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID="ctr-$cont-$$" \
		CNI_NETNS="/var/run/netns/${NS[$cont]}" CNI_IFNAME=eth0 CNI_PATH="$CNI_BIN_DIR" \
		"$CNI" <"$SN_TMP/cni-$node.json" >"$SN_TMP/cni-$cont.out" 2>&1 ||
		fail "CNI ADD $cont on $node: $(cat "$SN_TMP/cni-$cont.out")"
	CIP[$cont]=$(ip -n "${NS[$cont]}" -4 -o addr show dev eth0 | awk '{ print $4 }' | cut -d/ -f1)
	CIP6[$cont]=$(ip -n "${NS[$cont]}" -6 -o addr show dev eth0 scope global |
		awk '{ print $4 }' | cut -d/ -f1)
	[ -n "${CIP[$cont]}" ] && [ -n "${CIP6[$cont]}" ] ||
		fail "container $cont has not both addresses after ADD: ${CIP[$cont]} ${CIP6[$cont]}"
	CONTAINERS+=("$cont")
	HOST[$cont]=$node
}

# cross_pings WHAT [CIP|CIP6]: every container pings every container of the other nodes, all
# at once (one echo each), at its IPv4 (CIP, the default) or IPv6 address (CIP6); a pair that
# got no answer has ten more seconds, alone.
cross_pings() {
	local what=$1 x y i pids=() pairs=()
	local -n addr=${2:-CIP}
	for x in "${CONTAINERS[@]}"; do
		for y in "${CONTAINERS[@]}"; do
			[ "${HOST[$x]}" = "${HOST[$y]}" ] && continue
			nsx "$x" ping -n -q -c 1 -W 2 -p "$MARKER_HEX" "${addr[$y]}" >/dev/null 2>&1 &
			pids+=("$!")
			pairs+=("$x $y")
			track "$!"
		done
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" && continue
		read -r x y <<<"${pairs[$i]}"
		check "$what: $x -> $y (${addr[$y]}), on a second try" wait_for 10 ping_marker "$x" "${addr[$y]}"
	done
	for i in "${pids[@]}"; do
		untrack "$i"
	done
	ok "$what: ${#pairs[@]} pairs, each container to those of the other nodes"
}

step "0. command lines the registry refuses (exit 2, nothing started)"
# usage_refused WHY ARGS...: `sealnet registry ARGS` exits 2 at once.
usage_refused() {
	local what=$1 rc
	shift
	timeout 5 "$SEALNET" registry "$@" >/dev/null 2>"$SN_TMP/usage.err"
	rc=$?
	[ "$rc" = 2 ] || fail "registry $what: exit $rc, expected 2: $(cat "$SN_TMP/usage.err")"
	ok "registry $what: exit 2 ($(grep -v '^ *\[\|^Usage' "$SN_TMP/usage.err" | head -n 1))"
}
st=(--state "$SN_TMP/usage.state" "${CLUSTER[@]}")
usage_refused "without arguments"
usage_refused "without --etcd" sn0 --overlay 100.64.0.9 "${st[@]}"
usage_refused "without --cluster-cidr" sn0 --etcd "$ETCD" --overlay 100.64.0.9 \
	--state "$SN_TMP/usage.state"
usage_refused "with an overlay address outside the cluster's ranges" sn0 --etcd "$ETCD" \
	--overlay 100.128.0.9 "${st[@]}"
usage_refused "with a pod subnet outside the cluster's ranges" sn0 --etcd "$ETCD" \
	--overlay 100.64.0.9 --pod-subnet 10.96.9.0/24 "${st[@]}"
usage_refused "with a cluster range of everything" sn0 --etcd "$ETCD" --overlay 100.64.0.9 \
	--cluster-cidr 0.0.0.0/0 --state "$SN_TMP/usage.state"
usage_refused "with a cluster range around etcd's address" sn0 --etcd "$ETCD" \
	--overlay 100.64.0.9 "${st[@]}" --cluster-cidr 198.18.0.0/15
usage_refused "with a bad overlay address" sn0 --etcd "$ETCD" --overlay 100.64.0.0/24 "${st[@]}"
usage_refused "with a pod subnet wider than /32 (IPv6)" sn0 --etcd "$ETCD" \
	--overlay 100.64.0.9 --pod-subnet fd00::/16 "${st[@]}"
usage_refused "with a name endpoint" sn0 --etcd "$ETCD" --overlay 100.64.0.9 \
	--endpoint node1.example:51820 "${st[@]}"
usage_refused "with --cert but no --key" sn0 --etcd "https://$ETCD_IP:2379" \
	--overlay 100.64.0.9 --cert /dev/null "${st[@]}"
usage_refused "with TLS files on http://" sn0 --etcd "$ETCD" --overlay 100.64.0.9 \
	--cacert /dev/null "${st[@]}"

step "etcd on $ETCD_IP in r; three nodes with no peers"
etcd_start 1
ok "etcd $("$ETCD_BIN" --version | head -n 1 | sed 's/.*Version: //') answers on $ETCD"
# b's own rules (its config file's): the whole overlay, pod subnets of both families included,
# may reach b.  They change nothing for traffic, but the rules from etcd must go after them and
# leave them there.  |-separated, as rules_at writes them.
B_OWN="allow any from 100.64.0.0/10|allow any from fd00:96::/32"
for n in "${NODES[@]}"; do
	POD[$n]="100.96.${IDX[$n]}.0/24"
	POD6[$n]="fd00:96:${IDX[$n]}::/64"
	{
		conf_interface "$n"
		[ "$n" = b ] && tr '|' '\n' <<<"$B_OWN" | sed 's/^allow /Allow = /'
	} >"$(conf_path "$n")"
	start_node "$n"
	check_eq "$n starts with no peer" "$(peer_count "$n")" 0
done
# A peer configured by hand on a: the registry must never touch it.
HAND_PUB=$(genkey | pubkey)
nsx a wg set "${IFACE[a]}" peer "$HAND_PUB" allowed-ips 100.64.9.9/32 || fail "hand peer on a"

step "1. join through etcd"
t0=$SECONDS
# a and b publish the address they reach etcd from; c names its endpoint.
reg_start a
reg_start b
reg_start c --endpoint "${UL4[c]}:${PORT[c]}" --groups web,db
for n in "${NODES[@]}"; do
	for m in "${NODES[@]}"; do
		[ "$n" = "$m" ] && continue
		check "$n has $m as a peer" wait_for 10 has_peer "$n" "${PUB[$m]}"
	done
done
say "joined in $((SECONDS - t0)) s"
check_eq "a: peers (b, c and the one by hand)" "$(peer_count a)" 3
check_eq "b: peers" "$(peer_count b)" 2
allowed=$(nsx a wg show "${IFACE[a]}" allowed-ips | grep -F "${PUB[c]}" | cut -f2 | tr ' ' '\n' |
	sort | paste -sd' ')
check_eq "a routes c's overlay address and both pod subnets to c" "$allowed" \
	"$(printf '%s\n' "${OV4[c]}/32" "${POD[c]}" "${POD6[c]}" | sort | paste -sd' ')"
check "a routes c's IPv6 pod subnet into the tunnel" \
	bash -c "ip -n ${NS[a]} -6 route show ${POD6[c]} | grep -q 'dev ${IFACE[a]}'"
ep=$(nsx a wg show "${IFACE[a]}" endpoints | grep -F "${PUB[b]}" | cut -f2)
check_eq "b's endpoint at a: the address b reaches etcd from" "$ep" "${UL4[b]}:${PORT[b]}"
ep=$(nsx a wg show "${IFACE[a]}" endpoints | grep -F "${PUB[c]}" | cut -f2)
check_eq "c's endpoint at a: the one c named" "$ep" "${UL4[c]}:${PORT[c]}"

# groups_at NODE PEER: the groups NODE's daemon has for PEER (get=sealnet), comma-separated.
groups_at() {
	local hex
	hex=$(printf '%s' "${PUB[$2]}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
	printf 'get=sealnet\n\n' | socat -t 2 - "UNIX-CONNECT:/var/run/wireguard/${IFACE[$1]}.sock" |
		awk -v k="public_key=$hex" '/^public_key=/ { p = ($0 == k) } p && sub(/^sealnet_group=/, "")' |
		paste -sd, -
}
if reg_logged a "does not take group="; then
	skip "c's groups: this sealnetd has no access rules (group=)"
else
	check_eq "a has c in the groups c published" "$(groups_at a c)" "web,db"
fi

if [ -x "$CNI" ] && [ -x "$CNI_BIN_DIR/host-local" ]; then
	for n in "${NODES[@]}"; do
		for c in "p$n" "q$n"; do
			node_new "$c" none
			cni_add "$n" "$c"
			ok "container $c on $n: ${CIP[$c]}, ${CIP6[$c]} (from ${POD[$n]}, ${POD6[$n]})"
		done
	done
else
	skip "containers: no sealnet-cni at $CNI or no host-local in $CNI_BIN_DIR"
fi

cap=$SN_TMP/underlay.pcap
# Left out: etcd's TCP, and the links' own ARP, neighbour discovery and MLD (to ff02::/16).
capture_start r any "$cap" not arp and not icmp6 and not '(' ip6 and dst net ff02::/16 ')' \
	and not '(' tcp port 2379 ')'
mesh_pings "overlay ping" "${NODES[@]}"
[ ${#CONTAINERS[@]} -gt 0 ] && cross_pings "container ping" &&
	cross_pings "container ping (IPv6)" CIP6
sleep 0.5
capture_stop
total=$(tcpdump -n -r "$cap" 2>/dev/null | grep -c .)
wgudp=$(tcpdump -n -r "$cap" \
	"udp and src portrange ${PORT[a]}-${PORT[c]} and dst portrange ${PORT[a]}-${PORT[c]}" \
	2>/dev/null | grep -c .)
check_gt "underlay: WireGuard datagrams captured" "$wgudp" 0
check_eq "underlay: everything but etcd's TCP (left out) is WireGuard UDP" "$total" "$wgudp"
if [ -x "$UDPFUZZ" ]; then
	out=$("$UDPFUZZ" check "$cap" "${PORT[a]},${PORT[b]},${PORT[c]}" "$MARKER")
	rc=$?
	say "underlay: $out"
	check_eq "underlay: well-formed WireGuard messages only, marker nowhere (udpfuzz check)" \
		"$rc" 0
else
	check_not "underlay: the ping marker appears nowhere" \
		grep -qF "$MARKER" "$cap"
fi
for n in "${NODES[@]}"; do
	check "$n: metrics say etcd up" metric_is "$n" sealnet_registry_etcd_up 1
	check "$n: metrics count 2 peers" metric_is "$n" sealnet_registry_peers 2
done

step "2. entries that fail validation are refused, never applied"
rogue_pub=$(genkey | pubkey)
rogue_key="$PREFIX/nodes/$(key_name "$rogue_pub")"
# Claims part of a's pod subnet, which a claimed first.
etcd_put "$rogue_key" "{\"public_key\":\"$rogue_pub\",\"endpoints\":[\"198.18.1.200:51820\"],\"overlay\":\"100.64.0.50\",\"pod_subnet\":\"100.96.1.128/25\"}" ||
	fail "put the overlapping entry"
bad_key="$PREFIX/nodes/not-a-key"
etcd_put "$bad_key" '{"public_key":"nope","overlay":"100.64.0.51"}' || fail "put the bad entry"
check "b reports the overlapping claim" wait_for 5 reg_logged b "refused: 100.96.1.128/25 overlaps ${POD[a]}"
check "b reports the bad key" wait_for 5 reg_logged b "$bad_key: refused"
check "c reports the overlapping claim" wait_for 5 reg_logged c "refused: 100.96.1.128/25 overlaps"
check "b: metrics count 2 refused entries" wait_for 3 metric_is b sealnet_registry_refused_entries 2
check_not "b did not apply the overlapping entry" has_peer b "$rogue_pub"
check_eq "b still has 2 peers" "$(peer_count b)" 2
check "a still routes its pod subnet's claim to nobody else: ping a -> b" ping_marker a "${OV4[b]}"
etcd_del "$rogue_key"
etcd_del "$bad_key"
check "a's hand-configured peer is still there" has_peer a "$HAND_PUB"

# rules_at NODE: the node's access rules in the order they apply (get=sealnet), |-separated.
rules_at() {
	printf 'get=sealnet\n\n' | socat -t 2 - "UNIX-CONNECT:/var/run/wireguard/${IFACE[$1]}.sock" |
		sed -n 's/^sealnet_rule=//p' | paste -sd'|' -
}
rules_are() { [ "$(rules_at "$1")" = "$2" ]; }
# echoes_dropped NODE DEST: three pings from NODE to DEST, none answered.
echoes_dropped() {
	local out
	out=$(nsx "$1" ping -n -q -c 3 -i 0.2 -W 1 "$2" 2>&1)
	grep -q ' 0 received' <<<"$out" || { echo "$out" >&2; return 1; }
}
drops_at() {
	counters_of "$1" >/dev/null
	counter "$1" drop_firewall
}

step "2b. access rules from etcd: only tcp/5201 from group web (c)"
if reg_logged a "does not take group="; then
	skip "rules: this sealnetd has no access rules"
else
	WEB="allow tcp/5201 from group:web"
	ALL_KEY=$PREFIX/rules/all
	A_KEY=$PREFIX/rules/$(key_name "${PUB[a]}")
	check_eq "b has its config file's rules" "$(rules_at b)" "$B_OWN"
	etcd_put "$ALL_KEY" "[\"$WEB\"]" || fail "put $ALL_KEY"
	t0=$SECONDS
	check "a takes the cluster's rule" wait_for 5 rules_are a "$WEB"
	check "b: its own rule first, then the cluster's" wait_for 5 rules_are b "$B_OWN|$WEB"
	check "c takes the cluster's rule" wait_for 5 rules_are c "$WEB"
	say "rules in place $((SECONDS - t0)) s after the put"
	check "a: metrics count 1 rule from etcd" wait_for 3 metric_is a sealnet_registry_rules 1
	check "b: metrics count 1 rule from etcd" wait_for 3 metric_is b sealnet_registry_rules 1

	# c is in web: its TCP on 5201 gets in, to a and, through a, to a's containers (the
	# rule's group is the sending node's, whichever of its containers sent).
	SN_IPERF_TIME=1 iperf_check "c (web) -> a on tcp/5201" c a "${OV4[a]}"
	[ ${#CONTAINERS[@]} -gt 0 ] &&
		SN_IPERF_TIME=1 iperf_check "pc (on c, web) -> pa (on a) on tcp/5201" pc pa "${CIP[pa]}"
	# b is not: its pings are dropped, and a counts each one.
	d0=$(drops_at a)
	check "b -> a: ping dropped" echoes_dropped b "${OV4[a]}"
	expect=3
	if [ ${#CONTAINERS[@]} -gt 0 ]; then
		check "pb (on b) -> pa (on a): ping dropped" echoes_dropped pb "${CIP[pa]}"
		expect=6
	fi
	check_eq "a's drop_firewall rose by the echoes it dropped" "$(($(drops_at a) - d0))" "$expect"
	check "c -> b: ping answered (b's own rule comes first)" ping_ok c "${OV4[b]}" 2
	check "a -> b: ping answered (replies to a's own flow)" ping_ok a "${OV4[b]}" 2

	etcd_put "$ALL_KEY" "[\"$WEB\", \"allow icmp from nowhere\"]" || fail "put $ALL_KEY"
	check "a refuses the invalid list, whole" wait_for 5 reg_logged a "$ALL_KEY: refused: rule 2"
	check "a: metrics count 1 refused rules key" wait_for 3 metric_is a sealnet_registry_refused_rule_keys 1
	check_eq "a keeps the rules it had" "$(rules_at a)" "$WEB"
	check_eq "b keeps the rules it had" "$(rules_at b)" "$B_OWN|$WEB"

	etcd_put "$A_KEY" "[\"allow icmp from ${OV4[b]}/32\"]" || fail "put $A_KEY"
	check "a: its own key's rules go before the cluster's" \
		wait_for 5 rules_are a "allow icmp from ${OV4[b]}/32|$WEB"
	check "b -> a: ping answered (a's own key allows it)" wait_for 5 ping_once b "${OV4[a]}"
	check_eq "c: the cluster's rules only" "$(rules_at c)" "$WEB"
	check "c: the invalid list is refused there too" \
		wait_for 3 metric_is c sealnet_registry_refused_rule_keys 1

	etcd_put "$ALL_KEY" "[\"$WEB\"]" || fail "put $ALL_KEY"
	check "a: the valid list accepted again" wait_for 3 metric_is a sealnet_registry_refused_rule_keys 0
	# b's registry restarts with etcd's rule in b's list: its state file says it is not b's own.
	stop_pid "${REG[b]}" TERM
	reg_start b
	check "b's registry read its state file" wait_for 5 reg_logged b "rules from etcd: 1"
	check "b's registry connects again" wait_for 5 reg_count_ge b "connected to etcd" 2
	check_eq "b: its own rule, then the cluster's, still" "$(rules_at b)" "$B_OWN|$WEB"

	etcd_del "$ALL_KEY"
	etcd_del "$A_KEY"
	check "a: the rules are gone with the keys" wait_for 5 rules_are a ""
	check "b: its own rule alone" wait_for 5 rules_are b "$B_OWN"
	check "c: no rules" wait_for 5 rules_are c ""
	check "b -> a: ping answered again" ping_ok b "${OV4[a]}" 2
	[ ${#CONTAINERS[@]} -gt 0 ] &&
		check "pb -> pa: ping answered again" ping_ok pb "${CIP[pa]}" 2
	check "a: metrics count no rule from etcd" wait_for 3 metric_is a sealnet_registry_rules 0
fi

step "3. b rotates its key"
hs_ac=$(handshakes a c)
old_pub=${PUB[b]}
PRIV[b]=$(genkey)
PUB[b]=$(pubkey <<<"${PRIV[b]}")
(umask 077 && printf '%s\n' "${PRIV[b]}" >"$SN_TMP/b.newkey")
t0=$SECONDS
"$SEALNET" set "${IFACE[b]}" private-key "$SN_TMP/b.newkey" || fail "sealnet set private-key on b"
for n in a c; do
	check "$n takes b's new key" wait_for 10 has_peer "$n" "${PUB[b]}"
	check "$n drops b's old key" wait_for 5 lacks_peer "$n" "$old_pub"
done
check "a reaches b again" wait_for 10 ping_once a "${OV4[b]}"
check "c reaches b again" wait_for 10 ping_once c "${OV4[b]}"
say "traffic resumed $((SECONDS - t0)) s after the key changed"
mesh_pings "after the rotation" "${NODES[@]}"
check_not "b never took its own old key for a peer" reg_logged b "$old_pub (${OV4[b]}/32) added"
check "b's registry moved its entry" reg_logged b "the interface's key changed"
check_eq "a's session with c was not disturbed: handshakes a-c" "$(handshakes a c)" "$hs_ac"

step "3b. b rotates again while its registry is not running"
stop_pid "${REG[b]}" TERM
old_pub=${PUB[b]}
PRIV[b]=$(genkey)
PUB[b]=$(pubkey <<<"${PRIV[b]}")
(umask 077 && printf '%s\n' "${PRIV[b]}" >"$SN_TMP/b.newkey")
"$SEALNET" set "${IFACE[b]}" private-key "$SN_TMP/b.newkey" || fail "sealnet set private-key on b"
t0=$SECONDS
reg_start b
# The old entry stays until its lease expires, and, being older, keeps the claims: b's new
# entry waits; b must not take its old self for a peer meanwhile.
check "b: its old entry is not made a peer (b's own addresses)" \
	wait_for 5 reg_logged b "not made a peer here: ${OV4[b]}/32"
check_not "b has no peer with its old key" has_peer b "$old_pub"
for n in a c; do
	check "$n takes b's new key once the old lease expired" wait_for $((TTL + 5)) has_peer "$n" "${PUB[b]}"
	check "$n drops b's old key" wait_for 5 lacks_peer "$n" "$old_pub"
done
check "a reaches b again" wait_for 10 ping_once a "${OV4[b]}"
say "b's new key in use $((SECONDS - t0)) s after its registry started (lease $TTL s)"

step "4. etcd stopped, then restarted"
stop_pid "$ETCD_PID" TERM
for n in "${NODES[@]}"; do
	check "$n's registry reports etcd unreachable" wait_for 5 reg_logged "$n" "unreachable"
done
check "a: metrics say etcd down" wait_for 3 metric_is a sealnet_registry_etcd_up 0
# Longer than a lease: were anything expiring, it would have by now.
sleep $((TTL + 1))
for n in "${NODES[@]}"; do
	check_eq "$n keeps its peers while etcd is away" "$(peer_count "$n")" "$([ "$n" = a ] && echo 3 || echo 2)"
done
mesh_pings "etcd down" "${NODES[@]}"
etcd_start 2
for n in "${NODES[@]}"; do
	check "$n's registry reconnects" wait_for 10 reg_logged "$n" "reconnected to etcd"
done
check "a: metrics say etcd up again" wait_for 3 metric_is a sealnet_registry_etcd_up 1
check "a: one reconnect counted" metric_is a sealnet_registry_reconnects_total 1
sleep $((TTL + 1))
for n in "${NODES[@]}"; do
	for m in "${NODES[@]}"; do
		[ "$n" = "$m" ] && continue
		check "$n still has $m" has_peer "$n" "${PUB[$m]}"
	done
done
mesh_pings "etcd back" "${NODES[@]}"
[ ${#CONTAINERS[@]} -gt 0 ] && cross_pings "etcd back, containers"
check_not "no lease expired while etcd was away (it renews them when it starts)" \
	reg_logged a "expired"

step "4b. a's daemon restarts: its registry puts the peers and the rules back"
# A rule that lets everything in: only there to be found again after the restart.
if [ -n "${A_KEY:-}" ]; then
	etcd_put "$A_KEY" '["allow any"]' || fail "put $A_KEY"
	check "a takes its rule from etcd" wait_for 5 rules_are a "allow any from any"
fi
stop_node a
start_node a
for m in b c; do
	check "a has $m again" wait_for 5 has_peer a "${PUB[$m]}"
done
check "a's registry noticed" reg_logged a "is gone from the daemon (restarted?)"
if [ -n "${A_KEY:-}" ]; then
	check "a's registry puts its rule back" wait_for 5 rules_are a "allow any from any"
	etcd_del "$A_KEY"
	check "a: no rules once the key is gone" wait_for 5 rules_are a ""
fi
check "ping a -> c" wait_for 10 ping_marker a "${OV4[c]}"
# The peer by hand went with the daemon; put it back for step 5.
nsx a wg set "${IFACE[a]}" peer "$HAND_PUB" allowed-ips 100.64.9.9/32 || fail "hand peer on a"

step "5. c leaves: its lease expires, the others drop it"
# SIGKILL: no goodbye of any kind (the shell's "Killed" notice is silenced).
{ stop_pid "${REG[c]}" KILL; } 2>/dev/null
stop_node c
t0=$SECONDS
for n in a b; do
	check "$n drops c within $((TTL + 5)) s" wait_for $((TTL + 5)) lacks_peer "$n" "${PUB[c]}"
done
say "c dropped $((SECONDS - t0)) s after it went (lease $TTL s)"
check "a keeps b" has_peer a "${PUB[b]}"
check "a keeps its hand-configured peer" has_peer a "$HAND_PUB"
check "ping a -> b" ping_marker a "${OV4[b]}"

for n in a b; do
	stop_pid "${REG[$n]}" TERM
	check_eq "$n's registry exits 0 on SIGTERM" "$STOP_RC" 0
done
stop_pid "$ETCD_PID" TERM

step "6. etcd over TLS, with client certificates"
if ! command -v openssl >/dev/null; then
	skip "TLS: openssl is not installed (make deps)"
	say "done"
	exit 0
fi
pki=$SN_TMP/pki
mkdir -p "$pki"
# cert NAME USAGE SAN: a P-256 key and a certificate signed by the scenario's own CA.
cert() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/$1.key" \
		-out "$pki/$1.csr" -subj "/CN=sn51-$1" 2>/dev/null &&
		openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
			-CAcreateserial -days 1 -out "$pki/$1.pem" \
			-extfile <(printf 'extendedKeyUsage=%s\n%s' "$2" "${3:+subjectAltName=$3}") \
			2>/dev/null
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/ca.key" \
	-out "$pki/ca.pem" -days 1 -subj /CN=sn51-ca 2>/dev/null || fail "openssl: CA"
# clientAuth too: etcd's JSON gateway connects to etcd's own gRPC side with this certificate.
cert server serverAuth,clientAuth "IP:$ETCD_IP" || fail "openssl: server certificate"
cert node clientAuth || fail "openssl: client certificate"
ETCD="https://$ETCD_IP:2379"
bg_start "$SN_TMP/etcd.log.tls" r "$ETCD_BIN" --name t51 --data-dir "$SN_TMP/etcd-tls" \
	--listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
	--cert-file "$pki/server.pem" --key-file "$pki/server.key" \
	--client-cert-auth --trusted-ca-file "$pki/ca.pem" \
	--listen-peer-urls http://127.0.0.1:2380 \
	--initial-advertise-peer-urls http://127.0.0.1:2380 \
	--initial-cluster t51=http://127.0.0.1:2380
ETCD_PID=$BG_PID
wait_for 15 nsx r curl -sf -m 1 --cacert "$pki/ca.pem" --cert "$pki/node.pem" \
	--key "$pki/node.key" "$ETCD/health" ||
	fail "etcd over TLS did not answer in 15 s: $(tail -n 5 "$SN_TMP/etcd.log.tls")"
ok "etcd answers on $ETCD, client certificates required"
PREFIX=/sealnet/t51tls
reg_start b --cacert "$pki/ca.pem"
check "b without a client certificate: etcd unreachable" wait_for 10 reg_logged b \
	"etcd $ETCD unreachable"
stop_pid "${REG[b]}" TERM
for n in a b; do
	reg_start "$n" --cacert "$pki/ca.pem" --cert "$pki/node.pem" --key "$pki/node.key"
	check "$n connects to etcd over TLS" wait_for 10 reg_logged "$n" "connected to etcd $ETCD"
done
check "a sees both entries" wait_for 5 metric_is a sealnet_registry_entries 2
check "a keeps b" has_peer a "${PUB[b]}"
check "ping a -> b" ping_marker a "${OV4[b]}"
for n in a b; do
	stop_pid "${REG[$n]}" TERM
	check_eq "$n's registry exits 0 on SIGTERM" "$STOP_RC" 0
done
stop_pid "$ETCD_PID" TERM
say "done"
