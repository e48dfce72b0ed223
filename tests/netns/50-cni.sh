#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# sealnet-cni, the CNI plugin (tools/cni, docs/cluster.md), driven the way a container runtime
# drives it: CNI_* variables, the network configuration on stdin, host-local (Debian's
# containernetworking-plugins) handing out addresses from the node's pod subnet.
#
# 1. One node, containers as plain namespaces: ADD (result JSON, addresses, routes, host
#    side), pings container <-> container and container <-> node, CHECK after ADD, CHECK
#    that notices a missing address and route, cniVersion 0.4.0, an exhausted pool (the
#    failed ADD leaves nothing behind), DEL twice (veth, route and address reservation gone;
#    the address is handed out again), DEL after the namespace is gone.
# 2. Bad input: malformed JSON, missing fields, fields of the wrong type (in prevResult too,
#    for CHECK), unsupported cniVersion, missing or bad CNI_* variables, a namespace that does
#    not exist: each answered with the spec's error object and its well-known code, and exit
#    1 (never a crash). VERSION.
# 3. Two nodes over sealnet, each with its pod subnet in the other's AllowedIPs, a container
#    on each: they reach each other through the tunnel (the point of the plugin).
#
#	SEALNET_CNI   the plugin (default build/tools/sealnet-cni)
#	CNI_BIN_DIR   where host-local is (default /usr/lib/cni, Debian's place)
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

CNI=${SEALNET_CNI:-$SN_ROOT/build/tools/sealnet-cni}
CNI_BIN_DIR=${CNI_BIN_DIR:-/usr/lib/cni}
[ -x "$CNI" ] || fail "sealnet-cni not found at $CNI (make)"
[ -x "$CNI_BIN_DIR/host-local" ] || fail "no host-local in $CNI_BIN_DIR (make deps: containernetworking-plugins)"
command -v jq >/dev/null || fail "jq is not installed (make deps)"

OUT=$SN_TMP/cni.out
ERR=$SN_TMP/cni.err

# cni_conf NODE N [VERSION]: the network configuration of NODE, whose pod subnets are
# 100.96.N.0/24 and fd00:96:N::/64. Three addresses of each, so that the pool runs out;
# host-local keeps its reservations under $SN_TMP, never in /var/lib/cni.
cni_conf() {
	local node=$1 n=$2 version=${3:-1.0.0}
	cat <<EOF
{
	"cniVersion": "$version",
	"name": "sealnet-test",
	"type": "sealnet-cni",
	"mtu": 1380,
	"ipam": {
		"type": "host-local",
		"dataDir": "$SN_TMP/ipam-$node",
		"ranges": [
			[{ "subnet": "100.96.$n.0/24", "rangeStart": "100.96.$n.10", "rangeEnd": "100.96.$n.12" }],
			[{ "subnet": "fd00:96:$n::/64", "rangeStart": "fd00:96:$n::10", "rangeEnd": "fd00:96:$n::12" }]
		],
		"routes": [{ "dst": "0.0.0.0/0" }, { "dst": "::/0" }]
	}
}
EOF
}

# cni NODE COMMAND CONTAINER [VAR=VALUE...] < CONFIG: runs the plugin in NODE's namespace with
# the variables a runtime sets for CONTAINER (a node of this scenario) and interface eth0;
# VAR=VALUE overrides one, VAR= removes it. Stdout in $OUT, stderr in $ERR, exit code in
# CNI_RC.
cni() {
	local node=$1 cmd=$2 cont=$3 kv
	shift 3
	local -A vars=(
		[CNI_COMMAND]=$cmd
		[CNI_CONTAINERID]="ctr-$cont-$$"
		[CNI_NETNS]="/var/run/netns/${NS[$cont]:-sn-$SN_SCEN-none-$$}"
		[CNI_IFNAME]=eth0
		[CNI_PATH]=$CNI_BIN_DIR
	)
	for kv; do vars[${kv%%=*}]=${kv#*=}; done
	local args=()
	for kv in "${!vars[@]}"; do
		[ -n "${vars[$kv]}" ] && args+=("$kv=${vars[$kv]}")
	done
	# ASAN_OPTIONS and UBSAN_OPTIONS pass through for `make asan`; a report fails the scenario.
	nsx "$node" env -i PATH="$PATH" ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} \
		${UBSAN_OPTIONS:+UBSAN_OPTIONS="$UBSAN_OPTIONS"} "${args[@]}" "$CNI" >"$OUT" 2>"$ERR"
	CNI_RC=$?
	if _sanitizer_report "$ERR"; then
		cat "$ERR" >&2
		fail "sanitizer report from sealnet-cni $cmd"
	fi
}

