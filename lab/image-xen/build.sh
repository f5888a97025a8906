#!/usr/bin/env bash
# Build a Xen-ready lab image ("bookworm-xen", "trixie-xen"): the bare image (lab/image) plus, already
# installed without Recommends, the packages the collection's roles would install on a lab host. The
# package list is derived from the roles' vars files and the lab's group_vars by lab/xenlab/xenready.py
# and passed here as arguments, so it cannot drift from the roles.
#
# Still a bare host: GRUB boots plain Linux by default. Debian's xen-hypervisor-common ships
# /etc/default/grub.d/xen.cfg, which makes "Debian GNU/Linux, with Xen hypervisor" GRUB's default unless
# XEN_OVERRIDE_GRUB_DEFAULT is set; this layer sets it to 0. The Xen command line, the Xen default entry and
# the reboot into Xen stay the hypervisor role's job (its template replaces that file, update-grub runs,
# the host reboots into Xen, the role verifies).
#
# usage: build.sh NAME BASE.qcow2 OUTPUT.qcow2 WORKDIR PACKAGE...
# Called by `xenlab image build NAME`; the cache key is the bare image's recipe hash, this directory and
# the package list.
set -euo pipefail
name=$1 base=$2 out=$3 work=$4; shift 4
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || { echo "build.sh: no packages given" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)

log() { printf '[image %s] %s\n' "$name" "$*"; }
root=$work/rootfs raw=$work/disk.raw
rm -rf "$work"; mkdir -p "$root"

cleanup() {
  for m in dev/pts dev proc sys ""; do mountpoint -q "$root/$m" && umount -l "$root/$m"; done
  return 0
}
trap cleanup EXIT

mount_root() {  # the image's only partition starts at sector 2048 (lab/image/build.sh)
  mount -o loop,offset=$((2048 * 512)) "$raw" "$root"
}

log "copying the bare image $(basename "$base")"
qemu-img convert -O raw "$base" "$raw"
mount_root
[ -f "$root/usr/local/sbin/xenlab-finalize" ] || { log "$base is not a bare lab image"; exit 1; }
mount -t proc proc "$root/proc"; mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"; mount --bind /dev/pts "$root/dev/pts"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod 0755 "$root/usr/sbin/policy-rc.d"

log "installing (no Recommends): ${pkgs[*]}"
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q update > "$work/apt.log" 2>&1 \
  || { tail -30 "$work/apt.log"; exit 1; }
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends \
  -o Dpkg::Options::=--force-confold install "${pkgs[@]}" \
  >> "$work/apt.log" 2>&1 || { tail -30 "$work/apt.log"; exit 1; }
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' "${pkgs[@]}" | sed "s/^/[image $name]   /"

log "keeping GRUB's default on bare Linux (XEN_OVERRIDE_GRUB_DEFAULT=0 in /etc/default/grub.d/xen.cfg)"
xencfg=$root/etc/default/grub.d/xen.cfg
grep -q '^#XEN_OVERRIDE_GRUB_DEFAULT=$' "$xencfg" \
  || { log "$xencfg has no '#XEN_OVERRIDE_GRUB_DEFAULT=' line: Debian's xen.cfg changed, check this recipe"; exit 1; }
sed -i 's/^#XEN_OVERRIDE_GRUB_DEFAULT=$/XEN_OVERRIDE_GRUB_DEFAULT=0  # xenlab Xen-ready image: the hypervisor role decides/' "$xencfg"

# Same hygiene as the bare image: no per-host identity, no package lists, no logs
rm -f "$root"/etc/ssh/ssh_host_* "$root/var/lib/dbus/machine-id" "$root/usr/sbin/policy-rc.d"
: > "$root/etc/machine-id"
mkdir -p "$root/var/lib/xenlab"
printf '%s\n' "${pkgs[@]}" > "$root/var/lib/xenlab/xen-ready-packages"
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/tmp/* "$root"/var/log/*.log
kernel=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -1)
initrd=$(ls "$root"/boot/initrd.img-* | sort -V | tail -1)
cp "$kernel" "$work/vmlinuz"; cp "$initrd" "$work/initrd.img"
cleanup

# update-grub needs the real disk (grub-probe), so it runs in a throw-away boot, as for the bare image
log "first boot (direct kernel) to regenerate GRUB's configuration"
timeout 600 qemu-system-x86_64 -accel tcg -cpu max,-smap -m 1024 -smp 1 -display none -no-reboot \
  -drive "file=$raw,if=virtio,format=raw" -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
  -append "root=/dev/vda1 rw console=ttyS0,115200 init=/usr/local/sbin/xenlab-finalize" \
  -serial "file:$work/finalize.log" -net none || true
grep -q XENLAB-FINALIZE-OK "$work/finalize.log" || { tail -30 "$work/finalize.log"; log "GRUB failed"; exit 1; }

log "checking GRUB: bare Linux first and default, a Xen entry present"
mount_root
grubcfg=$root/boot/grub/grub.cfg
first=$(grep -m1 -o "^menuentry '[^']*'" "$grubcfg" || true)
grep -q '^menuentry .*with Xen hypervisor' "$grubcfg" || { log "no Xen entry in grub.cfg"; exit 1; }
grep -q '^   set default="0"' "$grubcfg" || { log "grub.cfg's default is not entry 0: $(grep -m1 'set default' "$grubcfg")"; exit 1; }
case $first in *Xen*|"") log "GRUB's first entry is not bare Linux: $first"; exit 1 ;; esac
log "GRUB default: $first"
cleanup

log "converting to qcow2"
qemu-img convert -O qcow2 "$raw" "$out.tmp"
mv "$out.tmp" "$out"
rm -rf "$raw" "$root"
log "done: $out ($(du -h "$out" | cut -f1))"
