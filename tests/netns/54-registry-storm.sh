#!/usr/bin/env bash
# A registry storm (issue 14): three real nodes of a cluster, and SN_STORM_N (default 500)
# synthetic entries written straight into a real etcd, as many nodes would write them: valid
# keys, claims inside --cluster-cidr, dual stack, an endpoint each.  They join, change and
# leave in bursts while the real nodes ping each other without pause:
#
#	a (198.18.1.1) --\
#	b (198.18.2.2) ---- r: routes between the links; etcd on 198.18.1.4:2379
#	c (198.18.3.3) --/
#
# 1. Join: the synthetic entries arrive in four transactions (four watch events), each under
#    its own lease; every node converges to the same peer set: the two other real nodes and
#    every synthetic entry.
# 2. Churn, without waiting in between: one lease is revoked (a quarter of the entries leave in
#    one revision), a new quarter joins in one transaction, 100 entries change their endpoint in
#    one, and 20 more join one put at a time (20 watch events, which the registry's window
#    gathers when they come close enough); then the nodes converge again, to the same set.
# 3. Leave: every synthetic lease is revoked; the nodes are back to the two real others.
# Throughout, a -> b, b -> c and c -> a ping every 50 ms: at most SN_STORM_MAX_LOST lost.  Each registry
# sends its changes in one set per decision (docs/cluster.md): the scenario counts the sets,
# which must stay far below the number of changes.
#
# Figures (lines "figures:"): time of each phase until every node has converged, sets per
# node, pings sent and lost.  On the current daemon a set at 1000 peers costs about 0.3 s (the
# whole device is applied again, issue 14); with an incremental apply, SN_STORM_N=5000 or
# 10000 is the size to run.
#
#	SN_STORM_N   synthetic entries (default 500; a multiple of 4)
#	SN_STORM_MAX_LOST  pings that may be lost per pair (default 2 of about 120).  The
#	             daemon from before the incremental apply lost 1-11 per pair; today's lost
#	             none in most runs and 2 once (b -> c, cause not found yet: issue 14's note).
#	SN_ETCD      etcd binary (default: etcd from PATH)
# timeout: 180
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

ETCD_BIN=${SN_ETCD:-$(command -v etcd)}
[ -x "$ETCD_BIN" ] || fail "etcd not found (make deps: etcd-server)"
command -v curl >/dev/null || fail "curl is not installed (make deps)"
command -v jq >/dev/null || fail "jq is not installed (make deps)"
[ -x "$SEALNET" ] || fail "sealnet not found at $SEALNET (make)"

N=${SN_STORM_N:-500}
[[ $N =~ ^[0-9]+$ ]] && [ $((N % 4)) = 0 ] && [ "$N" -le 8000 ] ||
	fail "SN_STORM_N=$N: a multiple of 4, at most 8000"
Q=$((N / 4))
TTL=10
PREFIX=/sealnet/t54
CLUSTER=(--cluster-cidr 100.64.0.0/10 --cluster-cidr fd00:96::/32)
NODES=(a b c)
# Every phase must converge within this (seconds).
CONVERGE=60

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
ETCD="http://${UL4[r]}:2379"

# --- etcd ---------------------------------------------------------------------------------

# --max-txn-ops: a quarter of the entries goes in one transaction, one watch event.
bg_start "$SN_TMP/etcd.log" r "$ETCD_BIN" --name t54 --data-dir "$SN_TMP/etcd" \
	--listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
	--listen-peer-urls http://127.0.0.1:2380 \
	--initial-advertise-peer-urls http://127.0.0.1:2380 \
	--initial-cluster t54=http://127.0.0.1:2380 --max-txn-ops $((Q + 8)) \
	--max-request-bytes $((4 << 20))
wait_for 15 nsx r curl -sf -m 1 "$ETCD/health" ||
	fail "etcd did not answer in 15 s: $(tail -n 5 "$SN_TMP/etcd.log")"

# etcd_post PATH [BODY]: the JSON gateway's answer on stdout.
etcd_post() { nsx r curl -sf -m 10 "$ETCD$1" -d "${2:-@-}"; }
lease_grant() { etcd_post /v3/lease/grant '{"TTL": 900}' | jq -r .ID; }
lease_revoke() { etcd_post /v3/kv/lease/revoke "{\"ID\": \"$1\"}" >/dev/null; }

