# shellcheck shell=bash disable=SC2034 # SYS_DESC and SYS_DEST are read by bench.sh
# wireguard-go: the userspace Go implementation, one per namespace in the foreground,
# configured the way wg-quick would (wg set, then address, MTU and link up).
SYS_DESC="$(wireguard-go --version 2>/dev/null | head -n 1)"

sys_available() {
	command -v wireguard-go >/dev/null || { echo "wireguard-go is not installed"; return 1; }
	command -v wg >/dev/null || { echo "wg (wireguard-tools) is not installed"; return 1; }
}

# _wggo_side NS IF KEYFILE OWN_OVERLAY PEER_PUBLIC PEER_OVERLAY PEER_UNDERLAY
_wggo_side() {
	local ns=$1 dev=$2
	bench_wait 10 test -S "/var/run/wireguard/$dev.sock" || {
		echo "wireguard-go: no control socket for $dev after 10 s" >&2
		return 1
	}
	ip netns exec "$ns" wg set "$dev" private-key "$3" listen-port "$BENCH_PORT" \
		peer "$5" allowed-ips "$6/32" endpoint "$7:$BENCH_PORT" &&
		ip -n "$ns" addr add "$4/$BENCH_OV_PLEN" dev "$dev" &&
		ip -n "$ns" link set "$dev" mtu "$BENCH_MTU" up
}

sys_up() {
	local ns_a=$1 ns_b=$2 pa pb
	WGGO_PID_A='' WGGO_PID_B=''
	(
		umask 077
		bench_genkey >"$BENCH_DIR/a.key" && bench_genkey >"$BENCH_DIR/b.key"
	) || return 1
	pa=$(bench_pubkey <"$BENCH_DIR/a.key") && pb=$(bench_pubkey <"$BENCH_DIR/b.key") || return 1
	# `ip netns exec` and env both exec, so the PID is wireguard-go's own.
	bench_spawn "$ns_a" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$BENCH_IF_A"
	WGGO_PID_A=$BENCH_SPAWNED
	bench_spawn "$ns_b" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$BENCH_IF_B"
	WGGO_PID_B=$BENCH_SPAWNED
	_wggo_side "$ns_a" "$BENCH_IF_A" "$BENCH_DIR/a.key" "$BENCH_OV_A" "$pb" "$BENCH_OV_B" "$BENCH_UL_B" &&
		_wggo_side "$ns_b" "$BENCH_IF_B" "$BENCH_DIR/b.key" "$BENCH_OV_B" "$pa" "$BENCH_OV_A" "$BENCH_UL_A"
}

sys_down() {
	bench_stop "$WGGO_PID_A" "$WGGO_PID_B"
	WGGO_PID_A='' WGGO_PID_B=''
}

sys_pids() { echo "$WGGO_PID_A $WGGO_PID_B"; }
