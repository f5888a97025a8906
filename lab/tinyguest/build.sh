#!/usr/bin/env bash
# A tiny diskless guest for proving that a dom0 can run guests: a ~1 MB busybox initramfs, booted as a PV
# (or PVH) guest with dom0's own kernel (LAB-NOTES: `xl create` in ~7 s, init 4 s later). Built on the
# control node, never inside a TCG dom0. It prints XENFLEET-TINYGUEST-UP on its console, brings up eth0
# with the address given on the kernel command line (xenfleet_ip=ADDR/PREFIX), and powers off cleanly
# on `xl shutdown` (unless its command line has xenfleet_noshutdown).
# Debian's kernel has the network frontend as a module (CONFIG_XEN_NETDEV_FRONTEND=m): without it the guest
# has no eth0. Give the kernel's xen-netfront.ko (of the very kernel the guest boots: dom0's, fetched from the
# dom0) and it is insmod'ed at boot; .ko.xz (Debian 13) is decompressed here.
#   usage: build.sh OUTPUT.cpio.gz [MODULE.ko[.xz]...]      needs: busybox-static, cpio, gzip (xz for .ko.xz)
set -euo pipefail
out=$1; shift
bb=$(command -v busybox) || { echo "build.sh: busybox-static is missing (apt-get install busybox-static)" >&2; exit 1; }
root=$(mktemp -d); trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,proc,sys,dev,etc/init.d,tmp,root,lib/modules}
cp "$bb" "$root/bin/busybox"
for mod in "$@"; do
  case $mod in
    *.ko.xz) xz -dc "$mod" > "$root/lib/modules/$(basename "$mod" .xz)" ;;
    *.ko) cp "$mod" "$root/lib/modules/" ;;
    *) echo "build.sh: not a kernel module: $mod" >&2; exit 1 ;;
  esac
done
for app in sh ash mount umount ip ping sleep cat echo hostname mkdir ls sed grep insmod true; do
  ln -s busybox "$root/bin/$app"
done
for app in init poweroff reboot halt; do ln -s ../bin/busybox "$root/sbin/$app"; done
cat > "$root/etc/inittab" <<'T'
::sysinit:/etc/init.d/rcS
::respawn:/bin/sh
::shutdown:/bin/echo XENFLEET-TINYGUEST-DOWN
T
cat > "$root/etc/init.d/rcS" <<'T'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
hostname "$(sed -n 's/.*xenfleet_name=\([^ ]*\).*/\1/p' /proc/cmdline)"
# xenfleet_noshutdown: the guest ignores `xl shutdown` (the kernel runs /bin/true instead of poweroff), for
# tests of a shutdown that times out
grep -q xenfleet_noshutdown /proc/cmdline && echo /bin/true > /proc/sys/kernel/poweroff_cmd
for m in /lib/modules/*.ko; do [ -e "$m" ] && insmod "$m"; done
i=0; while [ ! -e /sys/class/net/eth0 ] && [ -n "$(ls /lib/modules)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
ip link set lo up
addr=$(sed -n 's/.*xenfleet_ip=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$addr" ] && [ -e /sys/class/net/eth0 ]; then ip link set eth0 up; ip addr add "$addr" dev eth0; fi
echo "XENFLEET-TINYGUEST-UP $(hostname) ${addr:-no-address}"
T
chmod 0755 "$root/etc/init.d/rcS"
ln -s sbin/init "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) > "$out.tmp"
mv "$out.tmp" "$out"
echo "tiny guest initramfs: $out ($(du -h "$out" | cut -f1))"
