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
# 4. b's daemon stops for 1.5 s (SIGSTOP), longer than any set stops it: late is no loss.
# Throughout, a -> b, b -> c and c -> a ping every 50 ms: at most SN_STORM_MAX_LOST lost, a
# probe being lost when its reply never comes (LATE s after the end at the latest).  Each
# registry sends its changes in one set per decision (docs/cluster.md): the scenario counts
# the sets, which must stay far below the number of changes.
#
# Figures (lines "figures:"): time of each phase until every node has converged, sets per
# node, pings sent and lost.  On the current daemon a set at 1000 peers costs about 0.3 s (the
# whole device is applied again, issue 14); with an incremental apply, SN_STORM_N=5000 or
# 10000 is the size to run.
#
#	SN_STORM_N   synthetic entries (default 500; a multiple of 4)
#	SN_STORM_MAX_LOST  pings that may be lost per pair (default 0 of 150-450).  The 1-11
#	             "lost" of earlier runs were late replies that rounds of `ping -c` stopped
#	             waiting for (see the pings below); the kernel of the pinging node had them
#	             all.  Counted as here, none was lost in 11 runs, 8 of them with both CPUs
#	             kept busy.
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

# Pings that run all through the storm: one ping a pair at 50 ms, from here until the storm is
# over, each probe's fate with a timestamp (-D -O) in ping-log-FROM-TO, so that a loss can be
# set beside the daemons' and registries' logs.  A reply may be late (on the current daemon
# every set stops its event loop for as long as the set takes: issue 14), but it must come.
# Not rounds of `ping -c`: after its last probe, `ping -c` waits only for twice the longest
# round trip so far (at least the interval), whatever -W says, and exits counting a reply that
# comes later as lost (iputils' schedule_exit).  That was the "loss" of this scenario: every
# such probe had its reply in the pinging node's kernel (Icmp InEchoReps) and on its TUN.
declare -A PING_PID
for pair in "a b" "b c" "c a"; do
	read -r from to <<<"$pair"
	# Not through nsx (a function, so $! would be a subshell): ping itself gets the signals.
	ip netns exec "${NS[$from]}" ping -n -D -O -i 0.05 "${OV4[$to]}" \
		>"$SN_TMP/ping-log-$from-$to" 2>"$SN_TMP/ping-err-$from-$to" &
	PING_PID[$from]=$!
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

# A daemon that stops for longer than any set: the replies through it come late, and late is
# no loss.  (The rounds of `ping -c` counted most of these probes as lost.)
step "b's daemon stops for 1.5 s"
kill -s STOP "${PID[b]}" || fail "SIGSTOP b"
sleep 1.5
kill -s CONT "${PID[b]}" || fail "SIGCONT b"

step "pings through the storm"
# The probes sent until now are judged, those after are not: SIGQUIT makes ping say how many
# it has sent ("R/S packets, ...").  Each judged probe must have its reply, LATE s at the latest.
LATE=5
for n in "${NODES[@]}"; do kill -s QUIT "${PING_PID[$n]}" || fail "ping of $n is gone"; done
# sent FROM-TO: the probes judged.
sent() { sed -n 's|^[^0-9]*[0-9]*/\([0-9]*\) packets.*|\1|p' "$SN_TMP/ping-err-$1" | head -n 1; }
# unanswered FROM-TO: the judged probes without a reply, one a line: ping's "no answer yet"
# line for it (its time is that of the next probe), or its number.
unanswered() {
	awk -v sent="$(sent "$1")" '
	/bytes from/ { for (i = 1; i <= NF; i++) if ($i ~ /^icmp_seq=/) { q = $i; sub(/.*=/, "", q); got[q] = 1 } next }
	/no answer yet/ { q = $NF; sub(/.*=/, "", q); said[q] = $0 }
	END { for (q = 1; q <= sent; q++) if (!(q in got)) print (q in said) ? said[q] : "icmp_seq=" q }' \
		"$SN_TMP/ping-log-$1"
}
PAIRS=(a-b b-c c-a)
said_sent() { local p; for p in "${PAIRS[@]}"; do [ -n "$(sent "$p")" ] || return 1; done; }
wait_for 5 said_sent || fail "ping did not say how many probes it sent: $(cat "$SN_TMP"/ping-err-*)"
all_answered() { local p; for p in "${PAIRS[@]}"; do [ -z "$(unanswered "$p")" ] || return 1; done; }
wait_for "$LATE" all_answered
for n in "${NODES[@]}"; do
	stop_pid "${PING_PID[$n]}" INT
done
STORM_S=$(awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
# The daemons' drop counters (non-zero ones): where a lost ping went.
for n in "${NODES[@]}"; do
	counters_of "$n" >/dev/null
	say "figures: $n drops:$(grep -v '^counters: peer ' "$SN_TMP/$n.counters" | tr ' ' '\n' |
		grep '^drop_' | grep -v '=0$' | tr '\n' ' ')"
done
lost_all=0
rtt=""
for pair in "${PAIRS[@]}"; do
	from=${pair%-*}
	tx=$(sent "$pair")
	unanswered "$pair" >"$SN_TMP/lost"
	lost=$(grep -c . "$SN_TMP/lost")
	max=$(sed -n 's/.* time=\([0-9]*\).*/\1/p' "$SN_TMP/ping-log-$pair" | sort -n | tail -n 1)
	rtt="$rtt ${pair/-/->} ${max:-?} ms"
	check_gt "${pair/-/ -> }: pings sent" "$tx" 100
	if [ "$lost" -gt 0 ]; then
		say "${pair/-/ -> }: the probes never answered (time: epoch seconds of the next probe), ping's errors, and what the kernel of $from counted:"
		{
			cat "$SN_TMP/lost"
			grep -E 'nreachable|rror' "$SN_TMP/ping-log-$pair"
			# shellcheck disable=SC2016 # awk's fields
			nsx "$from" awk '/^Icmp:/ && !h { for (i = 1; i <= NF; i++) k[i] = $i; h = 1; next }
				/^Icmp:/ { for (i = 1; i <= NF; i++) v[k[i]] = $i }
				END { print v["OutEchos"] " echo requests out, " v["InEchoReps"] " replies in (all probes)" }' \
				/proc/net/snmp
		} | sed 's/^/      /'
		# What the nodes logged in the second of each loss and the one before.
		for t in $(sed -n 's/^\[\([0-9]*\)\..*no answer.*/\1/p' "$SN_TMP/lost" | sort -u); do
			for sec in $((t - 1)) "$t"; do
				grep -hs "^$(date -u -d "@$sec" +%Y-%m-%dT%H:%M:%S)" "${LOG[@]}" | head -n 20 | sed 's/^/        /'
			done
		done
	fi
	check "${pair/-/ -> }: $lost pings lost of $tx (at most ${SN_STORM_MAX_LOST:-0})" \
		[ "$lost" -le "${SN_STORM_MAX_LOST:-0}" ]
	lost_all=$((lost_all + lost))
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
