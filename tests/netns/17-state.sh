#!/usr/bin/env bash
# parallel: yes (run.sh: nothing here is measured against the clock or the CPU)
# State that must survive, or change, as WireGuard users expect (issue 11's state bugs):
#  - a preshared key that differs on the two sides shows no handshake on either side (the
#    responder used to show one before its session was confirmed);
#  - a reload that changes the IPv4 Address keeps every AllowedIPs route (the kernel flushes
#    them with the link's last IPv4 address);
#  - a route that exists already is left alone and said so in the log;
#  - Table = off adds no route, Table = N adds them to table N, a reload moves them;
#  - wg set listen-port 0 moves to a new random port;
#  - a new private key re-keys at once, not after REKEY_TIMEOUT.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

node_new a
node_new b
link_veth a b
psk_a=$(wg genpsk)
psk_b=$(wg genpsk)

step "preshared keys that differ: no handshake shown on either side"
{ conf_interface a; conf_peer b endpoint=4 psk="$psk_a"; } >"$(conf_path a)"
{ conf_interface b; conf_peer a endpoint=4 psk="$psk_b"; } >"$(conf_path b)"
start_node a
start_node b
nsx a ping -n -q -c 8 -i 0.25 -W 1 "${OV4[b]}" >/dev/null 2>&1
check_eq "a: latest handshake with b" "$(wg show "${IFACE[a]}" latest-handshakes | cut -f2)" 0
check_eq "b (responder): latest handshake with a" "$(wg show "${IFACE[b]}" latest-handshakes | cut -f2)" 0
check_eq "b: handshakes counted with a" "$(handshakes b a)" 0

step "the same key on both sides"
echo "$psk_a" >"$SN_TMP/psk"
check "b: wg set preshared-key" wg set "${IFACE[b]}" peer "${PUB[a]}" preshared-key "$SN_TMP/psk"
check "ping a -> b" wait_ping a "${OV4[b]}" 10
check_gt "b (responder): latest handshake once confirmed" \
	"$(wg show "${IFACE[b]}" latest-handshakes | cut -f2)" 0
stop_node a
stop_node b

step "a reload that changes the IPv4 Address keeps the AllowedIPs routes"
{ conf_interface a; conf_peer b endpoint=4; echo "AllowedIPs = 100.64.9.0/24"; } >"$(conf_path a)"
{ conf_interface b; conf_peer a endpoint=4; echo "AllowedIPs = 100.64.0.77/32"; } >"$(conf_path b)"
start_node a
start_node b
route_of() { ip -n "${NS[a]}" route show "$@" dev "${IFACE[a]}" proto static; }
check "route 100.64.9.0/24 at start" test -n "$(route_of 100.64.9.0/24)"
sed -i "s|^Address = ${OV4[a]}/24|Address = 100.64.0.77/24|" "$(conf_path a)"
check "reload with the new address" "$SEALNET" reload "${IFACE[a]}"
check "new address set" test -n "$(ip -n "${NS[a]}" -o addr show dev "${IFACE[a]}" to 100.64.0.77)"
check "route 100.64.9.0/24 after the address change" test -n "$(route_of 100.64.9.0/24)"
check "route ${OV4[b]}/32 after the address change" test -n "$(route_of "${OV4[b]}/32")"
check "ping b from the new address" wait_ping a "${OV4[b]}" 5

step "a route that exists already is left alone, and the log says so"
ip -n "${NS[a]}" route add 100.64.10.0/24 dev "${IFACE[a]}" proto static ||
	fail "admin route"
sed -i "s|^AllowedIPs = 100.64.9.0/24|AllowedIPs = 100.64.9.0/24, 100.64.10.0/24|" "$(conf_path a)"
check "reload" "$SEALNET" reload "${IFACE[a]}"
check "warned about the route" grep -q "route 100.64.10.0/24 exists already" "${LOG[a]}"
sed -i "s|^AllowedIPs = 100.64.9.0/24, 100.64.10.0/24|AllowedIPs = 100.64.9.0/24|" "$(conf_path a)"
check "reload without it" "$SEALNET" reload "${IFACE[a]}"
check "the admin's route stays" test -n "$(route_of 100.64.10.0/24)"

step "Table = 1234, then Table = off"
sed -i "s|^\[Interface\]|[Interface]\nTable = 1234|" "$(conf_path a)"
check "reload with Table = 1234" "$SEALNET" reload "${IFACE[a]}"
check_eq "no route left in main" "$(route_of 100.64.9.0/24)" ""
check "route in table 1234" \
	test -n "$(ip -n "${NS[a]}" route show table 1234 100.64.9.0/24 dev "${IFACE[a]}")"
check "wg set adds to table 1234" wg set "${IFACE[a]}" peer "${PUB[b]}" allowed-ips \
	"${OV4[b]}/32,${OV6[b]}/128,100.64.9.0/24,100.64.11.0/24"
check "route 100.64.11.0/24 in table 1234" \
	test -n "$(ip -n "${NS[a]}" route show table 1234 100.64.11.0/24 dev "${IFACE[a]}")"
sed -i "s|^Table = 1234|Table = off|" "$(conf_path a)"
check "reload with Table = off" "$SEALNET" reload "${IFACE[a]}"
check_eq "no route of ours anywhere" \
	"$(ip -n "${NS[a]}" route show table all proto static dev "${IFACE[a]}" | grep -v 100.64.10.0)" ""
check "wg set with Table = off" wg set "${IFACE[a]}" peer "${PUB[b]}" allowed-ips 100.64.12.0/24
check_eq "still no route" \
	"$(ip -n "${NS[a]}" route show table all proto static dev "${IFACE[a]}" | grep -v 100.64.10.0)" ""
check "back to the file" "$SEALNET" reload "${IFACE[a]}"

step "wg set listen-port 0: a new random port"
old=$(wg show "${IFACE[b]}" listen-port)
check "wg set listen-port 0" wg set "${IFACE[b]}" listen-port 0
new=$(wg show "${IFACE[b]}" listen-port)
[ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$old" ] ||
	fail "listen-port 0: port $old became '$new'"
ok "port $old became $new"
check "b bound there" test -n "$(nsx b ss -Hlun "sport = :$new")"
check "a told the new port" wg set "${IFACE[a]}" peer "${PUB[b]}" endpoint "${UL4[b]}:$new"
check "ping a -> b on the new port" wait_ping a "${OV4[b]}" 10

step "a new private key on a re-keys at once, twice in a row"
# The second change comes within REKEY_TIMEOUT (5 s) of the first one's initiation: a
# daemon that kept that limit across a change of identity would wait it out.
check "ping a -> b before" wait_ping a "${OV4[b]}" 5
for round in 1 2; do
	priv=$(genkey)
	pub=$(pubkey <<<"$priv")
	echo "$priv" >"$SN_TMP/a$round.key"
	check "b learns a's key $round" wg set "${IFACE[b]}" peer "$pub" allowed-ips \
		"${OV4[a]}/32,100.64.0.77/32,${OV6[a]}/128" endpoint "${UL4[a]}:${PORT[a]}"
	t0=$(date +%s%N)
	check "a: wg set private-key ($round)" wg set "${IFACE[a]}" private-key "$SN_TMP/a$round.key"
	wait_for 3 ping_once a "${OV4[b]}" || fail "key $round: no echo within 3 s of the new key"
	ok "key $round: ping through the new session after $((($(date +%s%N) - t0) / 1000000)) ms"
	check_gt "b: handshake with a's key $round" \
		"$(wg show "${IFACE[b]}" latest-handshakes | grep "$pub" | cut -f2)" 0
done
stop_node a
stop_node b
