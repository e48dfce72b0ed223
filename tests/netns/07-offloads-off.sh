#!/usr/bin/env bash
# timeout: 300 (run.sh: five runs of 01 and 02, each about 20 s)
# The tunnel scenarios again with every offload off (Offload = off), and with each kind on
# alone: both datapaths, the batched one and the one-packet-per-system-call one, must carry
# the same traffic and interoperate with wireguard-go.
set -u
dir=$(dirname "$0")
rc=0
for offload in off tun udp-gso udp-gro; do
	for s in 01-sealnetd-pair 02-interop-wggo; do
		# Each kind alone only needs the plain pair; "off" meets wireguard-go too. (Garbage
		# takes the same receive path either way: the datapath fuzz target covers both.)
		[ "$offload" != off ] && [ "$s" != 01-sealnetd-pair ] && continue
		printf '\n######## %s with Offload = %s\n' "$s" "$offload"
		if ! SN_OFFLOAD=$offload SN_IPERF_TIME=${SN_IPERF_TIME:-1} "$dir/$s.sh"; then
			echo "FAIL: $s with Offload = $offload"
			rc=1
		fi
	done
done
exit $rc
