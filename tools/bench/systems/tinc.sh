# shellcheck shell=bash disable=SC2034 # SYS_DESC and SYS_DEST are read by bench.sh
# tinc: tinc 1.0 (C, single-threaded), one tincd per namespace in the foreground, Mode =
# router, RSA keys from `tincd -K`. Each side has a config directory of its own under
# $BENCH_DIR (tinc.conf, tinc-up, hosts/a and hosts/b, the host files being swapped after
# key generation); a connects to b. Cipher AES-256-CBC and digest SHA-256 in both host files
# instead of tinc 1.0's defaults, Blowfish and SHA-1 (the MAC keeps its default 4 bytes).
# Debian: apt-get install tinc.
SYS_DESC="$(tincd --version 2>/dev/null | head -n 1), router mode, aes-256-cbc/sha256"

sys_available() {
	command -v tincd >/dev/null || { echo "tincd is not installed (Debian package tinc)"; return 1; }
}

# _tinc_side SIDE IF OWN_UNDERLAY OWN_OVERLAY [PEER_SIDE]: SIDE's config directory
# $BENCH_DIR/SIDE, with its own host file and key pair; with PEER_SIDE, it connects to it.
_tinc_side() {
	local dir=$BENCH_DIR/$1
	mkdir -p "$dir/hosts" || return 1
	{
		printf 'Name = %s\nMode = router\nAddressFamily = ipv4\n' "$1"
		printf 'BindToAddress = %s\nInterface = %s\n' "$3" "$2"
		[ -n "${5:-}" ] && printf 'ConnectTo = %s\n' "$5"
		:
	} >"$dir/tinc.conf" || return 1
	# tinc leaves the device's MTU at 1500: the MTU is set here with the address.
	# shellcheck disable=SC2016 # $INTERFACE is tinc's, expanded when tinc-up runs
	printf '#!/bin/sh\nip addr add %s/%s dev "$INTERFACE" && ip link set "$INTERFACE" mtu %s up\n' \
		"$4" "$BENCH_OV_PLEN" "$BENCH_MTU" >"$dir/tinc-up" && chmod 755 "$dir/tinc-up" || return 1
	# PMTUDiscovery = no: with it, tinc 1.0 sends every packet larger than the path MTU it
	# has confirmed so far through its TCP meta connection, and finding the MTU takes up to
	# 30 s of probes, longer than a test. The device MTU (1420) already fits the underlay.
	printf 'Address = %s\nPort = %s\nSubnet = %s/32\n' "$3" "$BENCH_PORT" "$4" >"$dir/hosts/$1" &&
		printf 'Cipher = aes-256-cbc\nDigest = sha256\nPMTUDiscovery = no\n' >>"$dir/hosts/$1" ||
		return 1
	# Not on a terminal, -K writes to the default files without asking: the private key to
	# rsa_key.priv, the public one appended to hosts/SIDE. Its progress dots are shown only
	# if it fails.
	local out
	out=$(tincd -c "$dir" -K 2048 </dev/null 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
}

# _tinc_listening NS: a tincd in NS accepts meta connections. Not grep -q (see bench_if_ready).
_tinc_listening() {
	ip netns exec "$1" ss -Hltn "sport = :$BENCH_PORT" | grep . >/dev/null
}

sys_up() {
	local ns_a=$1 ns_b=$2 d=$BENCH_DIR
	TINC_PID_A='' TINC_PID_B=''
	(
		umask 077
		_tinc_side a "$BENCH_IF_A" "$BENCH_UL_A" "$BENCH_OV_A" b &&
			_tinc_side b "$BENCH_IF_B" "$BENCH_UL_B" "$BENCH_OV_B" &&
			cp "$d/a/hosts/a" "$d/b/hosts/a" && cp "$d/b/hosts/b" "$d/a/hosts/b"
	) || { echo "tinc: cannot make the keys or configs" >&2; return 1; }
	# -D keeps tincd in the foreground and logging to stderr; `ip netns exec` execs, so the
	# PID is tincd's own. --pidfile keeps tinc away from /var/run.
	bench_spawn "$ns_b" tincd -D -n "sn-bench-b" -c "$d/b" --pidfile="$d/b.pid"
	TINC_PID_B=$BENCH_SPAWNED
	# a's first connection attempt to a b not yet listening is retried only 5 s later.
	bench_wait 10 _tinc_listening "$ns_b" || {
		echo "tinc: b is not listening on TCP port $BENCH_PORT after 10 s" >&2
		return 1
	}
	bench_spawn "$ns_a" tincd -D -n "sn-bench-a" -c "$d/a" --pidfile="$d/a.pid"
	TINC_PID_A=$BENCH_SPAWNED
	bench_wait 10 bench_if_ready "$ns_a" "$BENCH_IF_A" "$BENCH_OV_A" &&
		bench_wait 10 bench_if_ready "$ns_b" "$BENCH_IF_B" "$BENCH_OV_B" || {
		echo "tinc: $BENCH_IF_A or $BENCH_IF_B not up with its address after 10 s" >&2
		return 1
	}
}

sys_down() {
	bench_stop "$TINC_PID_A" "$TINC_PID_B"
	TINC_PID_A='' TINC_PID_B=''
}

sys_pids() { echo "$TINC_PID_A $TINC_PID_B"; }