# gen FIRST COUNT [PORT]: synthetic entries FIRST .. FIRST+COUNT-1, one a line, "KEY<TAB>VALUE"
# (the etcd key and its JSON).  A public key is 32 random bytes: 33 of them in base64 (44
# characters) with the last character cut to its two high bits, the rest 0 as base64 wants.
gen() {
	local first=$1 count=$2 port=${3:-51820}
	head -c $((33 * count)) /dev/urandom | base64 -w 44 | head -n "$count" |
		awk -v first="$first" -v prefix="$PREFIX/nodes/" -v port="$port" '
		BEGIN { B = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" }
		{
			i = first + NR - 1
			c = index(B, substr($0, 43, 1)) - 1
			pub = substr($0, 1, 42) substr(B, int(c / 16) * 16 + 1, 1) "="
			name = substr(pub, 1, 43); gsub(/\+/, "-", name); gsub(/\//, "_", name)
			hi = int(i / 256); lo = i % 256
			printf "%s%s\t{\"public_key\":\"%s\",\"endpoints\":[\"198.19.%d.%d:%d\"],", \
				prefix, name, pub, hi, lo, port
			printf "\"overlay\":\"100.65.%d.%d\",\"pod_subnet\":\"100.%d.%d.0/24\",", \
				hi, lo, 112 + hi, lo
			printf "\"pod_subnets\":[\"100.%d.%d.0/24\",\"fd00:96:%x::/64\"],", \
				112 + hi, lo, 256 + i
			printf "\"groups\":[\"storm\"]}\t%s\n", pub
		}'
}

# txn_put FILE LEASE: every entry of FILE in one transaction (one revision, one watch event).
txn_put() {
	jq -Rn --arg lease "$2" '{success: [inputs | split("\t") |
		{requestPut: {key: (.[0] | @base64), value: (.[1] | @base64), lease: $lease}}]}' \
		<"$1" | etcd_post /v3/kv/txn | jq -e '.succeeded' >/dev/null
}

# put_each FILE LEASE: one put per entry, each its own watch event.
put_each() {
	local key value pub
	while IFS=$'\t' read -r key value pub; do
		jq -n --arg k "$key" --arg v "$value" --arg l "$2" \
			'{key: ($k | @base64), value: ($v | @base64), lease: $l}' |
			etcd_post /v3/kv/put >/dev/null || return 1
	done <"$1"
}

# --- nodes, registries, and what they should have ----------------------------------------------

declare -A REG
for n in "${NODES[@]}"; do
	conf_interface "$n" >"$(conf_path "$n")"
	start_node "$n"
	ip netns exec "${NS[$n]}" "$SEALNET" registry "${IFACE[$n]}" --etcd "$ETCD" \
		--prefix "$PREFIX" --overlay "${OV4[$n]}" --pod-subnet "100.96.${IDX[$n]}.0/24" \
		--pod-subnet "fd00:96:${IDX[$n]}::/64" --ttl "$TTL" "${CLUSTER[@]}" \
		--state "$SN_TMP/$n.state" --metrics "$SN_TMP/$n.prom" >>"${LOG[$n]}" 2>&1 &
	REG[$n]=$!
	track "${REG[$n]}"
done

# ALIVE: the synthetic public keys that should be peers now, one a line.
ALIVE=$SN_TMP/alive
: >"$ALIVE"
peers_of() { wg show "${IFACE[$1]}" peers 2>/dev/null | sort; }
# expected NODE: the other real nodes and every live synthetic entry.
expected() {
	{
		cat "$ALIVE"
		for m in "${NODES[@]}"; do [ "$m" != "$1" ] && echo "${PUB[$m]}"; done
	} | sort
}
converged() {
	local n
	for n in "${NODES[@]}"; do
		[ "$(peers_of "$n" | md5sum)" = "$(expected "$n" | md5sum)" ] || return 1
	done
}
# converge WHAT: waits until every node has exactly the expected peers; PHASE_S the time.
converge() {
	local t0=$1 what=$2 n
	if ! wait_for "$CONVERGE" converged; then
		for n in "${NODES[@]}"; do
			say "$n: $(peers_of "$n" | grep -c .) peers, expected $(expected "$n" | grep -c .);" \
				"missing $(comm -13 <(peers_of "$n") <(expected "$n") | grep -c .)," \
				"extra $(comm -23 <(peers_of "$n") <(expected "$n") | grep -c .)"
		done
		fail "$what: the nodes did not converge in $CONVERGE s"
	fi
	PHASE_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	ok "$what: every node has the same $(($(expected a | grep -c .) - 2)) synthetic peers" \
		"and the two other real nodes, ${PHASE_S} s"
}
sets_of() { grep 'sealnet-registry\[' "${LOG[$1]}" | grep -c 'registry: one set to the daemon'; }