# add NODE CONTAINER [VERSION]: ADD that must succeed; the result is kept in $SN_TMP/CONTAINER.json.
add() {
	cni "$1" ADD "$2" <"$SN_TMP/conf-$1-${3:-1.0.0}.json"
	[ "$CNI_RC" = 0 ] || fail "ADD $2 on $1: exit $CNI_RC: $(cat "$OUT" "$ERR")"
	jq -e . "$OUT" >/dev/null || fail "ADD $2: the result is not JSON: $(cat "$OUT")"
	cp "$OUT" "$SN_TMP/$2.json"
}

# res CONTAINER JQ_FILTER: a value from CONTAINER's ADD result.
res() { jq -r "$2" "$SN_TMP/$1.json"; }

# ip4_of / ip6_of CONTAINER: its addresses, without the prefix length.
ip4_of() { res "$1" '.ips[] | select(.address | test("^[0-9.]+/")) | .address' | cut -d/ -f1; }
ip6_of() { res "$1" '.ips[] | select(.address | test(":")) | .address' | cut -d/ -f1; }
hostif_of() { res "$1" '.interfaces[0].name'; }

# with_prev NODE CONTAINER [VERSION]: NODE's configuration with CONTAINER's result as prevResult.
with_prev() {
	jq --slurpfile prev "$SN_TMP/$2.json" '. + { prevResult: $prev[0] }' \
		"$SN_TMP/conf-$1-${3:-1.0.0}.json"
}

# expect_error CODE WHAT: the last call failed with the spec's error object carrying CODE,
# and exit 1 (a crash, exit 139, prints nothing: jq -e accepts an empty file).
expect_error() {
	[ "$CNI_RC" = 1 ] || fail "$2: exit $CNI_RC, expected 1 with error $1"
	[ -s "$OUT" ] || fail "$2: no error object on stdout"
	if ! jq -e --argjson code "$1" '.code == $code and (.msg | type == "string") and
		(.details | type == "string") and (.cniVersion | type == "string")' "$OUT" >/dev/null; then
		fail "$2: expected the error object with code $1, got: $(cat "$OUT")"
	fi
	ok "$2: exit $CNI_RC, code $1 ($(jq -r '.msg + ": " + .details' "$OUT"))"
}

# expect_silent_success WHAT: the last call exited 0 and printed nothing (DEL, CHECK).
expect_silent_success() {
	[ "$CNI_RC" = 0 ] || fail "$1: exit $CNI_RC: $(cat "$OUT" "$ERR")"
	[ -s "$OUT" ] && fail "$1: printed $(cat "$OUT")"
	ok "$1"
}

reserved() { [ -e "$SN_TMP/ipam-$1/sealnet-test/$2" ]; }
has_link() { ip -n "${NS[$1]}" link show "$2" >/dev/null 2>&1; }
has_route() {
	local fam=-4
	[[ $2 == *:* ]] && fam=-6
	ip -n "${NS[$1]}" "$fam" route show "$2" | grep "dev $3" >/dev/null
}

for v in 1.0.0 0.4.0; do cni_conf n 1 "$v" >"$SN_TMP/conf-n-$v.json"; done

# --- 1. one node ------------------------------------------------------------------------
step "one node, containers ca cb cc"
node_new n none
node_new ca none
node_new cb none
node_new cc none
node_new cd none
# The node's own address, as its sealnet interface would have it.
ip -n "${NS[n]}" addr add 100.64.0.1/32 dev lo

add n ca
check_eq "result cniVersion" "$(res ca .cniVersion)" 1.0.0
check_eq "result: two interfaces, eth0 in the container" \
	"$(res ca '[(.interfaces | length), .interfaces[1].name, .interfaces[1].sandbox] | map(tostring) | join(" ")')" \
	"2 eth0 /var/run/netns/${NS[ca]}"
check_eq "result: ips on interface 1, gateways the subnets' first addresses" \
	"$(res ca '[.ips[] | "\(.interface) \(.gateway)"] | join(", ")')" "1 100.96.1.1, 1 fd00:96:1::1"
