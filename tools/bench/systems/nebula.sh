# shellcheck shell=bash disable=SC2034 # SYS_DESC and SYS_DEST are read by bench.sh
# nebula: Slack's overlay (Go), one per namespace in the foreground. A throwaway CA signs a
# certificate for each side, which carries its overlay address; each side finds the other
# through static_host_map on the underlay, so no lighthouse is needed. Cipher AES-GCM rather
# than nebula's default ChaCha20-Poly1305: the figure the hot-path issue quotes was with AES.
# Debian: apt-get install nebula.
SYS_DESC="nebula $(nebula -version 2>/dev/null | sed -n 's/^Version: //p'), cipher aes"

sys_available() {
	command -v nebula >/dev/null || { echo "nebula is not installed (Debian package nebula)"; return 1; }
	command -v nebula-cert >/dev/null || { echo "nebula-cert is not installed (Debian package nebula)"; return 1; }
}

# _nebula_conf SIDE IF OWN_UNDERLAY PEER_OVERLAY PEER_UNDERLAY: the YAML for one side, whose
# certificate and key are $BENCH_DIR/SIDE.crt and SIDE.key.
_nebula_conf() {
	cat <<EOF
pki:
  ca: $BENCH_DIR/ca.crt
  cert: $BENCH_DIR/$1.crt
  key: $BENCH_DIR/$1.key
static_host_map:
  "$4": ["$5:$BENCH_PORT"]
lighthouse:
  am_lighthouse: false
  hosts: []
listen:
  host: $3
  port: $BENCH_PORT
punchy:
  punch: false
relay:
  am_relay: false
  use_relays: false
cipher: aes
tun:
  disabled: false
  dev: $2
  mtu: $BENCH_MTU
logging:
  level: info
  format: text
firewall:
  outbound:
    - port: any
      proto: any
      host: any
  inbound:
    - port: any
      proto: any
      host: any
EOF
}

sys_up() {
	local ns_a=$1 ns_b=$2 d=$BENCH_DIR
	NEBULA_PID_A='' NEBULA_PID_B=''
	(
		umask 077
		nebula-cert ca -name "sn-bench-$$" -duration 24h \
			-out-crt "$d/ca.crt" -out-key "$d/ca.key" &&
			nebula-cert sign -ca-crt "$d/ca.crt" -ca-key "$d/ca.key" -name a \
				-ip "$BENCH_OV_A/$BENCH_OV_PLEN" -out-crt "$d/a.crt" -out-key "$d/a.key" &&
			nebula-cert sign -ca-crt "$d/ca.crt" -ca-key "$d/ca.key" -name b \
				-ip "$BENCH_OV_B/$BENCH_OV_PLEN" -out-crt "$d/b.crt" -out-key "$d/b.key" &&
			_nebula_conf a "$BENCH_IF_A" "$BENCH_UL_A" "$BENCH_OV_B" "$BENCH_UL_B" >"$d/a.yml" &&
			_nebula_conf b "$BENCH_IF_B" "$BENCH_UL_B" "$BENCH_OV_A" "$BENCH_UL_A" >"$d/b.yml"
	) || { echo "nebula: cannot make the CA, certificates or configs" >&2; return 1; }
	# `ip netns exec` execs, so the PID is nebula's own; it stays in the foreground.
	bench_spawn "$ns_a" nebula -config "$d/a.yml"
	NEBULA_PID_A=$BENCH_SPAWNED
	bench_spawn "$ns_b" nebula -config "$d/b.yml"
	NEBULA_PID_B=$BENCH_SPAWNED
	# nebula addresses and raises the TUN device itself, from the certificate.
	bench_wait 10 bench_if_ready "$ns_a" "$BENCH_IF_A" "$BENCH_OV_A" &&
		bench_wait 10 bench_if_ready "$ns_b" "$BENCH_IF_B" "$BENCH_OV_B" || {
		echo "nebula: $BENCH_IF_A or $BENCH_IF_B not up with its address after 10 s" >&2
		return 1
	}
}

sys_down() {
	bench_stop "$NEBULA_PID_A" "$NEBULA_PID_B"
	NEBULA_PID_A='' NEBULA_PID_B=''
}

sys_pids() { echo "$NEBULA_PID_A $NEBULA_PID_B"; }