step "the real nodes join"
check "every node has the two others" wait_for 15 converged

# Pings that run all through the storm: rounds of 20 at 50 ms, each round waiting for its last
# replies, until the stop file appears; sent, received and the longest round trip (ms) go to
# the pair's tally.  A reply may be late (on the current daemon every set stops its event loop
# for as long as the set takes: issue 14), but it must come: -W 20.
STOP=$SN_TMP/stop-pings
pinger() {
	local from=$1 to=$2 out tx=0 rx=0 max=0 s r m
	while [ ! -e "$STOP" ]; do
		# -D -O: every probe's fate with a timestamp, kept in ping-log-FROM-TO, so that a
		# loss can be set beside the daemons' and registries' logs.
		out=$(nsx "$from" ping -n -D -O -c 20 -i 0.05 -W 20 "${OV4[$to]}" 2>&1)
		{ echo "---"; cat <<<"$out"; } >>"$SN_TMP/ping-log-$from-$to"
		s=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' <<<"$out")
		r=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")
		m=$(sed -n 's|^rtt .* = [^/]*/[^/]*/\([0-9]*\).*|\1|p' <<<"$out")
		tx=$((tx + ${s:-0}))
		rx=$((rx + ${r:-0}))
		[ "${m:-0}" -gt "$max" ] && max=$m
		echo "$tx $rx $max" >"$SN_TMP/ping-$from-$to"
	done
}
PINGERS=()
for pair in "a b" "b c" "c a"; do
	# shellcheck disable=SC2086
	pinger $pair &
	PINGERS+=("$!")
	track "$!"
done
T_START=$(date +%s.%N)

step "1. join: $N synthetic entries in four transactions"
declare -a LEASE
t0=$(date +%s.%N)
for g in 0 1 2 3; do
	gen $((g * Q)) "$Q" >"$SN_TMP/group$g"
	LEASE[g]=$(lease_grant) && [ -n "${LEASE[g]}" ] || fail "lease for group $g"
done
for g in 0 1 2 3; do
	txn_put "$SN_TMP/group$g" "${LEASE[g]}" || fail "transaction of group $g"
	cut -f3 "$SN_TMP/group$g" >>"$ALIVE"
done
converge "$t0" "join"
JOIN_S=$PHASE_S
declare -A SETS0
for n in "${NODES[@]}"; do SETS0[$n]=$(sets_of "$n"); done

step "2. churn: $Q leave, $Q join, 100 change, 20 join one by one"
t0=$(date +%s.%N)
lease_revoke "${LEASE[0]}" || fail "revoke group 0"
gen "$N" "$Q" >"$SN_TMP/group4"
LEASE[4]=$(lease_grant) && [ -n "${LEASE[4]}" ] || fail "lease for group 4"
txn_put "$SN_TMP/group4" "${LEASE[4]}" || fail "transaction of group 4"
# The first 100 of group 1 again, with another endpoint port: an update each.
head -n 100 "$SN_TMP/group1" | sed 's/:51820"\]/:51821"]/' >"$SN_TMP/moved"
txn_put "$SN_TMP/moved" "${LEASE[1]}" || fail "transaction of the moved entries"
gen $((N + Q)) 20 >"$SN_TMP/group5"
LEASE[5]=$(lease_grant) && [ -n "${LEASE[5]}" ] || fail "lease for group 5"
put_each "$SN_TMP/group5" "${LEASE[5]}" || fail "the puts of group 5"
cat "$SN_TMP/group1" "$SN_TMP/group2" "$SN_TMP/group3" "$SN_TMP/group4" "$SN_TMP/group5" |
	cut -f3 >"$ALIVE"
converge "$t0" "churn"
CHURN_S=$PHASE_S
ep=$(nsx a wg show "${IFACE[a]}" endpoints | grep -F "$(head -n 1 "$SN_TMP/moved" | cut -f3)" | cut -f2)
check_eq "a has the new endpoint of a moved entry" "${ep##*:}" 51821