check_eq "result: IPv4 from the node's pod range" "$(res ca '.ips[0].address')" 100.96.1.10/24
check_eq "result: IPv6 from the node's pod range" "$(res ca '.ips[1].address')" fd00:96:1::10/64
check_eq "result: no version field in 1.0.0 ips" "$(res ca '[.ips[] | has("version")] | any')" false
check_eq "result: the IPAM routes" "$(res ca '[.routes[].dst] | join(" ")')" "0.0.0.0/0 ::/0"
check_eq "result: the MACs of both ends" \
	"$(res ca '.interfaces[0].mac + " " + .interfaces[1].mac')" \
	"$(ip -n "${NS[n]}" -j link show "$(hostif_of ca)" | jq -r '.[0].address') $(ip -n "${NS[ca]}" -j link show eth0 | jq -r '.[0].address')"
hca=$(hostif_of ca)
check "container eth0 has 100.96.1.10/24 without its prefix route" \
	bash -c "ip -n ${NS[ca]} -o addr show dev eth0 | grep 'inet 100.96.1.10/24 .*noprefixroute' >/dev/null"
check_eq "container eth0 MTU from the config" "$(ip -n "${NS[ca]}" -j link show eth0 | jq -r '.[0].mtu')" 1380
check "container default route via the gateway, onlink" \
	bash -c "ip -n ${NS[ca]} route show default | grep 'via 100.96.1.1 dev eth0 .*onlink' >/dev/null"
check "container IPv6 default route via the gateway" \
	bash -c "ip -n ${NS[ca]} -6 route show default | grep 'via fd00:96:1::1 dev eth0' >/dev/null"
check "host end $hca has the gateway as /32" \
	bash -c "ip -n ${NS[n]} -o addr show dev $hca | grep 'inet 100.96.1.1/32' >/dev/null"
check "host route to the pod" has_route n 100.96.1.10 "$hca"
check "host route to the pod (IPv6)" has_route n fd00:96:1::10 "$hca"
check_eq "node forwards IPv4" "$(nsx n sysctl -n net.ipv4.ip_forward)" 1
check_eq "node forwards IPv6" "$(nsx n sysctl -n net.ipv6.conf.all.forwarding)" 1
check "address reserved by host-local" reserved n 100.96.1.10

add n cb
add n cc 0.4.0
check_eq "0.4.0 result: cniVersion and ips version fields" \
	"$(res cc '[.cniVersion, (.ips[].version)] | join(" ")')" "0.4.0 4 6"

check "ping ca -> cb" wait_ping ca "$(ip4_of cb)" 5
check "ping ca -> cb (IPv6)" wait_ping ca "$(ip6_of cb)" 5
check "ping cb -> cc" ping_ok cb "$(ip4_of cc)"
check "ping ca -> node" ping_ok ca 100.64.0.1
check "ping node -> ca" ping_ok n "$(ip4_of ca)"
check "ping node -> cc (IPv6)" wait_ping n "$(ip6_of cc)" 5

step "CHECK"
with_prev n ca >"$SN_TMP/check-ca.json"
cni n CHECK ca <"$SN_TMP/check-ca.json"
expect_silent_success "CHECK ca right after ADD"
with_prev n cc 0.4.0 >"$SN_TMP/check-cc.json"
cni n CHECK cc <"$SN_TMP/check-cc.json"
expect_silent_success "CHECK cc (0.4.0)"
with_prev n cb >"$SN_TMP/check-cb.json"
ip -n "${NS[cb]}" addr del "$(res cb '.ips[0].address')" dev eth0
cni n CHECK cb <"$SN_TMP/check-cb.json"
expect_error 102 "CHECK cb without its IPv4 address"
# The last IPv4 address of a link takes the link's IPv4 routes with it: put both back.
ip -n "${NS[cb]}" addr add "$(res cb '.ips[0].address')" dev eth0 noprefixroute
ip -n "${NS[cb]}" route add 100.96.1.0/24 via 100.96.1.1 dev eth0 onlink
ip -n "${NS[cb]}" route add default via 100.96.1.1 dev eth0 onlink
cni n CHECK cb <"$SN_TMP/check-cb.json"
expect_silent_success "CHECK cb once the address is back"
ip -n "${NS[n]}" route del "$(ip4_of cb)" dev "$(hostif_of cb)"
cni n CHECK cb <"$SN_TMP/check-cb.json"
expect_error 102 "CHECK cb without the host route"
ip -n "${NS[n]}" route add "$(ip4_of cb)" dev "$(hostif_of cb)" proto static scope link
cni n CHECK cb <"$SN_TMP/conf-n-1.0.0.json"
expect_error 7 "CHECK without prevResult"
# Every field read is type-checked: a prevResult of the wrong shape is a decoding error (6),
# never a crash (a null interface name was a NULL dereference, exit 139).
for bad in '.interfaces[1].name = null' '.interfaces[0].name = 5' \
	'.interfaces[1].sandbox = {}' '.interfaces[1].mac = 7' '.interfaces[1] = 1' \
	'.interfaces = "eth0"' '.ips[0].gateway = 1' '.ips[0].interface = "1"' '.ips = {}' \
	'.routes[0].gw = []' '.dns = 1'; do
	jq ".prevResult |= ($bad)" "$SN_TMP/check-ca.json" >"$SN_TMP/check-bad.json"
	cni n CHECK ca <"$SN_TMP/check-bad.json"
	expect_error 6 "CHECK with prevResult $bad"
