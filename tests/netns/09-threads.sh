#!/usr/bin/env bash
# The datapath's threads (Threads =): with one, with more than the machine has CPUs, and
# with auto, the pair carries TCP both ways and UDP bursts intact, the daemon runs the
# number of threads asked for, and every thread keeps the sandbox (they start after the
# privilege drop, so they inherit it).
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

node_new a
node_new b
link_veth a b

# task_status PID KEY: KEY's value in the status of every thread of PID, one per line.
task_status() { awk -v k="$2:" '$1 == k { print $2 }' /proc/"$1"/task/*/status; }

# auto: the CPUs, at most 8, but one thread where there are 2 or fewer (workers.c).
cpus=$(nproc)
[ "$cpus" -gt 8 ] && cpus=8
[ "$cpus" -le 2 ] && cpus=1
for threads in 1 4 auto; do
	step "Threads = $threads"
	{ conf_interface a; echo "Threads = $threads"; conf_peer b endpoint=4; } >"$(conf_path a)"
	{ conf_interface b; echo "Threads = $threads"; conf_peer a endpoint=4; } >"$(conf_path b)"
	start_node a
	start_node b
	check "first ping a -> b within 10 s" wait_ping a "${OV4[b]}" 10
	want=$threads
	[ "$threads" = auto ] && want=$cpus
	check_eq "a: threads" "$(ls /proc/"${PID[a]}"/task | wc -l)" "$want"
	check_eq "a: threads without the seccomp filter" \
		"$(task_status "${PID[a]}" Seccomp | grep -vc '^2$')" 0
	check_eq "a: threads with any capability (the helper keeps CAP_NET_ADMIN)" \
		"$(task_status "${PID[a]}" CapEff | grep -vc '^0000000000000000$')" 0
	iperf_check "a -> b" a b "${OV4[b]}"
	iperf_check "b -> a" a b "${OV4[b]}" -R
	iperf_check "a -> b over IPv6, 4 streams" a b "${OV6[b]}" -P 4
	udp_burst_check "a -> b, mixed sizes" a b "${OV4[b]}"
	udp_burst_check "b -> a, 1372 bytes" b a "${OV4[a]}" 2000 1372
	# Sealed or opened out of turn, a datagram would fail authentication, the replay
	# check, or the inner checks.
	for n in a b; do
		counters_of "$n" >/dev/null
		for d in decrypt replay expired unknown_index bad_inner allowedips tun_write; do
			check_eq "$n: drop_$d" "$(counter "$n" "drop_$d")" 0
		done
	done
	stop_node a
	ok "a exited 0 on SIGTERM"
	stop_node b
	ok "b exited 0 on SIGTERM"
done
say "done"
