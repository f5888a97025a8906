#!/usr/bin/env bash
# The fleet scenario's probe guest: a busybox initramfs booted as a PVH guest with Domain-0's own kernel, plus
# the few modules of that kernel it needs (Debian builds xen-netfront, xen-blkfront and ext4 as modules). At boot
# it brings up eth0 (xenfleet_ip=ADDR/PREFIX on the kernel command line), mounts its disk /dev/xvda, writes
# /marker there once (a random UUID: the disk's identity), appends a line to /heartbeat every second with a sync
# (the disk is written while the guest moves), and serves the disk's files over HTTP (busybox httpd), so that the
# tests read /marker and /heartbeat from any Domain-0. It never formats a disk that has a file system.
#   usage: build-probe-guest.sh MODULES.tgz OUTPUT.cpio.gz
#   MODULES.tgz: /lib/modules/<release>/ of Domain-0's kernel, with at least modules.dep and the modules below
#   needs: busybox-static, cpio, gzip, tar
set -euo pipefail
modules=$1 out=$2
bb=$(command -v busybox) || { echo "build-probe-guest.sh: busybox-static is missing" >&2; exit 1; }
root=$(mktemp -d); trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,proc,sys,dev,etc/init.d,tmp,mnt,run,lib/modules,src}
cp "$bb" "$root/bin/busybox"
for app in sh ash mount umount ip ping sleep cat echo hostname mkdir ls sed grep insmod mke2fs httpd date sync \
           dd od tr uname; do
  ln -s busybox "$root/bin/$app"
done
for app in init poweroff reboot halt; do ln -s ../bin/busybox "$root/sbin/$app"; done

# The modules, in dependency order (modules.dep of the same kernel), uncompressed
tar -xzf "$modules" -C "$root/src"
n=0
for name in xen-netfront xen-blkfront crc16 mbcache jbd2 crc32c_generic ext4; do
  path=$(grep -oE "^[^:]*/${name}\.ko(\.xz|\.zst|\.gz)?:" "$root/src/modules.dep" | head -1 | tr -d :)
  if [ -z "$path" ] || [ ! -f "$root/src/$path" ]; then
    echo "build-probe-guest.sh: $name is not in $modules" >&2; exit 1
  fi
  n=$((n + 1))
  case "$path" in
    *.xz) xz -dc "$root/src/$path" > "$root/lib/modules/$n-$name.ko" ;;
    *.zst) zstd -qdc "$root/src/$path" > "$root/lib/modules/$n-$name.ko" ;;
    *.gz) gzip -dc "$root/src/$path" > "$root/lib/modules/$n-$name.ko" ;;
    *) cp "$root/src/$path" "$root/lib/modules/$n-$name.ko" ;;
  esac
done
rm -rf "$root/src"

cat > "$root/etc/inittab" <<'T'
::sysinit:/etc/init.d/rcS
::respawn:/bin/sh
::shutdown:/bin/sh -c 'kill $(cat /run/*.pid) 2>/dev/null; sleep 1; sync; umount /mnt && echo XENFLEET-PROBE-DOWN clean'
T
cat > "$root/etc/init.d/rcS" <<'T'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
for m in /lib/modules/*.ko; do insmod "$m" 2>/dev/null; done
hostname "$(sed -n 's/.*xenfleet_name=\([^ ]*\).*/\1/p' /proc/cmdline)"
ip link set lo up
addr=$(sed -n 's/.*xenfleet_ip=\([^ ]*\).*/\1/p' /proc/cmdline)
for i in 1 2 3 4 5 6 7 8 9 10; do [ -e /sys/class/net/eth0 ] && break; sleep 1; done
if [ -n "$addr" ] && [ -e /sys/class/net/eth0 ]; then ip link set eth0 up; ip addr add "$addr" dev eth0; fi
disk=none
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/xvda ] && break; sleep 1; done
if [ -b /dev/xvda ]; then
  # ext2/3/4 magic 0xef53 at byte 1080: never format a disk that has one
  magic=$(dd if=/dev/xvda bs=1 skip=1080 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')
  [ "$magic" = "53ef" ] || mke2fs -q /dev/xvda
  if mount -t ext4 /dev/xvda /mnt; then
    [ -s /mnt/marker ] || { cat /proc/sys/kernel/random/uuid > /mnt/marker; sync; }
    echo "boot $(date +%s) $(hostname)" >> /mnt/boots; sync
    mkdir -p /run
    ( while :; do echo "$(date +%s) $(hostname)" >> /mnt/heartbeat; sync; sleep 1; done ) &
    echo $! > /run/heartbeat.pid
    httpd -f -p 80 -h /mnt &
    echo $! > /run/httpd.pid
    disk="xvda marker $(cat /mnt/marker)"
  else
    disk="xvda UNMOUNTABLE"
  fi
fi
echo "XENFLEET-PROBE-UP $(hostname) ${addr:-no-address} disk: $disk"
T
chmod 0755 "$root/etc/init.d/rcS"
ln -s sbin/init "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) > "$out.tmp"
mv "$out.tmp" "$out"
echo "probe guest initramfs: $out ($(du -h "$out" | cut -f1), $n modules)"
