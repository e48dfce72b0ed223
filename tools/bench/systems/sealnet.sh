# shellcheck shell=bash disable=SC2034 # SYS_DESC and SYS_DEST are read by bench.sh
# sealnet: sealnetd from this build (or $SEALNETD), one per namespace, each told the other's
# endpoint, configured from a wg-quick file as a user would.
SYS_DESC="sealnetd ($SEALNETD)"

sys_available() {
	if [ -z "$SEALNETD" ] || [ ! -x "$SEALNETD" ]; then
		echo "sealnetd not found: build it with make, or set SEALNETD"
		return 1
	fi
}

# Keys a variant of this driver adds to [Interface] (see sealnet-nooffload.sh): none here.
_sn_interface_extra() { :; }

# _sn_conf PRIVATE OWN_OVERLAY PEER_PUBLIC PEER_OVERLAY PEER_UNDERLAY
_sn_conf() {
	printf '[Interface]\nPrivateKey = %s\nListenPort = %s\nAddress = %s/%s\nMTU = %s\n' \
		"$1" "$BENCH_PORT" "$2" "$BENCH_OV_PLEN" "$BENCH_MTU"
	_sn_interface_extra
	printf '\n'
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = %s/32\nEndpoint = %s:%s\n' \
		"$3" "$4" "$5" "$BENCH_PORT"
}

sys_up() {
	local ns_a=$1 ns_b=$2 ka kb pa pb
	SN_PID_A='' SN_PID_B=''
	ka=$(bench_genkey) && kb=$(bench_genkey) &&
		pa=$(bench_pubkey <<<"$ka") && pb=$(bench_pubkey <<<"$kb") || return 1
	(
		umask 077
		_sn_conf "$ka" "$BENCH_OV_A" "$pb" "$BENCH_OV_B" "$BENCH_UL_B" >"$BENCH_DIR/a.conf"
		_sn_conf "$kb" "$BENCH_OV_B" "$pa" "$BENCH_OV_A" "$BENCH_UL_A" >"$BENCH_DIR/b.conf"
	) || return 1
	bench_spawn "$ns_a" "$SEALNETD" -f -c "$BENCH_DIR/a.conf" "$BENCH_IF_A"
	SN_PID_A=$BENCH_SPAWNED
	bench_spawn "$ns_b" "$SEALNETD" -f -c "$BENCH_DIR/b.conf" "$BENCH_IF_B"
	SN_PID_B=$BENCH_SPAWNED
	bench_wait 10 bench_if_ready "$ns_a" "$BENCH_IF_A" "$BENCH_OV_A" &&
		bench_wait 10 bench_if_ready "$ns_b" "$BENCH_IF_B" "$BENCH_OV_B" || {
		echo "sealnet: $BENCH_IF_A or $BENCH_IF_B not up with its address after 10 s" >&2
		return 1
	}
}

sys_down() {
	bench_stop "$SN_PID_A" "$SN_PID_B"
	SN_PID_A='' SN_PID_B=''
}

sys_pids() { echo "$SN_PID_A $SN_PID_B"; }
