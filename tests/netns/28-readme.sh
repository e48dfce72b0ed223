#!/usr/bin/env bash
# README's "Running a node", run as it stands: `make install`, then the second shell block of
# that section, as root in node a's namespace, with only the other node's public key and
# address filled in where the README says to. Private to this scenario, so that nothing
# reaches the host: /etc and /usr/local are overlays (install, the sealnet user,
# /etc/sealnet), /run/wireguard and /run/sealnet fresh, all in a mount namespace of its own.
# Then a must reach b by name-less ping, status must name the peer, and down must stop it.
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

[ "${IMPL_A:-${IMPL:-sealnetd}}" = sealnetd ] || { skip "the README runs sealnetd"; exit 0; }
command -v unshare >/dev/null || { skip "unshare not found (util-linux)"; exit 0; }
repo=$(cd "$(dirname "$0")/../.." && pwd)
readme=$repo/README.md
node_new a none
node_new b sealnetd
link_veth a b
# The README's addresses: a is 100.64.0.1 and fd00:64::1, b 100.64.0.2 and fd00:64::2.
OV4[a]=100.64.0.1 OV6[a]=fd00:64::1 OV4[b]=100.64.0.2 OV6[b]=fd00:64::2

# What the host has before (a host may have sealnet installed): the run must not add to it.
host_before=$(ls -d /usr/local/sbin/sealnetd /etc/sealnet/sn0.conf 2>/dev/null)

step "the block, from README.md"
block=$SN_TMP/readme.sh
awk '/^## Running a node/ { on = 1; next } on && /^## / { exit }
	on && /^```sh/ { n++; inside = 1; next } inside && /^```/ { inside = 0; next }
	inside && n == 2 { print }' "$readme" >"$block"
sed 's/^/    | /' "$block"
grep -q '^sealnet up sn0' "$block" || fail "no 'sealnet up sn0' in the block"
grep -q '^PublicKey = <' "$block" || fail "no PublicKey placeholder in the block"
# The two things the reader fills in: the other node's key and where it is.
sed -i -e "s|^PublicKey = <.*>\$|PublicKey = $(printf '%s' "${PUB[b]}" | sed 's/[|&]/\\&/g')|" \
	-e "s|^Endpoint = .*|Endpoint = ${UL4[b]}:${PORT[b]}|" "$block"
{ echo "set -e"; cat "$block"; echo 'sealnet pubkey </etc/sealnet/sn0.key >"$SN_TMP/a.pub"'; } >"$block.run"

step "make install and the block, in a mount namespace of their own"
cat >"$SN_TMP/inner.sh" <<EOF
set -e
for d in /etc /usr/local; do
	mkdir -p "$SN_TMP/ov\$d/up" "$SN_TMP/ov\$d/work"
	mount -t overlay overlay -o "lowerdir=\$d,upperdir=$SN_TMP/ov\$d/up,workdir=$SN_TMP/ov\$d/work" "\$d"
done
mkdir -p /run/wireguard /run/sealnet
mount -t tmpfs -o mode=0755 tmpfs /run/wireguard
mount -t tmpfs -o mode=0755 tmpfs /run/sealnet
make -C "$repo" --no-print-directory install >"$SN_TMP/install.log" 2>&1 || { tail -n 20 "$SN_TMP/install.log"; exit 1; }
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SN_TMP="$SN_TMP"
cd /
ip netns exec "${NS[a]}" bash "$block.run" >"$SN_TMP/block.out" 2>&1 || { echo "the block failed:"; cat "$SN_TMP/block.out"; exit 1; }
# b's end, then what the reader would look at next.
for i in \$(seq 50); do ip netns exec "${NS[a]}" ping -n -q -c 1 -W 1 100.64.0.2 >/dev/null 2>&1 && break; done
ip netns exec "${NS[a]}" sealnet status sn0 >"$SN_TMP/status.out" 2>&1
ip netns exec "${NS[a]}" ping -n -q -c 3 -i 0.3 -W 1 fd00:64::2 >/dev/null 2>&1 && echo ok >"$SN_TMP/ping6"
ps -o user= -p "\$(cat /run/sealnet/sn0.pid)" >"$SN_TMP/user.out"
ip netns exec "${NS[a]}" sealnet down sn0 >"$SN_TMP/down.out" 2>&1
EOF
# b: its own config, with a's key once the block made it; started after, so wait for the key.
unshare --mount --propagation private bash "$SN_TMP/inner.sh" &
inner=$!
track "$inner"
wait_for 60 test -s "$SN_TMP/a.pub" || { wait "$inner"; fail "the block did not make a key"; }
PUB[a]=$(cat "$SN_TMP/a.pub")
{ conf_interface b; conf_peer a endpoint=none; } >"$(conf_path b)"
start_node b
wait "$inner"
rc=$?
untrack "$inner"
[ "$rc" = 0 ] || fail "make install or the README's block failed (rc $rc)"
sed 's/^/    | /' "$SN_TMP/block.out" "$SN_TMP/status.out"
check "a's public key was printed" grep -qxF "${PUB[a]}" "$SN_TMP/block.out"
check "check said the file is good" grep -q "/etc/sealnet/sn0.conf: good" "$SN_TMP/block.out"
check "status names the peer, online" grep -Eq '^  node2 .*online' "$SN_TMP/status.out"
check "ping over IPv6 too" test -s "$SN_TMP/ping6"
check_eq "the daemon ran as the user make install made" "$(tr -d ' ' <"$SN_TMP/user.out")" sealnet
check_eq "nothing added to the host" "$(ls -d /usr/local/sbin/sealnetd /etc/sealnet/sn0.conf 2>/dev/null)" "$host_before"
stop_node b
say "done"
