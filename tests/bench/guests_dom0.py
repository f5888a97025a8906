# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Domain-0 side of tests/bench/guests.py: time a guest from nothing (or from a ready disk) to SSH-ready.

Here, up to sshd's banner on the guest's address ("SSH-2.0-"), seen from this Domain-0 and polled every 0.5 s. Prints
one JSON object with the phases and the total, in seconds. The login that makes it SSH-ready, the same for every
path and the role's own, follows from the control node (tests/bench/guests.py).

  floor NAME IP                     boot a ready disk: xl create /etc/xen/NAME.cfg, until SSH-ready
  clone NAME IP VG TEMPLATE_LV DISK SIZE_MIB FIRSTBOOT
                                    our clone path without Ansible: xenfleet-guest clone (thin snapshot, grow,
                                    first-boot files), xl create /etc/xen/NAME.cfg, until SSH-ready
  spec NAME DEVICE OUT               write the first-boot spec of a guest the role made, read back from its disk
                                    (the role hands it to the clone on stdin and keeps no copy): the clone path
                                    without Ansible then writes the same files
  xentools NAME IP SUITE MIRROR
                                    xen-tools: xen-create-image with debootstrap (files in /var/lib/xen/images; the
                                    root key comes from /etc/xen-tools/skel, which xen-tools copies into the guest),
                                    xl create /etc/xen/NAME.cfg, until SSH-ready
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time


def crashed(name):
    """Whether the domain is in xl's crashed state (it is created with on_crash="preserve", so it stays so)."""
    proc = subprocess.run(['xl', 'list', name], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          universal_newlines=True, check=False)
    rows = proc.stdout.splitlines()[1:] if proc.returncode == 0 else []
    return bool(rows) and 'c' in rows[0].split()[4]


def capture_console(name, log):
    """Copy the domain's console (its pty in Domain-0, which xenstore names) into ``log`` while this runs: what a
    guest that fails to boot printed. The domain is created paused, so nothing of its boot is missed."""
    domid = subprocess.check_output(['xl', 'domid', name], universal_newlines=True).strip()
    tty = subprocess.check_output(['xenstore-read', '/local/domain/%s/console/tty' % domid],
                                  universal_newlines=True).strip()
    fd = os.open(tty, os.O_RDONLY | os.O_NOCTTY)
    subprocess.call(['stty', '-F', tty, 'raw', '-echo'])

    def copy():
        with open(log, 'wb', buffering=0) as out:
            while True:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return
                if not data:
                    return
                out.write(data)

    threading.Thread(target=copy, daemon=True).start()


def banner(ip, deadline, name=None, console=None):
    next_check = time.monotonic() + 15
    while time.monotonic() < deadline:
        if name and time.monotonic() >= next_check:  # a guest that crashed will never answer: say so at once
            next_check = time.monotonic() + 15
            if crashed(name):
                dmesg = subprocess.run(['xl', 'dmesg'], stdout=subprocess.PIPE, universal_newlines=True,
                                       check=False).stdout.splitlines()[-15:]
                said = ''
                if console and os.path.exists(console):
                    with open(console, 'rb') as f:
                        said = '\nthe end of its console (%s):\n%s' % (
                            console, '\n'.join(f.read().decode('utf-8', 'replace').splitlines()[-40:]))
                raise SystemExit('%s crashed while booting (kept by on_crash="preserve" for `xl dump-core`);'
                                 ' the end of xl dmesg:\n%s%s' % (name, '\n'.join(dmesg), said))
        try:
            with socket.create_connection((ip, 22), timeout=2) as s:
                s.settimeout(5)
                if s.recv(64).startswith(b'SSH-'):
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def run(argv, log='/var/tmp/bench-guests-step.log'):
    """Run argv with its output going to log as it comes (tail -f it on the Domain-0 to follow a long step)."""
    t0 = time.monotonic()
    with open(log, 'w') as f:
        rc = subprocess.call(argv, stdout=f, stderr=subprocess.STDOUT)
    if rc != 0:
        with open(log) as f:
            sys.stderr.write(f.read()[-4000:])
        raise SystemExit('%s failed (rc=%d), see %s' % (' '.join(argv), rc, log))
    return time.monotonic() - t0


# The files of the role's first-boot spec (roles/guests/templates/firstboot.json.j2) and their modes
SPEC_FILES = [('/etc/hostname', '0644'), ('/etc/hosts', '0644'), ('/etc/network/interfaces', '0644'),
              ('/etc/resolv.conf', '0644'), ('/boot/grub/grub.cfg', '0644'), ('/etc/ssh/ssh_host_ed25519_key', '0600'),
              ('/etc/ssh/ssh_host_ed25519_key.pub', '0644'), ('/root/.ssh/authorized_keys', '0600'),
              ('/etc/xenfleet/guest', '0644')]


