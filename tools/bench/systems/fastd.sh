# shellcheck shell=bash disable=SC2034 # SYS_DESC and SYS_DEST are read by bench.sh
# fastd: the Freifunk tunnel daemon (C, single-threaded), one per namespace in the foreground,
# TUN mode with one peer each, method salsa2012+umac (as in the hot-path issue's table).
# fastd makes the TUN device and sets its MTU; the address and the link are set here, as an
# "on up" hook would, without a shell in between.
# Only a is told where b is; b accepts a by its key, like a fastd server and its clients.
# When both sides initiate at the same moment, each can finish its own handshake and keep a
# session the other dropped (every packet then fails verification until a new handshake),
# and a first handshake sent before the other side is bound is retried only about 20 s
# later: so b starts first, and a once b has made its interface.
# Debian: apt-get install fastd.
SYS_DESC="$(fastd --version 2>/dev/null | head -n 1), salsa2012+umac, TUN mode"

sys_available() {
	command -v fastd >/dev/null || { echo "fastd is not installed (Debian package fastd)"; return 1; }
}

# _fastd_keys SIDE: a key pair from fastd itself into $BENCH_DIR/SIDE.secret and SIDE.public.
_fastd_keys() {
	local out
	# "Secret: HEX" and "Public: HEX" on stdout; the entropy notice goes to stderr.
	out=$(fastd --generate-key 2>/dev/null) || return 1
	sed -n 's/^Secret: *//p' <<<"$out" >"$BENCH_DIR/$1.secret" &&
		sed -n 's/^Public: *//p' <<<"$out" >"$BENCH_DIR/$1.public" &&
		[ -s "$BENCH_DIR/$1.secret" ] && [ -s "$BENCH_DIR/$1.public" ]
}

# _fastd_conf SIDE IF OWN_UNDERLAY PEER_SIDE [PEER_UNDERLAY]: without PEER_UNDERLAY the side
# only answers its peer.
_fastd_conf() {
	printf 'log to stderr level info;\nmode tun;\ninterface "%s";\nmtu %s;\n' "$2" "$BENCH_MTU"
	printf 'method "salsa2012+umac";\nbind %s:%s;\nsecret "%s";\n' \
		"$3" "$BENCH_PORT" "$(cat "$BENCH_DIR/$1.secret")"
	printf 'peer "%s" {\n\tkey "%s";\n' "$4" "$(cat "$BENCH_DIR/$4.public")"
	[ -n "${5:-}" ] && printf '\tremote %s:%s;\n' "$5" "$BENCH_PORT"
	printf '}\n'
}

# _fastd_addr NS IF OVERLAY: once fastd has made IF, give it its address and bring it up.
_fastd_addr() {
	bench_wait 10 ip -n "$1" link show dev "$2" || {
		echo "fastd: no interface $2 after 10 s" >&2
		return 1
	}
	ip -n "$1" addr add "$3/$BENCH_OV_PLEN" dev "$2" && ip -n "$1" link set "$2" up
}

sys_up() {
	local ns_a=$1 ns_b=$2 d=$BENCH_DIR
	FASTD_PID_A='' FASTD_PID_B=''
	(
		umask 077
		_fastd_keys a && _fastd_keys b &&
			_fastd_conf a "$BENCH_IF_A" "$BENCH_UL_A" b "$BENCH_UL_B" >"$d/a.conf" &&
			_fastd_conf b "$BENCH_IF_B" "$BENCH_UL_B" a >"$d/b.conf"
	) || { echo "fastd: cannot make the keys or configs" >&2; return 1; }
	# Without --daemon fastd stays in the foreground, and `ip netns exec` execs: the PID is
	# fastd's own. fastd binds its socket before it makes the interface.
	bench_spawn "$ns_b" fastd -c "$d/b.conf"
	FASTD_PID_B=$BENCH_SPAWNED
	_fastd_addr "$ns_b" "$BENCH_IF_B" "$BENCH_OV_B" || return 1
	bench_spawn "$ns_a" fastd -c "$d/a.conf"
	FASTD_PID_A=$BENCH_SPAWNED
	_fastd_addr "$ns_a" "$BENCH_IF_A" "$BENCH_OV_A"
}

sys_down() {
	bench_stop "$FASTD_PID_A" "$FASTD_PID_B"
	FASTD_PID_A='' FASTD_PID_B=''
}

sys_pids() { echo "$FASTD_PID_A $FASTD_PID_B"; }
