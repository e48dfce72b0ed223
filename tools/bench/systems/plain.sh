# shellcheck shell=bash disable=SC2034 # SYS_DESC and SYS_DEST are read by bench.sh
# plain: the veth pair alone, no tunnel and no daemon. The reference: bench.sh always runs
# it, first, and divides every other system's figures by its figures of the same round.
SYS_DESC="veth pair, no tunnel (the reference)"

sys_available() { return 0; }

sys_up() {
	# Straight to b's underlay address: nothing to start.
	SYS_DEST=$BENCH_UL_B
}

sys_down() { :; }

# No daemon: CPU and RSS are reported as null.
sys_pids() { :; }
