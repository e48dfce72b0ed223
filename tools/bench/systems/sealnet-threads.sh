# shellcheck shell=bash disable=SC2034 # SYS_DESC and SYS_DEST are read by bench.sh
# sealnet-threads: the sealnet driver with "Threads = <every CPU>" in both daemons' configs
# (at least 2), so the table shows the crypto spread over the CPUs next to what Threads =
# auto chose (one thread on machines of 2 CPUs or fewer). Everything else is sealnet.sh's.
# shellcheck source=sealnet.sh
. "$(dirname "${BASH_SOURCE[0]}")/sealnet.sh" || return 1
_SN_THREADS=$(nproc)
[ "$_SN_THREADS" -lt 2 ] && _SN_THREADS=2
[ "$_SN_THREADS" -gt 64 ] && _SN_THREADS=64
SYS_DESC="sealnetd ($SEALNETD), Threads = $_SN_THREADS"

eval "_sn_conf_threads_auto() $(declare -f _sn_conf | tail -n +2)"
_sn_conf() {
	_sn_conf_threads_auto "$@" | sed "/^\[Interface\]\$/a Threads = $_SN_THREADS"
}
