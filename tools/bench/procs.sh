# shellcheck shell=bash
# Process bookkeeping shared by tools/bench/bench.sh and tests/netns/lib.sh: every background
# process a script starts is recorded by PID when it starts, and stopped by that PID (never by
# name) when the script is done with it or exits.
#
#	procs_track PID                 stop it on exit
#	procs_untrack PID               it was reaped elsewhere
#	procs_stop TENTHS SIGNAL PID... send SIGNAL to each, give each up to TENTHS tenths of a
#	                                second to exit, then SIGKILL; reap and untrack them.  The
#	                                exit status of the last one is left in STOP_RC.
#	procs_stop_all TENTHS           procs_stop with SIGTERM for everything still tracked
#
# PROCS_PIDS holds the tracked PIDs; reap means `wait', so a process that is not a child of
# this shell is only signalled.

PROCS_PIDS=()
STOP_RC=

procs_track() { PROCS_PIDS+=("$1"); }

procs_untrack() {
	local i
	for i in "${!PROCS_PIDS[@]}"; do
		[ "${PROCS_PIDS[$i]}" = "$1" ] && unset 'PROCS_PIDS[i]'
	done
	return 0
}

procs_stop() {
	local tenths=$1 sig=$2 pid i
	shift 2
	for pid; do kill -s "$sig" "$pid" 2>/dev/null; done
	for pid; do
		for ((i = 0; i < tenths; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -s KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		# shellcheck disable=SC2034 # for the caller
		STOP_RC=$?
		procs_untrack "$pid"
	done
	return 0
}

procs_stop_all() {
	[ "${#PROCS_PIDS[@]}" -gt 0 ] && procs_stop "$1" TERM "${PROCS_PIDS[@]}"
	return 0
}
