#!/usr/bin/env bash
# Makes what the QEMU guest of tests/netns/46-linux-module.sh boots, in DIR (default
# build/qemu), and prints the paths as shell assignments:
#
#	QEMU_KERNEL=DIR/kernel/boot/vmlinuz-VERSION
#	QEMU_INITRD=DIR/initramfs.cpio.gz
#
# 1. Debian's cloud kernel: the package that linux-image-cloud-amd64 depends on (or
#    SN_QEMU_KERNEL_PKG=linux-image-...), fetched with `apt-get download` and unpacked with
#    dpkg-deb -x into DIR/kernel, never installed.  Done once: DIR/kernel/.package names what
#    is there, and nothing is fetched while it exists (rm -rf DIR to take a newer kernel).
# 2. The initramfs (tests/qemu/mkinitramfs.sh), made again when it is older than its inputs.
#
# Exit 0 with the assignments; exit 2, with the reason on stderr, when something it needs
# cannot be had (no apt-get, the package cannot be downloaded): the scenario skips then.
# Any other failure is 1.
set -eu -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=${1:-$root/build/qemu}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# One preparation at a time (two scenarios, or make and a scenario).
exec 9>"$dir/.lock"
flock -w 300 9 || { echo "prepare: $dir/.lock held for 300 s" >&2; exit 1; }

cannot() {
	echo "prepare: $*" >&2
	exit 2
}

fetch_kernel() {
	local pkg=${SN_QEMU_KERNEL_PKG:-} tmp deb
	command -v apt-get >/dev/null || cannot "no apt-get: cannot fetch Debian's kernel package"
	if [ -z "$pkg" ]; then
		pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n 1)
		if [ -z "$pkg" ]; then
			# The package lists may not be there yet on a fresh machine.
			apt-get update -q >&2 || cannot "apt-get update failed"
			pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
				sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n 1)
		fi
		[ -n "$pkg" ] || cannot "apt-cache knows no linux-image-cloud-amd64 (not Debian amd64?)"
	fi
	echo "prepare: fetching $pkg (apt-get download, not installed)" >&2
	tmp=$(mktemp -d "$dir/fetch.XXXXXX")
	# apt's download user cannot write into a root-only directory: it warns and goes on as
	# root, which is what is wanted here.
	if ! (cd "$tmp" && apt-get download -q "$pkg" >&2 2>"$tmp/apt.err"); then
		cat "$tmp/apt.err" >&2
		rm -rf "$tmp"
		cannot "apt-get download $pkg failed"
	fi
	deb=$(echo "$tmp"/*.deb)
	mkdir "$tmp/root"
	dpkg-deb -x "$deb" "$tmp/root"
	basename "$deb" >"$tmp/root/.deb"
	echo "$pkg" >"$tmp/root/.package"
	rm -rf "$dir/kernel"
	mv "$tmp/root" "$dir/kernel"
	rm -rf "$tmp"
}

[ -s "$dir/kernel/.package" ] || fetch_kernel
vmlinuz=$(echo "$dir"/kernel/boot/vmlinuz-*)
[ -f "$vmlinuz" ] || { echo "prepare: no vmlinuz in $dir/kernel (rm -rf $dir and retry)" >&2; exit 1; }

initrd=$dir/initramfs.cpio.gz
stale=0
[ -s "$initrd" ] || stale=1
for f in "$here/mkinitramfs.sh" "$here/init" "$dir/kernel/.package" \
	/usr/bin/wg /usr/bin/iperf3 /usr/bin/ping /usr/bin/busybox "$(command -v ip)"; do
	[ "$f" -nt "$initrd" ] && stale=1
done
if [ "$stale" = 1 ]; then
	"$here/mkinitramfs.sh" "$dir/kernel" "$initrd.tmp" >&2
	mv "$initrd.tmp" "$initrd"
fi
echo "QEMU_KERNEL=$vmlinuz"
echo "QEMU_INITRD=$initrd"
