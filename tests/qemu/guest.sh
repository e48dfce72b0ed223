# shellcheck shell=bash disable=SC2004,SC2034 # lib.sh's arrays, filled here for a guest
# A QEMU guest running Debian's kernel and its WireGuard module, as a node of a
# tests/netns scenario.  Sourced after tests/netns/lib.sh; not a scenario itself.
#
#	guest_prepare            the kernel and initramfs (tests/qemu/prepare.sh); skips the
#	                         scenario when they cannot be had (offline, not Debian amd64)
#	guest_new G              node G for the config helpers: keys, port, overlay addresses;
#	                         IMPL[G]=linux, no namespace of its own
#	link_tap NODE G          a tap device in NODE's namespace for G's virtio NIC, addressed
#	                         like link_veth: 198.18.L.N/24 and fd00:18:L::N/64
#	guest_start NODE G       boots G in QEMU inside NODE's namespace (KVM if it boots a
#	                         stock kernel, else TCG), waits for its control channel, gives
#	                         its eth0 its underlay addresses
#	guest_run G CMD          runs CMD (one string, sh -c) in the guest; its output, its status
#	guest_put G FILE         stdin into FILE in the guest
#	guest_wg_up G CONF       a fresh wg0 (ip link add type wireguard) with G's overlay
#	                         addresses, configured by `wg setconf wg0` from CONF
#
#	SN_QEMU_ACCEL=kvm|tcg    skip the KVM attempt, or insist on KVM
#	SN_QEMU_DIR              where prepare.sh keeps the kernel (default build/qemu)
#
# The guest's console (its kernel log) is LOG[G]: lib.sh shows its end when a scenario fails
# (LOG[G].kvm keeps a failed KVM attempt's).
# QEMU is started by bg_start, so the EXIT trap kills it by its PID; the guest also powers
# itself off after SN_QEMU_LIFETIME seconds (default 600) whatever the host does.

SN_QEMU_DIR=${SN_QEMU_DIR:-$SN_ROOT/build/qemu}
SN_QEMU_LIFETIME=${SN_QEMU_LIFETIME:-600}
declare -A GUEST_PID GUEST_R GUEST_W GUEST_ACCEL GUEST_TAP GUEST_MAC

guest_prepare() {
	local out rc
	command -v qemu-system-x86_64 >/dev/null ||
		fail "qemu-system-x86_64 not installed (make deps: Debian package qemu-system-x86)"
	if [ "$(uname -m)" != x86_64 ]; then
		skip "the guest is Debian's amd64 kernel; this machine is $(uname -m)"
		exit 0
	fi
	out=$("$SN_ROOT/tests/qemu/prepare.sh" "$SN_QEMU_DIR" 2>"$SN_TMP/prepare.log")
	rc=$?
	case $rc in
	0) eval "$out" ;;
	2)
		skip "no guest kernel: $(tail -n 1 "$SN_TMP/prepare.log")"
		exit 0
		;;
	*)
		cat "$SN_TMP/prepare.log" >&2
		fail "tests/qemu/prepare.sh failed"
		;;
	esac
	{ [ -f "$QEMU_KERNEL" ] && [ -f "$QEMU_INITRD" ]; } || fail "prepare.sh gave no kernel or initramfs"
	say "guest kernel $(basename "$QEMU_KERNEL"), initramfs $(du -k "$QEMU_INITRD" | cut -f1) KiB"
}