step "3. leave: every synthetic lease revoked"
t0=$(date +%s.%N)
for g in 1 2 3 4 5; do
	lease_revoke "${LEASE[g]}" || fail "revoke group $g"
done
: >"$ALIVE"
converge "$t0" "leave"
LEAVE_S=$PHASE_S

step "pings through the storm"
touch "$STOP"
for p in "${PINGERS[@]}"; do
	wait "$p"
	untrack "$p"
done
STORM_S=$(awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
# The daemons' drop counters (non-zero ones): where a lost ping went.
for n in "${NODES[@]}"; do
	counters_of "$n" >/dev/null
	say "figures: $n drops:$(grep -v '^counters: peer ' "$SN_TMP/$n.counters" | tr ' ' '\n' |
		grep '^drop_' | grep -v '=0$' | tr '\n' ' ')"
done
# lost_probes LOG: the probes of each ping run in LOG that got no reply at all (-O says "no
# answer yet" for late ones too), and the error lines.
lost_probes() {
	awk '/^---$/ { for (q in wait) if (!(q in got)) print wait[q]; delete wait; delete got; next }
	     /no answer yet/ { q = $NF; sub(/.*=/, "", q); wait[q] = $0; next }
	     /bytes from/ { for (i = 1; i <= NF; i++) if ($i ~ /^icmp_seq=/) { q = $i; sub(/.*=/, "", q); got[q] = 1 } next }
	     /nreachable|rror/ { print }
	     END { for (q in wait) if (!(q in got)) print wait[q] }' "$1"
}
lost_all=0
rtt=""
for pair in "a b" "b c" "c a"; do
	read -r tx rx max <"$SN_TMP/ping-${pair% *}-${pair#* }"
	rtt="$rtt ${pair% *}->${pair#* } ${max} ms"
	check_gt "${pair% *} -> ${pair#* }: pings sent" "$tx" 100
	if [ "$((tx - rx))" -gt 0 ]; then
		say "${pair% *} -> ${pair#* }: the probes never answered (time: epoch seconds of the next probe), and ping's errors:"
		lost_probes "$SN_TMP/ping-log-${pair% *}-${pair#* }" >"$SN_TMP/lost"
		sed 's/^/      /' "$SN_TMP/lost"
		# What the nodes logged in the second of each loss and the one before.
		for t in $(sed -n 's/^\[\([0-9]*\)\..*no answer.*/\1/p' "$SN_TMP/lost" | sort -u); do
			for sec in $((t - 1)) "$t"; do
				grep -h "^$(date -u -d "@$sec" +%Y-%m-%dT%H:%M:%S)" "${LOG[@]}" | head -n 20 | sed 's/^/        /'
			done
		done
	fi
	check "${pair% *} -> ${pair#* }: $((tx - rx)) pings lost of $tx (at most ${SN_STORM_MAX_LOST:-2})" \
		[ "$((tx - rx))" -le "${SN_STORM_MAX_LOST:-2}" ]
	lost_all=$((lost_all + tx - rx))
done

# Each decision goes in one set: join and churn took a handful each, where a set per change
# would have been thousands (2 N + N/2 + 140 changes in all).
# cpu_of PID: user and system time of the process so far, in seconds.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat"; }
sets=""
cpu=""
for n in "${NODES[@]}"; do
	s=$(sets_of "$n")
	check "$n: $s sets for $((2 * N + 2 * Q + 140)) changes (at most 100)" [ "$s" -le 100 ]
	sets="$sets $n $s (join ${SETS0[$n]})"
	cpu="$cpu $n $(cpu_of "${PID[$n]}")/$(cpu_of "${REG[$n]}") s"
	# Errors and refusals are logged at warn or error; "removed (its entry is gone or
	# refused)" is info. Not grep -q: under pipefail a closed pipe would hide the match.
	grep 'sealnet-registry\[' "${LOG[$n]}" | grep -E '\]: (emerg|alert|crit|error|warn): ' >/dev/null &&
		fail "$n: the registry logged an error or a refusal: $(grep 'sealnet-registry\[' "${LOG[$n]}" | grep -E '\]: (emerg|alert|crit|error|warn): ' | head -n 3)"
done
say "figures: N=$N join ${JOIN_S} s, churn ${CHURN_S} s, leave ${LEAVE_S} s, storm ${STORM_S} s;" \
	"sets:$sets; pings lost $lost_all, longest round trip:$rtt;" \
	"CPU daemon/registry:$cpu"
say "done"
