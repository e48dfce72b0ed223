# shellcheck shell=bash disable=SC2034 # SYS_DESC and SYS_DEST are read by bench.sh
# sealnet-nooffload: the sealnet driver with "Offload = off" in both daemons' configs, so the
# table shows what the TUN super-packets and UDP GSO/GRO trains are worth on this machine.
# Everything else (keys, start, stop, PIDs) is sealnet.sh's, sourced rather than copied.
# shellcheck source=sealnet.sh
. "$(dirname "${BASH_SOURCE[0]}")/sealnet.sh" || return 1
SYS_DESC="sealnetd ($SEALNETD), Offload = off"

_sn_interface_extra() { echo "Offload = off"; }