guest_new() {
	local g=$1 n
	[[ $g =~ ^[a-z]{1,2}$ ]] || fail "node name '$g' must be 1-2 lower-case letters"
	n=$((${#SN_NODES[@]} + 1))
	SN_NODES+=("$g")
	IDX[$g]=$n
	NS[$g]=
	IFACE[$g]=wg0
	IMPL[$g]=linux
	PORT[$g]=$((51000 + n))
	OV4[$g]="100.64.0.$n"
	OV6[$g]="fd00:64::$n"
	LOG[$g]="$SN_TMP/$g.console"
	PRIV[$g]=$(genkey) || fail "genkey failed"
	PUB[$g]=$(pubkey <<<"${PRIV[$g]}") || fail "pubkey failed"
	GUEST_MAC[$g]=$(printf '52:54:00:53:4e:%02x' "$n")
}

link_tap() {
	local node=$1 g=$2 l dev="tap$2"
	SN_LINKS=$((SN_LINKS + 1))
	l=$SN_LINKS
	# shellcheck disable=SC2034 # for the scenarios
	LINK_NET=$l
	ip -n "${NS[$node]}" tuntap add dev "$dev" mode tap || fail "tap $dev in $node"
	_link_addr "$node" "$dev" "$l"
	GUEST_TAP[$g]=$dev
	UL4[$g]="198.18.$l.${IDX[$g]}"
	UL6[$g]="fd00:18:$l::${IDX[$g]}"
	# shellcheck disable=SC2034 # for the scenarios
	ULDEV[$g]=eth0
}

# _guest_boot NODE G ACCEL READY_TIMEOUT: one attempt; 0 once the guest said @@READY.
_guest_boot() {
	local node=$1 g=$2 accel=$3 wait_s=$4 ctl=$SN_TMP/$2.ctl cpu line deadline fd_r fd_w
	if [ -n "${GUEST_R[$g]:-}" ]; then
		fd_r=${GUEST_R[$g]} fd_w=${GUEST_W[$g]}
		exec {fd_r}<&- {fd_w}>&-
	fi
	rm -f "$ctl.in" "$ctl.out"
	mkfifo "$ctl.in" "$ctl.out" || fail "mkfifo $ctl"
	# Read-write: opening a FIFO so never blocks, whether or not QEMU has it open yet.
	exec {fd_r}<>"$ctl.out" {fd_w}<>"$ctl.in"
	GUEST_R[$g]=$fd_r
	GUEST_W[$g]=$fd_w
	cpu=max
	[ "$accel" = kvm ] && cpu=host
	bg_start "$SN_TMP/$g.qemu.log" "$node" qemu-system-x86_64 \
		-accel "$accel" -cpu "$cpu" -machine q35 -smp 1 -m 256M \
		-display none -no-reboot -nodefaults \
		-kernel "$QEMU_KERNEL" -initrd "$QEMU_INITRD" \
		-append "console=ttyS0 panic=-1 sn.lifetime=$SN_QEMU_LIFETIME" \
		-chardev "file,id=con,path=${LOG[$g]}" -serial chardev:con \
		-chardev "pipe,id=ctl,path=$ctl" -serial chardev:ctl \
		-device virtio-rng-pci \
		-netdev "tap,id=n0,ifname=${GUEST_TAP[$g]},script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=${GUEST_MAC[$g]}"
	GUEST_PID[$g]=$BG_PID
	GUEST_ACCEL[$g]=$accel
	deadline=$((SECONDS + wait_s))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if IFS= read -r -t 1 -u "${GUEST_R[$g]}" line; then
			[ "$line" = "@@READY" ] && return 0
		elif ! kill -0 "${GUEST_PID[$g]}" 2>/dev/null; then
			break
		fi
	done
	stop_pid "${GUEST_PID[$g]}"
	# Kept for the report; the next attempt starts a new console log.
	cat "${LOG[$g]}" "$SN_TMP/$g.qemu.log" >"${LOG[$g]}.$accel" 2>/dev/null
	return 1
}

guest_start() {
	local node=$1 g=$2 t0=$SECONDS accel=${SN_QEMU_ACCEL:-} out
	if [ -z "$accel" ] && [ -w /dev/kvm ]; then
		# A paravirtual /dev/kvm may open fine and still not run a stock kernel: give it
		# 20 s, then emulate.
		_guest_boot "$node" "$g" kvm 20 || {
			say "KVM did not boot the guest ($(tail -n 1 "$SN_TMP/$g.qemu.log" 2>/dev/null)); trying TCG"
			_guest_boot "$node" "$g" tcg 90
		} || fail "guest $g did not boot with TCG within 90 s"
	elif [ "$accel" = kvm ]; then
		_guest_boot "$node" "$g" kvm 60 || fail "guest $g did not boot with KVM within 60 s"
	else
		_guest_boot "$node" "$g" tcg 90 || fail "guest $g did not boot with TCG within 90 s"
	fi
	ok "guest $g booted with ${GUEST_ACCEL[$g]} in $((SECONDS - t0)) s ($(guest_run "$g" 'uname -r'))"
	out=$(guest_run "$g" "ip link set eth0 up &&
		ip addr add ${UL4[$g]}/24 dev eth0 &&
		ip addr add ${UL6[$g]}/64 dev eth0 nodad" 2>&1) ||
		fail "guest $g: underlay addresses on eth0: $out"
}

# guest_run G CMD [TIMEOUT]: CMD's output and exit status; 124 and a message when no answer
# came within TIMEOUT seconds (default 60: TCG is slow).  Usable in $(...): the request is
# named by the calling shell's PID and a random number, so answers cannot be mixed up.
guest_run() {
	local g=$1 cmd=$2 wait_s=${3:-60} id="$BASHPID.$RANDOM$RANDOM" line deadline
	[[ $cmd == *$'\n'* ]] && cmd=${cmd//$'\n'/ }
	printf '%s\t%s\n' "$id" "$cmd" >&"${GUEST_W[$g]}" || return 125
	deadline=$((SECONDS + wait_s))
	while [ "$SECONDS" -le "$deadline" ]; do
		if IFS= read -r -t 1 -u "${GUEST_R[$g]}" line; then
			case $line in
			"@@END $id "*) return "${line##* }" ;;
			"@@END "*) ;; # the end of an answer that came too late
			*) printf '%s\n' "$line" ;;
			esac
		elif ! kill -0 "${GUEST_PID[$g]}" 2>/dev/null; then
			echo "guest_run: guest $g is gone" >&2
			return 125
		fi
	done
	echo "guest_run: no answer from guest $g within $wait_s s to: $cmd" >&2
	return 124
}

# guest_put G FILE: stdin (text) into FILE in the guest, through base64.
guest_put() {
	guest_run "$1" "echo $(base64 -w 0) | base64 -d >$2"
}

guest_wg_up() {
	local g=$1 conf=$2
	guest_put "$g" /tmp/wg.conf <"$conf" || fail "guest $g: writing $conf"
	guest_run "$g" "ip link del wg0 2>/dev/null; ip link add wg0 type wireguard &&
		wg setconf wg0 /tmp/wg.conf &&
		ip addr add ${OV4[$g]}/24 dev wg0 && ip addr add ${OV6[$g]}/64 dev wg0 nodad &&
		ip link set wg0 mtu ${GUEST_MTU:-1420} up" || fail "guest $g: wg0 from $conf"
}

# guest_stop G: asks the guest to power off; QEMU must exit 0 within 10 s.
guest_stop() {
	local g=$1
	guest_run "$g" poweroff 10 >/dev/null
	for _ in $(seq 100); do
		kill -0 "${GUEST_PID[$g]}" 2>/dev/null || break
		sleep 0.1
	done
	stop_pid "${GUEST_PID[$g]}"
	[ "$STOP_RC" = 0 ] || fail "guest $g: QEMU exited with $STOP_RC"
}
