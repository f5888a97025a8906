#!/usr/bin/env bash
# Build one bare-host image for the xenfleet lab: Debian from Debian's archive, booting through its own
# GRUB (BIOS/SeaBIOS) into the distribution's kernel. No Xen: turning the host into a Xen host is the
# job of the collection's roles. Per-host identity (hostname, machine-id, SSH host keys, addresses,
# root key) is applied at first boot from QEMU fw_cfg by xenlab-firstboot, so one image serves all hosts.
#
# usage: build.sh DISTRO OUTPUT.qcow2 WORKDIR
# Called by `xenlab image build`; the recipe hash (this directory) decides when the cache is stale.
set -euo pipefail
distro=$1 out=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
mirror=${XENLAB_MIRROR:-http://deb.debian.org/debian}
disk_gb=${XENLAB_IMAGE_GB:-8}

log() { printf '[image %s] %s\n' "$distro" "$*"; }
root=$work/rootfs
rm -rf "$work"; mkdir -p "$root"

cleanup() {
  for m in dev/pts dev proc sys; do mountpoint -q "$root/$m" && umount -l "$root/$m"; done
  return 0
}
trap cleanup EXIT

log "debootstrap $distro (minbase) from $mirror"
debootstrap --variant=minbase --include=ca-certificates,gnupg "$distro" "$root" "$mirror" \
  > "$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; exit 1; }

# Configuration that must exist before the kernel and initramfs are installed
mkdir -p "$root/etc/initramfs-tools/conf.d"
install -m 0644 "$here/files/initramfs-modules" "$root/etc/initramfs-tools/modules"
printf 'MODULES=list\nCOMPRESS=gzip\n' > "$root/etc/initramfs-tools/conf.d/xenlab.conf"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod 0755 "$root/usr/sbin/policy-rc.d"
install -m 0644 "$here/files/sources-$distro.sources" "$root/etc/apt/sources.list.d/debian.sources"
rm -f "$root/etc/apt/sources.list"
install -m 0644 "$here/files/apt-xenlab.conf" "$root/etc/apt/apt.conf.d/50xenlab"
echo "nameserver 10.0.2.3" > "$root/etc/resolv.conf"

mount -t proc proc "$root/proc"; mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"; mount --bind /dev/pts "$root/dev/pts"

log "installing kernel, GRUB, OpenSSH, Python and the network stack"
cat > "$root/tmp/debconf.txt" <<'DC'
grub-pc grub-pc/install_devices multiselect
grub-pc grub-pc/install_devices_empty boolean true
DC
chroot "$root" debconf-set-selections /tmp/debconf.txt
pkgs=$(grep -v '^#' "$here/files/packages" | tr '\n' ' ')
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q update > "$work/apt.log" 2>&1
# shellcheck disable=SC2086
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends \
  -o Dpkg::Options::=--force-confold install $pkgs \
  >> "$work/apt.log" 2>&1 || { tail -30 "$work/apt.log"; exit 1; }

log "configuring"
install -m 0644 "$here/files/grub-default" "$root/etc/default/grub"
install -m 0644 "$here/files/interfaces" "$root/etc/network/interfaces"
mkdir -p "$root/etc/network/interfaces.d"
echo "LABEL=xenroot / ext4 errors=remount-ro 0 1" > "$root/etc/fstab"
echo "xenlab" > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
install -m 0755 "$here/files/xenlab-firstboot" "$root/usr/local/sbin/xenlab-firstboot"
install -m 0755 "$here/files/xenlab-finalize" "$root/usr/local/sbin/xenlab-finalize"
install -m 0644 "$here/files/xenlab-firstboot.service" "$root/etc/systemd/system/xenlab-firstboot.service"
ln -sf /etc/systemd/system/xenlab-firstboot.service "$root/etc/systemd/system/multi-user.target.wants/xenlab-firstboot.service"
install -m 0644 "$here/files/sshd-xenlab.conf" "$root/etc/ssh/sshd_config.d/xenlab.conf"
# identity is per host: none of it may be baked into the image (LAB-NOTES: the dbus machine-id trap)
rm -f "$root"/etc/ssh/ssh_host_* "$root/var/lib/dbus/machine-id"
: > "$root/etc/machine-id"
rm -f "$root/usr/sbin/policy-rc.d"
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/tmp/* "$root"/var/log/*.log
cleanup

log "making a ${disk_gb}G disk (MBR, one ext4 partition)"
raw=$work/disk.raw part=$work/part.raw
truncate -s "${disk_gb}G" "$raw"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$raw"
sectors=$(( disk_gb * 1024 * 1024 * 2 - 2048 ))
truncate -s $(( sectors * 512 )) "$part"
mkfs.ext4 -q -L xenroot -d "$root" "$part"
dd if="$part" of="$raw" bs=1M seek=1 conv=sparse,notrunc status=none
rm -f "$part"

log "first boot (direct kernel) to install GRUB into the disk's MBR"
kernel=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -1)
initrd=$(ls "$root"/boot/initrd.img-* | sort -V | tail -1)
timeout 600 qemu-system-x86_64 -accel tcg -cpu max,-smap -m 1024 -smp 1 -display none -no-reboot \
  -drive "file=$raw,if=virtio,format=raw" -kernel "$kernel" -initrd "$initrd" \
  -append "root=/dev/vda1 rw console=ttyS0,115200 init=/usr/local/sbin/xenlab-finalize" \
  -serial "file:$work/finalize.log" -net none || true
grep -q XENLAB-FINALIZE-OK "$work/finalize.log" || { tail -30 "$work/finalize.log"; log "GRUB install failed"; exit 1; }

log "converting to qcow2"
qemu-img convert -O qcow2 "$raw" "$out.tmp"
mv "$out.tmp" "$out"
rm -rf "$raw" "$root"
log "done: $out ($(du -h "$out" | cut -f1))"
