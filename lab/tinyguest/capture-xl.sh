#!/bin/sh
# Run on a real lab dom0 to capture `xl` output for the unit-test fixtures (see tests/unit/.../fixtures).
# usage: capture-xl.sh OUTDIR   (expects /root/tiny.cpio.gz from lab/tinyguest/build.sh)
set -u
out=$1; mkdir -p "$out"; cd "$out" || exit 1
k=$(ls /boot/vmlinuz-* | sort -V | tail -1)
cap() { name=$1; shift; "$@" > "$name.out" 2> "$name.err"; echo $? > "$name.rc"; echo "$name: $*" >> README; }
echo "Captured on $(hostname) ($(. /etc/os-release; echo "$PRETTY_NAME"), $(xl info | sed -n 's/^xen_version *: //p'), $(date -u +%FT%TZ)) by lab/tinyguest/capture-xl.sh; NAME: command" > README
cap xl_info xl info
cap xl_list xl list
cap xl_list_l xl list -l
cap xl_vcpu_list xl vcpu-list
cap xl_sched_credit2 xl sched-credit2
cap xl_sched_credit xl sched-credit
cap err_list_missing xl list nosuch
cap err_destroy_missing xl destroy nosuch
cap err_shutdown_missing xl shutdown nosuch
cap err_memset_missing xl mem-set nosuch 64m
cap err_create_nofile xl create /etc/xen/nosuch.cfg
printf 'name = "bad"\nmemory = 128\nkernel = "/x"\nthis is not valid\n' > /tmp/bad.cfg
cap err_create_syntax xl create /tmp/bad.cfg
printf 'name = "toobig"\ntype = "pv"\nmemory = 60000\nkernel = "%s"\nramdisk = "/root/tiny.cpio.gz"\n' "$k" > /tmp/big.cfg
cap err_create_nomem xl create /tmp/big.cfg
cat > /etc/xen/capture-pv.cfg <<C
name = "capture-pv"
type = "pv"
memory = 128
maxmem = 256
vcpus = 1
kernel = "$k"
ramdisk = "/root/tiny.cpio.gz"
extra = "console=hvc0 xenfleet_name=capture-pv"
vif = [ "mac=00:16:3e:00:00:01" ]
on_crash = "destroy"
C
cap create_pv xl create /etc/xen/capture-pv.cfg
sleep 8
cap xl_list_guest xl list
cap xl_list_l_guest xl list -l
cap xl_list_l_one xl list -l capture-pv
cap xl_vcpu_list_guest xl vcpu-list capture-pv
cap xl_memset xl mem-set capture-pv 96m
sleep 2
cap xl_list_after_memset xl list capture-pv
cap xl_pause xl pause capture-pv
cap xl_list_paused xl list capture-pv
cap xl_unpause xl unpause capture-pv
cap err_create_duplicate xl create /etc/xen/capture-pv.cfg
cap xl_sched_credit2_guest xl sched-credit2 -d capture-pv
cap xl_console timeout 3 xl console capture-pv
cap xl_shutdown_wait timeout 60 xl shutdown -w capture-pv
cap xl_list_after_shutdown xl list
rm -f /etc/xen/capture-pv.cfg
ls
