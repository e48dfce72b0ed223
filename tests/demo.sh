#!/usr/bin/env bash
# sealnet demo (`sudo make demo`): two sealnetd nodes in network namespaces, each standing
# for a machine, joined by a virtual cable.  Generates keys, writes the configs, starts both
# daemons, waits for the handshake, pings and measures throughput through the tunnel, then
# removes everything it made.  IMPL=wggo runs wireguard-go instead, for comparison.
. "$(dirname "$0")/netns/lib.sh"

if [ -t 1 ]; then
	bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
else
	bold() { printf '\n%s\n' "$*"; }
fi
indent() { sed 's/^/    /'; }
show_conf() { sed 's/^\(PrivateKey = \).*/\1(hidden)/' "$1" | indent; }

bold "1. Two namespaces, standing for two machines, joined by a virtual cable"
node_new a
node_new b
link_veth a b
cat <<TXT
    machine a: namespace ${NS[a]}, address ${UL4[a]} (and ${UL6[a]})
    machine b: namespace ${NS[b]}, address ${UL4[b]} (and ${UL6[b]})
TXT

bold "2. Each machine gets a key pair"
if [ -x "$SEALNET" ]; then keytool=sealnet; else keytool=wg; fi
echo "    ($keytool genkey > private; $keytool pubkey < private)"
echo "    public key of a: ${PUB[a]}"
echo "    public key of b: ${PUB[b]}"

bold "3. The configs (wg-quick format): each side names the other by its public key"
{ conf_interface a; conf_peer b endpoint=4; } >"$(conf_path a)"
{ conf_interface b; conf_peer a endpoint=4; } >"$(conf_path b)"
echo "    $(conf_path a):"
show_conf "$(conf_path a)"
echo "    $(conf_path b):"
show_conf "$(conf_path b)"

bold "4. Start the daemons"
for n in a b; do
	if [ "${IMPL[$n]}" = sealnetd ]; then
		echo "    ip netns exec ${NS[$n]} $SEALNETD -f -c $(conf_path $n) ${IFACE[$n]}"
	else
		echo "    ip netns exec ${NS[$n]} wireguard-go -f ${IFACE[$n]} (then wg setconf, ip addr, ip link)"
	fi
	start_node "$n"
done
for n in a b; do
	echo "    $n: interface ${IFACE[$n]} is up with" \
		$(ip -n "${NS[$n]}" -o addr show dev "${IFACE[$n]}" scope global | awk '{ print $4 }')
done

bold "5. Handshake: the first packet for b makes a start one"
t0=$SECONDS
ping_once a "${OV4[b]}"
if ! wait_for 10 handshake_done a b; then
	fail "no handshake after 10 s; the daemons' logs follow"
fi
echo "    handshake completed (within $((SECONDS - t0 + 1)) s); what a knows of b:"
counters_of a | sed -n 's/^counters: peer [^ ]* /    /p' | tr ' ' '\n' |
	grep -E '^(endpoint|rx_bytes|tx_bytes|handshakes)=' | sed 's/^/    /; s/=/: /'
[ "${PIPESTATUS[0]}" = 0 ] || fail "no counters from a"

bold "6. Ping b's tunnel address from a"
nsx a ping -n -c 5 -i 0.3 "${OV4[b]}" 2>&1 | indent
[ "${PIPESTATUS[0]}" = 0 ] || fail "ping through the tunnel failed"

bold "7. Throughput through the tunnel (iperf3, 3 seconds)"
bg_start "$SN_TMP/iperf-server.log" b iperf3 -s -1
srv=$BG_PID
wait_for 5 _listening b 5201 || fail "iperf3 server did not start"
nsx a iperf3 -c "${OV4[b]}" -t 3 --connect-timeout 3000 2>&1 | grep -E 'sender|receiver|error' | indent
stop_pid "$srv"

bold "8. Stop the daemons (SIGTERM): the tunnel interfaces go away with them"
for n in a b; do
	stop_node "$n"
	echo "    $n: exited with status $STOP_RC, ${IFACE[$n]} removed"
done
echo
echo "Demo done: the namespaces and temporary files are removed on exit."
