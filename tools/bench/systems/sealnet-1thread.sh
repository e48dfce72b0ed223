# shellcheck shell=bash disable=SC2034 # SYS_DESC and SYS_DEST are read by bench.sh
# sealnet-1thread: the sealnet driver with "Threads = 1" in both daemons' configs, so the
# table shows what spreading the crypto of big batches over the CPUs (Threads = auto, the
# default) is worth on this machine. Everything else is sealnet.sh's, sourced.
# shellcheck source=sealnet.sh
. "$(dirname "${BASH_SOURCE[0]}")/sealnet.sh" || return 1
SYS_DESC="sealnetd ($SEALNETD), Threads = 1"

eval "_sn_conf_threads_auto() $(declare -f _sn_conf | tail -n +2)"
_sn_conf() {
	_sn_conf_threads_auto "$@" | sed '/^\[Interface\]$/a Threads = 1'
}