def spec_from_disk(name, dev, out):
    mnt = '/run/xenfleet-bench-spec'
    os.makedirs(mnt, exist_ok=True)
    subprocess.check_call(['mount', '-o', 'ro,noload', dev, mnt])
    try:
        files = []
        for path, mode in SPEC_FILES:
            with open(mnt + path) as f:
                files.append({'path': path, 'mode': mode, 'content': f.read()})
    finally:
        subprocess.call(['umount', mnt])
    spec = {'guest': name, 'directories': [{'path': '/root/.ssh', 'mode': '0700'}], 'files': files, 'machine_id': True}
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        json.dump(spec, f)
    print(json.dumps({'spec': out, 'files': len(files)}))


def main(argv):
    if argv[0] == 'spec':
        return spec_from_disk(*argv[1:4])
    what, name, ip = argv[0], argv[1], argv[2]
    phases = {}
    t0 = time.monotonic()
    if what == 'clone':
        vg, tmpl, disk, size, spec = argv[3:8]
        phases['clone'] = run(['python3', '/usr/local/lib/xenfleet/xenfleet-guest', 'clone', '--vg=' + vg, '--template-lv=' + tmpl,
                               '--disk=' + disk, '--size-mib=' + size, '--firstboot=' + spec])
    elif what == 'xentools':
        suite, mirror = argv[3:5]
        phases['xen-create-image'] = run(
            ['xen-create-image', '--hostname=' + name, '--dist=' + suite, '--mirror=' + mirror,
             '--install-method=debootstrap', '--dir=/var/lib/xen/images', '--size=4G', '--memory=448M',
             '--vcpus=1', '--ip=' + ip, '--netmask=255.255.255.0', '--bridge=xenbr0',
             '--genpass=1', '--force', '--verbose'], log='/var/tmp/bench-xen-create-image.log')
        # What xen-tools 4.9.2 needs on Debian 12, found on the lab's xen1 (session 10, its console kept):
        # - 448M, not the role's 256M: its guest boots through pygrub with Debian's default initrd (MODULES=most,
        #   36 MB of zstd, which Xen's PV builder loads unpacked: 124 MB), and at 256M the kernel runs out of memory
        #   unpacking it ("System is deadlocked on memory": the crash loop of session 9);
        # - net.ifnames=0 on its kernel command line: its /etc/network/interfaces names eth0, and Debian 12 names a
        #   netfront enX0, so its network never comes up. pygrub appends the config's root and extra to menu.lst's.
        with open('/etc/xen/%s.cfg' % name, 'a') as f:
            f.write('extra = "net.ifnames=0"  # xenfleet bench: xen-tools writes eth0 into /etc/network/interfaces\n')
        # xen-create-image exits 0 when a hook's apt-get failed (seen on a control node: its 80-install-kernel ran
        # out of space after its cache step copied the host's apt cache into a 3G disk, and left no kernel): such
        # an image can never boot, so say so now. The size is the role's guests_disk_mib (4096); the layout is
        # xen-tools' default (swap xvda1, root xvda2, which its menu.lst names whatever the layout).
        with open('/var/tmp/bench-xen-create-image.log', errors='replace') as f:
            bad = [line.rstrip() for line in f
                   if 'enough free space' in line or 'No space left' in line or "cannot access '" in line]
        if bad:
            raise SystemExit('xen-create-image said rc 0, but its log has errors (/var/tmp/bench-xen-create-image.log):'
                             '\n' + '\n'.join(bad[-10:]))
    elif what != 'floor':
        raise SystemExit('unknown path %r' % what)
    # every path: a crash is kept (not restarted in a loop, as xen-tools' pygrub guest did in session 9)
    console = None
    if what == 'xentools':  # its console is kept (created paused, so that nothing of its boot is missed)
        console = '/var/tmp/bench-%s-console.log' % name
        phases['xl create'] = run(['xl', 'create', '-p', '/etc/xen/%s.cfg' % name, 'on_crash="preserve"'])
        capture_console(name, console)
        phases['xl create'] += run(['xl', 'unpause', name])
    else:
        phases['xl create'] = run(['xl', 'create', '/etc/xen/%s.cfg' % name, 'on_crash="preserve"'])
    t1 = time.monotonic()
    if not banner(ip, t1 + 900, name, console):
        raise SystemExit('%s did not answer on %s:22 within 900 s' % (name, ip))
    phases['boot to SSH banner'] = time.monotonic() - t1
    print(json.dumps({'path': what, 'guest': name, 'phases': {k: round(v, 1) for k, v in phases.items()},
                      'total': round(time.monotonic() - t0, 1)}))


if __name__ == '__main__':
    main(sys.argv[1:])