done
# null is absent, as in the reference plugins: a null MAC is not compared.
jq '.prevResult.interfaces[1].mac = null' "$SN_TMP/check-ca.json" >"$SN_TMP/check-null.json"
cni n CHECK ca <"$SN_TMP/check-null.json"
expect_silent_success "CHECK with a null MAC"

step "pool exhausted: the failed ADD leaves nothing behind"
cni n ADD cd <"$SN_TMP/conf-n-1.0.0.json"
[ "$CNI_RC" != 0 ] || fail "ADD cd succeeded with the pool (3 addresses) used up"
jq -e '(.code | type == "number") and (.msg | type == "string")' "$OUT" >/dev/null ||
	fail "ADD cd: no error object: $(cat "$OUT")"
ok "ADD cd fails: code $(jq -r .code "$OUT") ($(jq -r .msg "$OUT"))"
check_not "no eth0 left in cd" has_link cd eth0
check_eq "no host veth left for cd" "$(ip -n "${NS[n]}" -o link show | grep -c snc)" 3

step "DEL twice"
for i in 1 2; do
	cni n DEL ca <"$SN_TMP/check-ca.json"
	expect_silent_success "DEL ca ($i)"
	check_not "host veth $hca gone" has_link n "$hca"
	check_not "container eth0 gone" has_link ca eth0
	check_not "host route gone" has_route n 100.96.1.10 "$hca"
	check_not "address released" reserved n 100.96.1.10
done
check "cb still reachable from cc" ping_ok cc "$(ip4_of cb)"
add n cd
check_eq "a new ADD gets the released address" "$(ip4_of cd)" 100.96.1.10
check "ping cd -> cc" wait_ping cd "$(ip4_of cc)" 5

step "DEL after the container's namespace is gone"
ip netns del "${NS[cc]}"
cni n DEL cc <"$SN_TMP/conf-n-0.4.0.json"
expect_silent_success "DEL cc without its namespace"
check_not "cc's address released" reserved n "$(ip4_of cc)"
check_not "cc's host veth gone" has_link n "$(hostif_of cc)"
cni n DEL cc <"$SN_TMP/conf-n-0.4.0.json" CNI_NETNS=
expect_silent_success "DEL cc again, without CNI_NETNS"
for c in cb cd; do
	cni n DEL "$c" <"$SN_TMP/conf-n-1.0.0.json"
	expect_silent_success "DEL $c"
done
check_eq "no snc veth left on the node" "$(ip -n "${NS[n]}" -o link show | grep -c snc)" 0

# --- 2. bad input -------------------------------------------------------------------------
step "errors as the spec's error object"
good=$SN_TMP/conf-n-1.0.0.json
cni n ADD ca < <(printf '{ "cniVersion": "1.0.0", "name": ')
expect_error 6 "truncated JSON"
cni n ADD ca < <(printf '{ "cniVersion": "1.0.0" } trailing')
expect_error 6 "text after the object"
cni n ADD ca < <(printf '[1, 2]')
expect_error 6 "not an object"
cni n ADD ca < <(jq 'del(.type)' "$good")
expect_error 7 "no type"
cni n ADD ca < <(jq 'del(.cniVersion)' "$good")
expect_error 7 "no cniVersion"
cni n ADD ca < <(jq 'del(.ipam)' "$good")
expect_error 7 "no ipam"
cni n ADD ca < <(jq '.ipam.type = "../bin/sh"' "$good")
expect_error 7 "ipam.type with a path"
cni n ADD ca < <(jq '.mtu = 100' "$good")
expect_error 7 "mtu too small"
cni n ADD ca < <(jq '.cniVersion = "0.3.1"' "$good")
expect_error 1 "cniVersion 0.3.1"
check_eq "the error carries the config's cniVersion" "$(jq -r .cniVersion "$OUT")" 0.3.1
cni n ADD ca < <(jq '.ipMasq = true' "$good")
expect_error 2 "ipMasq"
cni n ADD ca < <(jq '.ipMasq = "false"' "$good")
expect_error 7 "ipMasq a string"
cni n ADD ca < <(jq '.mtu = "1400"' "$good")
expect_error 7 "mtu a string"
cni n ADD ca < <(jq '.prevResult = []' "$good")
expect_error 7 "prevResult a list"
cni n ADD ca CNI_CONTAINERID= <"$good"
expect_error 4 "no CNI_CONTAINERID"
jq -e '.details | test("CNI_CONTAINERID")' "$OUT" >/dev/null || fail "the details do not name CNI_CONTAINERID"
cni n ADD ca CNI_NETNS= CNI_IFNAME= <"$good"
expect_error 4 "no CNI_NETNS nor CNI_IFNAME"
jq -e '.details | test("CNI_NETNS") and test("CNI_IFNAME")' "$OUT" >/dev/null ||
	fail "the details do not name both variables"
