#!/bin/sh
# Run on a real lab dom0 to capture `xl` output for the unit-test fixtures (see tests/unit/.../fixtures).
# usage: capture-xl.sh OUTDIR [PEER]   (expects /root/tiny.cpio.gz from lab/tinyguest/build.sh)
#   PEER: the migration address of another lab dom0 whose migration trust accepts this host (the dom0 role):
#   then live migrations are captured too: a pv guest (fails when Xen has no shadow paging, as Debian 12's
#   4.17.7: "Failed to enable logdirty"), a pvh guest (succeeds; it stays on PEER afterwards: shut it down
#   there), and a pvh guest bigger than PEER's free memory (fails at the target, resumed here).
set -u
out=$1; peer=${2:-}; mkdir -p "$out"; cd "$out" || exit 1
k=$(ls /boot/vmlinuz-* | sort -V | tail -1)
cap() { name=$1; shift; "$@" > "$name.out" 2> "$name.err"; echo $? > "$name.rc"; echo "$name: $*" >> README; }
echo "Captured on $(hostname) ($(. /etc/os-release; echo "$PRETTY_NAME"), $(xl info | sed -n 's/^xen_version *: //p'), $(date -u +%FT%TZ)) by lab/tinyguest/capture-xl.sh; NAME: command" > README
cap xl_info xl info
cap xl_list xl list
cap xl_list_l xl list -l
cap xl_vcpu_list xl vcpu-list
cap xl_sched_credit2 xl sched-credit2
cap xl_sched_credit xl sched-credit
cap xl_uptime xl uptime
cap err_list_missing xl list nosuch
cap err_destroy_missing xl destroy nosuch
cap err_shutdown_missing xl shutdown nosuch
cap err_memset_missing xl mem-set nosuch 64m
cap err_create_nofile xl create /etc/xen/nosuch.cfg
printf 'name = "bad"\nmemory = 128\nkernel = "/x"\nthis is not valid\n' > /tmp/bad.cfg
cap err_create_syntax xl create /tmp/bad.cfg
printf 'name = "toobig"\ntype = "pv"\nmemory = 60000\nkernel = "%s"\nramdisk = "/root/tiny.cpio.gz"\n' "$k" > /tmp/big.cfg
cap err_create_nomem xl create /tmp/big.cfg
# A pvh guest whose memory cannot even hold its kernel (the guest is too small, not the host)
printf 'name = "toosmall"\ntype = "pvh"\nmemory = 32\nkernel = "%s"\nramdisk = "/root/tiny.cpio.gz"\ntsc_mode = "native"\n' "$k" > /tmp/small.cfg
cap err_create_kernel_too_big xl create /tmp/small.cfg
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
cap xl_list_one xl list capture-pv
cap xl_uptime_guest xl uptime capture-pv
cap xl_list_l_guest xl list -l
cap xl_list_l_one xl list -l capture-pv
cap xl_vcpu_list_guest xl vcpu-list capture-pv
cap xl_memset xl mem-set capture-pv 96m
sleep 2
cap xl_list_after_memset xl list capture-pv
cap xl_list_l_after_memset xl list -l capture-pv
cap xl_memmax xl mem-max capture-pv 200m
cap xl_list_l_after_memmax xl list -l capture-pv
cap err_memmax_below xl mem-max capture-pv 16m
cap xl_vcpu_set xl vcpu-set capture-pv 1
cap err_vcpu_set_above xl vcpu-set capture-pv 4
cap xl_vcpu_pin xl vcpu-pin capture-pv all 0
cap xl_vcpu_list_after_pin xl vcpu-list capture-pv
cap xl_sched_credit2_set xl sched-credit2 -d capture-pv -w 512 -c 50
cap xl_sched_credit2_after_set xl sched-credit2 -d capture-pv
cap xl_list_l_after_set xl list -l capture-pv
xl sched-credit2 -d capture-pv -w 256 -c 0  # back to the defaults for xl_sched_credit2_guest below
cap xl_pause xl pause capture-pv
cap xl_list_paused xl list capture-pv
cap xl_unpause xl unpause capture-pv
cap err_create_duplicate xl create /etc/xen/capture-pv.cfg
cap xl_sched_credit2_guest xl sched-credit2 -d capture-pv
cap xl_console timeout 3 xl console capture-pv
mkdir -p /var/lib/xen/save
rm -f /var/lib/xen/save/capture-pv.save
cap xl_save timeout 120 xl save capture-pv /var/lib/xen/save/capture-pv.save
cap xl_list_after_save xl list
cap err_save_missing xl save nosuch /var/lib/xen/save/nosuch.save
cap err_restore_missing xl restore /var/lib/xen/save/nosuch.save
cap xl_restore timeout 120 xl restore /var/lib/xen/save/capture-pv.save
sleep 2
cap xl_list_after_restore xl list capture-pv
rm -f /var/lib/xen/save/capture-pv.save
cap xl_shutdown_nowait xl shutdown capture-pv
cap xl_list_shutting_down xl list capture-pv
sleep 10
cap xl_list_after_shutdown_nowait xl list capture-pv
cap xl_destroy xl destroy capture-pv
cap create_pv_again xl create /etc/xen/capture-pv.cfg
sleep 8
cap xl_shutdown_wait timeout 60 xl shutdown -w capture-pv
cap xl_list_after_shutdown xl list
if [ -n "$peer" ]; then
  # The migration trust: the peer's forced command refuses anything but xl migrate-receive
  cap ssh_probe_refused ssh -o BatchMode=yes -o ConnectTimeout=15 "$peer" true
  cap ssh_probe_unreachable ssh -o BatchMode=yes -o ConnectTimeout=5 -o UserKnownHostsFile=/dev/null "$peer" true
  # ssh ends its messages with CRLF, which the repository does not take: keep the LF
  tr -d '\r' < ssh_probe_unreachable.err > ssh_probe_unreachable.tmp && mv ssh_probe_unreachable.tmp ssh_probe_unreachable.err
  sed -i 's/^\(ssh_probe_unreachable: .*\)$/\1 (CR of the CRLF line ends removed)/' README
  cap create_pv_migrate xl create /etc/xen/capture-pv.cfg
  sleep 8
  cap err_migrate_pv_nologdirty timeout 600 xl migrate capture-pv "$peer"
  cap xl_list_after_pv_migrate xl list capture-pv
  xl destroy capture-pv 2>/dev/null
  # PVH under QEMU/TCG needs tsc_mode = "native" (LAB-NOTES); maxmem = memory (no populate-on-demand)
  sed -e 's/capture-pv/capture-pvh/g' -e 's/^type = .*/type = "pvh"/' -e 's/^maxmem = .*/maxmem = 128/' \
      -e 's/00:16:3e:00:00:01/00:16:3e:00:00:03/' /etc/xen/capture-pv.cfg > /etc/xen/capture-pvh.cfg
  echo 'tsc_mode = "native"' >> /etc/xen/capture-pvh.cfg
  cap create_pvh xl create /etc/xen/capture-pvh.cfg
  sleep 8
  cap xl_list_pvh xl list capture-pvh
  cap xl_list_l_pvh xl list -l capture-pvh
  cap xl_migrate timeout 600 xl migrate capture-pvh "$peer"
  cap xl_list_after_migrate xl list
  # A guest bigger than the peer's free memory (the peer now holds capture-pvh): the receiver cannot
  # build it, the sender resumes it here
  free=$(xl info | sed -n 's/^free_memory *: //p')
  big=$((free - 48))
  sed -e 's/capture-pvh/capture-big/g' -e "s/^memory = .*/memory = $big/" -e "s/^maxmem = .*/maxmem = $big/" \
      -e 's/00:16:3e:00:00:03/00:16:3e:00:00:02/' /etc/xen/capture-pvh.cfg > /etc/xen/capture-big.cfg
  cap create_big xl create /etc/xen/capture-big.cfg
  sleep 8
  cap err_migrate_nomem timeout 600 xl migrate capture-big "$peer"
  cap xl_list_after_failed_migrate xl list capture-big
  xl destroy capture-big 2>/dev/null
  rm -f /etc/xen/capture-big.cfg /etc/xen/capture-pvh.cfg
  echo "note: capture-pvh now runs on $peer: shut it down there" >&2
fi
rm -f /etc/xen/capture-pv.cfg
ls
