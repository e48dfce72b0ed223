#!/usr/bin/env bash
# mkinitramfs.sh KERNELDIR OUT: the guest's initramfs (gzip'd newc cpio) for the kernel
# unpacked in KERNELDIR (tests/qemu/prepare.sh does that).  It holds:
#
#	/init                 tests/qemu/init
#	/bin/busybox          busybox-static, with a link per applet
#	/usr/bin/wg ip ping iperf3   the host's wireguard-tools, iproute2 (wg needs `ip link add
#	                      type wireguard`, busybox's ip cannot), iputils (ping -M do: the DF
#	                      bit) and iperf3, with the shared libraries ldd names
#	/lib/modules/...      wireguard, virtio_net, virtio_pci, virtio-rng and what they
#	                      depend on, in load order in /etc/modules.load
set -eu -o pipefail

kdir=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
modules=(wireguard virtio_net virtio_pci virtio-rng)

die() {
	echo "mkinitramfs: $*" >&2
	exit 1
}

busybox=$(command -v busybox) || die "no busybox (Debian package busybox-static)"
# The guest has no libc for a dynamic busybox.
file_of() { od -An -c -j 1 -N 3 "$1" | tr -d ' '; }
[ "$(file_of "$busybox")" = ELF ] || die "$busybox is not an ELF binary"
if ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is dynamically linked: install busybox-static"
fi
command -v depmod >/dev/null || die "no depmod (Debian package kmod)"

version=$(basename "$(echo "$kdir"/lib/modules/*)")
[ -d "$kdir/lib/modules/$version/kernel" ] || die "no modules in $kdir/lib/modules"

stage=$(mktemp -d "${TMPDIR:-/tmp}/sn-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,lib/modules,lib64}

# busybox and its applets; the real tools below win (PATH puts /usr/bin first).
cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
	[ -e "$stage/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
done

# copy_bin PATH: a dynamically linked program and the libraries ldd lists, at their paths.
# Where busybox has an applet of the same name, /etc/profile.sn (which the guest's init
# sources before each request) names the program by its path: busybox's shell would run its
# own applet first, whatever PATH says.
: >"$stage/etc/profile.sn"
copy_bin() {
	local bin=$1 lib name
	[ -x "$bin" ] || die "$bin missing (make deps)"
	name=$(basename "$bin")
	cp -L "$bin" "$stage/usr/bin/"
	if [ -e "$stage/bin/$name" ]; then
		echo "$name() { /usr/bin/$name \"\$@\"; }" >>"$stage/etc/profile.sn"
	fi
	for lib in $(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		[ -e "$stage$lib" ] && continue
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
}
copy_bin "$(command -v wg)"
copy_bin "$(command -v ip)"
copy_bin "$(command -v ping)"
copy_bin "$(command -v iperf3)"

# The modules, their dependencies first: depmod writes modules.dep into the unpacked tree
# (the package has none), modprobe --show-depends gives the insmod order.
depmod -b "$kdir" "$version"
: >"$stage/etc/modules.load"
modprobe -d "$kdir" -S "$version" --show-depends -a "${modules[@]}" |
	awk '$1 == "insmod" && !seen[$2]++ { print $2 }' |
	while read -r ko; do
		rel=${ko#"$kdir/lib/modules/$version/"}
		[ "$rel" != "$ko" ] || die "module outside the tree: $ko"
		mkdir -p "$stage/lib/modules/$(dirname "$rel")"
		cp "$ko" "$stage/lib/modules/$rel"
		echo "$rel" >>"$stage/etc/modules.load"
	done
grep -q 'wireguard/wireguard.ko' "$stage/etc/modules.load" || die "wireguard.ko not found for $version"

install -m 0755 "$here/init" "$stage/init"
echo "root:x:0:0:root:/:/bin/sh" >"$stage/etc/passwd"
echo "root:x:0:" >"$stage/etc/group"

(cd "$stage" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
	"$busybox" cpio -o -H newc 2>/dev/null) | gzip -1 >"$out"
echo "mkinitramfs: $out ($(du -k "$out" | cut -f1) KiB, kernel $version,$(sed 's|.*/| |; s|\.ko$||' "$stage/etc/modules.load" | tr -d '\n'))"