cni n ADD ca CNI_COMMAND= <"$good"
expect_error 4 "no CNI_COMMAND"
cni n FROB ca <"$good"
expect_error 4 "unknown CNI_COMMAND"
cni n ADD ca CNI_IFNAME=eth/0 <"$good"
expect_error 4 "CNI_IFNAME with a /"
cni n ADD ca CNI_CONTAINERID=-x <"$good"
expect_error 4 "CNI_CONTAINERID starting with -"
cni n ADD zz <"$good"
expect_error 3 "CNI_NETNS that does not exist"
cni n ADD ca CNI_PATH=/nonexistent <"$good"
expect_error 101 "IPAM plugin not in CNI_PATH"
check_eq "nothing left on the node by the failures" "$(ip -n "${NS[n]}" -o link show | grep -c snc)" 0

step "VERSION"
cni n VERSION ca < <(echo '{ "cniVersion": "1.0.0" }')
[ "$CNI_RC" = 0 ] || fail "VERSION: exit $CNI_RC"
check_eq "VERSION" "$(jq -c '[.cniVersion, .supportedVersions]' "$OUT")" '["1.0.0",["0.4.0","1.0.0"]]'
cni n VERSION ca </dev/null
check_eq "VERSION without input" "$CNI_RC $(jq -r .cniVersion "$OUT")" "0 1.0.0"

# --- 3. two nodes over sealnet ----------------------------------------------------------------
step "two nodes: pods reach each other through the tunnel"
node_new a
node_new b
node_new pa none
node_new pb none
link_veth a b
# Each node's pod subnet is in its peer entry on the other node: the other node routes it
# into the tunnel and accepts it as the source of what comes out.
pods() { echo "AllowedIPs = 100.96.$1.0/24, fd00:96:$1::/64"; }
{ conf_interface a; conf_peer b endpoint=4; pods 2; } >"$(conf_path a)"
{ conf_interface b; conf_peer a endpoint=4; pods 1; } >"$(conf_path b)"
start_node a
start_node b
cni_conf a 1 >"$SN_TMP/conf-a-1.0.0.json"
cni_conf b 2 >"$SN_TMP/conf-b-1.0.0.json"
add a pa
add b pb
check_eq "pa from a's pod subnet" "$(ip4_of pa)" 100.96.1.10
check_eq "pb from b's pod subnet" "$(ip4_of pb)" 100.96.2.10
check "b routes a's pod subnet into the tunnel" \
	bash -c "ip -n ${NS[b]} route show 100.96.1.0/24 | grep 'dev ${IFACE[b]}' >/dev/null"
check "ping pa -> pb across the tunnel" wait_ping pa "$(ip4_of pb)" 10
check "ping pb -> pa across the tunnel" ping_ok pb "$(ip4_of pa)"
check "ping pa -> pb across the tunnel (IPv6)" wait_ping pa "$(ip6_of pb)" 5
check "ping pb -> node a's overlay address" ping_ok pb "${OV4[a]}"
counters_of b >/dev/null
check_gt "b: bytes received from a" "$(peer_counter b a rx_bytes)" 0
with_prev a pa >"$SN_TMP/check-pa.json"
cni a CHECK pa <"$SN_TMP/check-pa.json"
expect_silent_success "CHECK pa"
cni a DEL pa <"$SN_TMP/check-pa.json"
expect_silent_success "DEL pa"
cni b DEL pb <"$SN_TMP/conf-b-1.0.0.json"
expect_silent_success "DEL pb"
stop_node a
stop_node b
say "done"
