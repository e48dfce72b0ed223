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

_sn_interface_extra() { echo "Threads = $_SN_THREADS"; }
