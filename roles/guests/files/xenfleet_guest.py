# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""xenfleet_guest.py: the Domain-0 side of the role xenfleet.xen.guests (disks, never domains).

Installed in /usr/local/lib/xenfleet by the role and run by it through its launcher, as ``python3 xenfleet-guest
COMMAND ...`` (which keeps this module compiled in __pycache__), with argument lists; ``python3 xenfleet_guest.py
COMMAND ...`` works as well. Every command prints one JSON
object on stdout ({"changed": ..., ...}) and exits 0, or prints the error on stderr and exits non-zero.
It manages guest DISKS (LVM thin volumes) only: domains are the job of the module xenfleet.xen.xen_domain.

  survey --vg VG [--packages P,P] [--path PATH]... [--fact FILE] [--xl] [--expect-sha256 HEX]
                                      read-only, everything the role's placement needs from a Domain-0 in one
                                      run: the volume group's logical volumes with their tags, /etc/xen/*.cfg,
                                      which of the packages are not installed (and whether apt has package
                                      lists), what each PATH is (type, mode, sha256 of a file: the role's
                                      directories and tools), the JSON of a local fact file, and with --xl what
                                      `xl info` and `xl list` printed (rc, stdout, stderr), which the control
                                      node parses with the collection's xl parser; with --expect-sha256, exit 4
                                      at once unless this file has that sha256 (the role then runs its own copy)
  lock NAME TOKEN LEASE               take the guest's lease lock (exit 3 while another run holds it)
  unlock NAME TOKEN                   give it back (only the holder's token does)
  import --vg --pool --lv --image --sha256 --size-mib [--kernel-dir]
                                      a template: check the image's sha256, write it into a new thin volume
                                      (sparse), copy its kernel and initrd out for direct boot (with
                                      --kernel-dir; the storage node's golden volumes need none), tag it
  clone --vg --template-lv --disk --size-mib --firstboot FILE|- [--lease-guest NAME --lease-token TOKEN
        --lease-seconds N]
                                      a guest disk: thin snapshot of the template's sized base (the template
                                      grown to SIZE with its file system, made once per size and tagged xf_base
                                      and xf_template: a clone of a known size is one lvcreate), first-boot files
                                      (from stdin with "-") written into it before its first boot, then tagged
                                      ready; with --lease-token, the guest's lease is taken first, as "lock"
                                      does (exit 3 while another run holds it)
  volume --vg --template-lv --lv --size-mib
                                      (storage node) a shared guest volume: thin snapshot of the golden
                                      template volume, grown, tagged xf_guest (the shared_storage role exports
                                      the volumes with that tag); its first-boot files come later, from a Domain-0
  customise --device PATH --firstboot FILE
                                      (Domain-0) write the first-boot files into a shared guest volume seen at
                                      PATH (grown file system first); refused while the device is in use here.
                                      The role then tags the volume xf_ready on the storage node
  scratch --vg --pool --disk --size-mib --suite --mirror --packages --builder --firstboot FILE [--kernel-dir]
                                      a guest disk built from nothing with debootstrap (no template)
  remove-disk --vg --disk             remove a guest disk (refused while it is open)
  wait-ssh ADDRESS [--port N] [--timeout S] [--domain NAME [--release-lease TOKEN]]
                                      wait until sshd at ADDRESS answers with its banner, seen from this
                                      Domain-0 and polled every 0.5 s (the role's wait before Ansible's login,
                                      for guests reached through their Domain-0: a failed login through the
                                      Domain-0 costs seconds of the CPU the guest boots on); with --domain,
                                      stops at once when that domain crashed or is gone; with --release-lease,
                                      first gives the domain's lease back (as unlock), in the same process

Locks: every volume operation holds an flock on /run/lock/xenfleet/<volume>.lock, so two runs never build
the same volume twice; "lock" is a lease (a token with an expiry) that the role holds across several
Ansible tasks (disk, config, start), so that two runs provisioning the same guest end with one domain.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import os
import re
import subprocess
import sys
import time

# hashlib, shutil, socket, tempfile and uuid are imported where they are used: each command is one short process on
# an emulated Domain-0, where every module imported at start costs tens of milliseconds

LOCK_DIR = '/run/lock/xenfleet'
TAG_TEMPLATE = 'xf_template'
TAG_GUEST = 'xf_guest'
TAG_READY = 'xf_ready'
TAG_BASE = 'xf_base'
NAME_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,126}\Z')
TOKEN_RE = re.compile(r'^[A-Za-z0-9_.:-]{1,128}\Z')


class Failure(Exception):
    pass


def log(msg):
    sys.stderr.write('[xenfleet-guest %s] %s\n' % (time.strftime('%H:%M:%S'), msg))
    sys.stderr.flush()


def run(argv, check=True, **kw):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False,
                          **kw)
    if check and proc.returncode != 0:
        raise Failure('%s failed (rc=%d): %s' % (' '.join(argv), proc.returncode, (proc.stderr or proc.stdout).strip()))
    return proc


def name(value, what):
    if not NAME_RE.match(value or ''):
        raise Failure('invalid %s %r' % (what, value))
    return value


class FileLock(object):
    """An exclusive flock on LOCK_DIR/<key>.lock, for the time of a with block."""

    def __init__(self, key):
        os.makedirs(LOCK_DIR, mode=0o755, exist_ok=True)
        self.path = os.path.join(LOCK_DIR, key + '.lock')
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


# ---- LVM ------------------------------------------------------------------------------------------------

def lvs(vg):
    proc = run(['lvs', '--reportformat', 'json', '--units', 'm', '--nosuffix', '--options',
                'lv_name,lv_tags,lv_size,lv_attr,origin,pool_lv', vg], check=False)
    if proc.returncode != 0:
        if 'not found' in proc.stderr or 'does not exist' in proc.stderr:
            return None
        raise Failure('lvs %s failed: %s' % (vg, proc.stderr.strip()))
    out = {}
    for row in json.loads(proc.stdout)['report'][0]['lv']:
        out[row['lv_name']] = {
            'tags': [t for t in row['lv_tags'].split(',') if t],
            'size_mib': int(float(row['lv_size'])),
            'attr': row['lv_attr'],
            'open': len(row['lv_attr']) > 5 and row['lv_attr'][5] == 'o',
            'origin': row['origin'] or None,
            'pool': row['pool_lv'] or None,
        }
    return out


def lv(vg, lv_name):
    return (lvs(vg) or {}).get(lv_name)


def device(vg, lv_name):
    return '/dev/%s/%s' % (vg, lv_name)


def lvremove(vg, lv_name):
    info = lv(vg, lv_name)
    if info is None:
        return False
    if info['open']:
        raise Failure('%s is open (in use by a running domain or mounted): not removing it' % device(vg, lv_name))
    run(['lvremove', '--yes', '%s/%s' % (vg, lv_name)])
    return True


class Mounted(object):
    """Mount a device on a temporary directory for the time of a with block."""

    def __init__(self, dev, options=None):
        self.dev = dev
        self.options = options
        self.dir = None

    def __enter__(self):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix='xenfleet-mnt.')
        argv = ['mount'] + (['-o', self.options] if self.options else []) + [self.dev, self.dir]
        run(argv)
        return self.dir

    def __exit__(self, *exc):
        run(['umount', self.dir], check=False)
        if os.path.ismount(self.dir):
            run(['umount', '-l', self.dir], check=False)
        os.rmdir(self.dir)


# ---- first-boot files -------------------------------------------------------------------------------------

def safe_parent(root, path, create):
    """The real parent directory of PATH inside ROOT, refusing symlinks on the way (no escape from ROOT)."""
    if not path.startswith('/') or '/../' in path + '/' or '/./' in path + '/':
        raise Failure('first-boot path %r must be absolute and normalised' % path)
    parts = [p for p in path.split('/') if p][:-1]
    current = root
    for part in parts:
        current = os.path.join(current, part)
        if os.path.islink(current):
            raise Failure('first-boot path %r goes through a symlink (%s): refused' % (path, current[len(root):]))
        if not os.path.isdir(current):
            if not create:
                raise Failure('no directory %s in the guest' % current[len(root):])
            os.mkdir(current, 0o755)
    return current


def apply_firstboot(root, spec):
    """Write the guest's identity into its root file system (mounted at ROOT) before its first boot."""
    from uuid import uuid4
    written = []
    for d in spec.get('directories', []):
        parent = safe_parent(root, d['path'].rstrip('/') + '/x', create=True)
        os.chmod(parent, int(str(d.get('mode', '0755')), 8))
        os.chown(parent, int(d.get('owner', 0)), int(d.get('group', 0)))
    for item in spec.get('files', []):
        parent = safe_parent(root, item['path'], create=True)
        target = os.path.join(parent, os.path.basename(item['path']))
        if os.path.islink(target):
            os.unlink(target)
        mode = int(str(item.get('mode', '0644')), 8)
        tmp = target + '.xenfleet-tmp'
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, 'w') as f:
            f.write(item['content'])
        os.chmod(tmp, mode)
        os.chown(tmp, int(item.get('owner', 0)), int(item.get('group', 0)))
        os.rename(tmp, target)
        written.append(item['path'])
    if spec.get('machine_id', True):
        # A new identity for systemd (and the DHCP client); LAB-NOTES: remove the dbus copy too
        with open(os.path.join(safe_parent(root, '/etc/machine-id', create=False), 'machine-id'), 'w') as f:
            f.write(uuid4().hex + '\n')
        dbus = os.path.join(root, 'var/lib/dbus/machine-id')
        if os.path.lexists(dbus):
            os.unlink(dbus)
        written.append('/etc/machine-id')
    return written


def load_spec(path):
    """The first-boot spec: JSON from the file PATH, or from stdin when PATH is "-" (the role hands it over that way,
    so that the guest's host key never lands in a file of the Domain-0 nor in a --diff)."""
    try:
        if path == '-':
            path = 'stdin'
            spec = json.load(sys.stdin)
        else:
            with open(path) as f:
                spec = json.load(f)
    except (IOError, OSError, ValueError) as exc:
        raise Failure('cannot read the first-boot spec from %s: %s' % (path, exc))
    if not isinstance(spec, dict):
        raise Failure('%s: the first-boot spec must be a JSON object' % path)
    return spec


def copy_kernel(root, kernel_dir):
    """Copy the guest's /vmlinuz and /initrd.img (links to the newest kernel) to KERNEL_DIR, for direct boot."""
    from shutil import copyfile
    os.makedirs(kernel_dir, mode=0o755, exist_ok=True)
    out = {}
    for link in ('vmlinuz', 'initrd.img'):
        path = os.path.join(root, link)
        for hop in range(8):  # follow links inside the guest's tree, never the host's
            if not os.path.islink(path):
                break
            if hop == 7:
                raise Failure('/%s: too many links' % link)
            target = os.readlink(path)
            path = os.path.join(root, target.lstrip('/')) if target.startswith('/') else \
                os.path.join(os.path.dirname(path), target)
        if not os.path.isfile(path):
            raise Failure('the guest has no /%s' % link)
        copyfile(path, os.path.join(kernel_dir, link + '.tmp'))
        os.rename(os.path.join(kernel_dir, link + '.tmp'), os.path.join(kernel_dir, link))
        out[link] = os.path.basename(path)
    return out


# ---- commands ---------------------------------------------------------------------------------------------

PACKAGE_RE = re.compile(r'^[a-z0-9][a-z0-9+.-]{0,127}\Z')
APT_LISTS = '/var/lib/apt/lists'


def packages_missing(packages):
    """The packages of ``packages`` that dpkg does not have installed (state ii), in their order."""
    for pkg in packages:
        if not PACKAGE_RE.match(pkg):
            raise Failure('invalid package name %r' % pkg)
    if not packages:
        return []
    # rc 1 when a package is unknown to dpkg: those have no line, so they count as missing
    proc = run(['dpkg-query', '--show', '--showformat', '${Package}\t${db:Status-Abbrev}\n'] + list(packages),
               check=False)
    installed = set()
    for line in proc.stdout.splitlines():
        pkg, dummy, status = line.partition('\t')
        if status.startswith('ii'):
            installed.add(pkg.split(':')[0])
    return [pkg for pkg in packages if pkg not in installed]


def apt_lists():
    """How many package lists apt has (a Debian image may ship with none: apt must then update first)."""
    if not os.path.isdir(APT_LISTS):
        return 0
    return len([f for f in os.listdir(APT_LISTS) if '_Packages' in f])


def describe(path):
    """What ``path`` is: {type: dir|file|other, mode: '0755', sha256 (files)}, or None when it does not exist."""
    from hashlib import sha256
    if not os.path.isabs(path) or '\0' in path:
        raise Failure('not an absolute path: %r' % path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    out = {'mode': '%04o' % (st.st_mode & 0o7777), 'uid': st.st_uid, 'gid': st.st_gid}
    if os.path.isdir(path) and not os.path.islink(path):
        out['type'] = 'dir'
    elif os.path.isfile(path) and not os.path.islink(path):
        out['type'] = 'file'
        digest = sha256()
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                digest.update(block)
        out['sha256'] = digest.hexdigest()
    else:
        out['type'] = 'other'
    return out


def xl_capture(argv):
    """{rc, stdout, stderr} of an xl command (argument list, 30 s at most: rc 124 after that, as timeout(1) answers,
    without starting timeout(1) itself). Parsed on the control node by the collection's xl parser (filter
    xenfleet.xen.xl_host_survey), never here."""
    try:
        proc = run(argv, check=False, timeout=30)
    except subprocess.TimeoutExpired:
        return {'rc': 124, 'stdout': '', 'stderr': '%s did not answer within 30 s' % ' '.join(argv)}
    except OSError as exc:  # no xl: not a Xen host (the control node says so)
        return {'rc': 127, 'stdout': '', 'stderr': str(exc)}
    return {'rc': proc.returncode, 'stdout': proc.stdout, 'stderr': proc.stderr}


def cmd_survey(args):
    if args.expect_sha256:
        mine = describe(os.path.realpath(__file__))['sha256']
        if mine != args.expect_sha256:
            # not the role's helper (an older one installed): the role runs its own copy instead
            sys.stderr.write('xenfleet-guest survey: this helper is not the expected one (sha256 %s)\n' % mine)
            return 4
    vg = name(args.vg, 'volume group')
    packages = [p for p in (args.packages or '').split(',') if p]
    paths = {path: describe(path) for path in args.path}  # checks the paths before anything runs
    configs = sorted(f[:-4] for f in os.listdir('/etc/xen') if f.endswith('.cfg')) if os.path.isdir('/etc/xen') else []
    found = lvs(vg)
    return {'changed': False, 'vg': vg, 'vg_exists': found is not None, 'lvs': found or {}, 'configs': configs,
            'packages_missing': packages_missing(packages), 'apt_lists': apt_lists(),
            'paths': paths,
            'fact': read_json(args.fact) if args.fact else None,
            'xl': {'info': xl_capture(['xl', 'info']), 'list': xl_capture(['xl', 'list'])} if args.xl else None}


def _lease_path(guest):
    return os.path.join(LOCK_DIR, 'lease-%s.json' % guest)


def read_json(path):
    """The JSON in ``path`` (a lease, a local fact file), or None when there is none (or it is not JSON)."""
    try:
        with open(path) as f:
            return json.load(f)
    except (IOError, OSError, ValueError):
        return None


def take_lease(guest, token, seconds):
    """Take (or renew) the guest's lease for ``seconds``: {acquired, renewed} or {acquired: False, holder, expires_in}."""
    guest = name(guest, 'guest name')
    if not TOKEN_RE.match(token or ''):
        raise Failure('invalid token')
    now = time.time()
    with FileLock('leases'):
        path = _lease_path(guest)
        held = read_json(path)
        if held and held.get('token') != token and held.get('expires', 0) > now:
            return {'acquired': False, 'holder': held.get('token'), 'expires_in': int(held['expires'] - now)}
        with open(path + '.tmp', 'w') as f:
            json.dump({'token': token, 'expires': now + seconds, 'pid': os.getppid()}, f)
        os.rename(path + '.tmp', path)
    return {'acquired': True, 'renewed': bool(held and held.get('token') == token)}


def refused(lease):
    """Exit 3 with the holder when another run holds the lease (the role retries), else None."""
    if lease['acquired']:
        return None
    print(json.dumps(dict(lease, changed=False)))
    return 3


def cmd_lock(args):
    lease = take_lease(args.name, args.token, args.lease)
    return refused(lease) or dict(lease, changed=False)


def cmd_unlock(args):
    return release_lease(args.name, args.token)


def release_lease(guest, token):
    """Give the guest's lease back, when TOKEN holds it: {changed: False, released, holder if another run's}."""
    guest = name(guest, 'guest name')
    with FileLock('leases'):
        path = _lease_path(guest)
        held = read_json(path)
        if held is None:
            return {'changed': False, 'released': False}
        if held.get('token') != token:
            return {'changed': False, 'released': False, 'holder': held.get('token')}
        os.unlink(path)
    return {'changed': False, 'released': True}


def cmd_import(args):
    vg, pool, lv_name = name(args.vg, 'volume group'), name(args.pool, 'thin pool'), name(args.lv, 'volume')
    t0 = time.time()
    with FileLock(lv_name):
        info = lv(vg, lv_name)
        if info is not None and TAG_TEMPLATE in info['tags'] and (
                not args.kernel_dir or os.path.isfile(os.path.join(args.kernel_dir, 'vmlinuz'))):
            return {'changed': False, 'lv': lv_name}
        if info is not None:
            log('%s exists but was not finished: removing it and starting again' % lv_name)
            lvremove(vg, lv_name)
        log('checking the sha256 of %s' % args.image)
        got = run(['sha256sum', args.image]).stdout.split()[0]
        if got != args.sha256:
            raise Failure('%s: sha256 %s, expected %s: the copy is damaged, remove it and run again'
                          % (args.image, got, args.sha256))
        run(['lvcreate', '--yes', '--type', 'thin', '--virtualsize', '%dM' % args.size_mib, '--thinpool', pool,
             '--name', lv_name, vg])
        dev = device(vg, lv_name)
        log('writing the template into %s (sparse)' % dev)
        zstd = subprocess.Popen(['zstd', '-q', '-d', '-c', args.image], stdout=subprocess.PIPE)
        dd = subprocess.run(['dd', 'of=' + dev, 'bs=1M', 'conv=sparse,fsync', 'status=none'], stdin=zstd.stdout,
                            stderr=subprocess.PIPE, universal_newlines=True, check=False)
        zstd.stdout.close()
        if zstd.wait() != 0 or dd.returncode != 0:
            raise Failure('writing %s into %s failed: %s' % (args.image, dev, dd.stderr.strip()))
        kernel = None
        if args.kernel_dir:
            with Mounted(dev, 'ro,noload') as root:
                kernel = copy_kernel(root, args.kernel_dir)
        run(['lvchange', '--addtag', TAG_TEMPLATE, '%s/%s' % (vg, lv_name)])
    return {'changed': True, 'lv': lv_name, 'kernel': kernel, 'seconds': round(time.time() - t0, 1)}


def fs_fills(dev):
    """Whether the ext4 file system on DEV already spans the whole device (then there is nothing to grow). Read from
    its superblock: one read instead of a resize2fs run, which costs a fraction of a second under emulation."""
    import struct
    with open(dev, 'rb') as f:
        f.seek(1024)
        sb = f.read(1024)
        dev_bytes = f.seek(0, os.SEEK_END)
    if len(sb) < 0x154 or struct.unpack_from('<H', sb, 0x38)[0] != 0xEF53:
        return False  # not ext2/3/4: let resize2fs say what it is
    block = 1024 << struct.unpack_from('<I', sb, 24)[0]
    blocks = struct.unpack_from('<I', sb, 4)[0]
    if struct.unpack_from('<I', sb, 0x60)[0] & 0x80:  # INCOMPAT_64BIT: the high half of the block count
        blocks |= struct.unpack_from('<I', sb, 0x150)[0] << 32
    return blocks * block > dev_bytes - block


def _customise(dev, spec, kernel_dir=None):
    """Grow DEV's file system to the device (when it is smaller) and write the first-boot files (and the kernel copy)
    into it."""
    with Mounted(dev) as root:
        # grow the file system to the volume, online
        if not fs_fills(dev):
            run(['resize2fs', dev])
        written = apply_firstboot(root, spec)
        kernel = copy_kernel(root, kernel_dir) if kernel_dir else None
    return written, kernel


def _finish_disk(vg, disk, spec, kernel_dir=None):
    written, kernel = _customise(device(vg, disk), spec, kernel_dir)
    run(['lvchange', '--addtag', TAG_READY, '%s/%s' % (vg, disk)])
    return written, kernel


def _reset_unfinished(vg, disk, volumes=None, finished=TAG_READY):
    """True when DISK is there and finished (tagged FINISHED: xf_ready for a guest disk, xf_template for a sized
    base); an unfinished one (a run that died) is removed."""
    info = (volumes if volumes is not None else lvs(vg) or {}).get(disk)
    if info is not None and finished in info['tags']:
        return True
    if info is not None:
        log('%s exists but was not finished: removing it and starting again' % disk)
        lvremove(vg, disk)
    return False


def _template(vg, tmpl, volumes):
    """The lvs row of the finished template volume TMPL (a template, or a sized base), else Failure."""
    origin = volumes.get(tmpl)
    if origin is None or TAG_TEMPLATE not in origin['tags']:
        raise Failure('template volume %s/%s is missing or unfinished' % (vg, tmpl))
    return origin


def _snapshot(vg, tmpl, disk, size_mib, volumes=None, tag=TAG_GUEST):
    """A thin snapshot DISK of the finished template volume TMPL, active, tagged TAG, grown to SIZE_MIB.
    ``volumes``: the volume group's lvs, when the caller has just read them (each LVM command costs seconds in an
    emulated Domain-0)."""
    origin = _template(vg, tmpl, volumes if volumes is not None else lvs(vg) or {})
    # active at once: no activation skip flag, so no lvchange --activate after it
    run(['lvcreate', '--yes', '--snapshot', '--setactivationskip', 'n', '--activate', 'y', '--addtag', tag,
         '--name', disk, '%s/%s' % (vg, tmpl)])
    _grow(vg, disk, origin['size_mib'], size_mib)


def _grow(vg, disk, size_now, size_mib):
    if size_mib > size_now:
        run(['lvextend', '--size', '%dM' % size_mib, '%s/%s' % (vg, disk)])


def _sized_base(vg, tmpl, size_mib, volumes):
    """The volume a guest disk of SIZE_MIB is snapshotted from, and the volume group's lvs after it: the template
    TMPL itself when it is that size already, else its sized base <TMPL>-<SIZE>m, a thin snapshot of TMPL grown to
    SIZE_MIB with its file system, made once per size on this Domain-0 (tagged xf_base, then xf_template when it is
    finished, like a template). Guests of a size seen before are then one lvcreate: no lvextend and no resize2fs,
    which cost seconds each under emulation. A base is never booted or written after it is finished."""
    origin = _template(vg, tmpl, volumes)
    if size_mib <= origin['size_mib']:
        return tmpl, volumes
    base = name('%s-%dm' % (tmpl, size_mib), 'sized base')
    if TAG_TEMPLATE in volumes.get(base, {}).get('tags', []):
        return base, volumes
    with FileLock(base):  # guests of the same new size at once: one makes the base, the others wait for it
        volumes = lvs(vg) or {}
        if _reset_unfinished(vg, base, volumes, finished=TAG_TEMPLATE):
            return base, volumes
        log('making %s: the template grown to %d MiB, once for every guest of that size' % (base, size_mib))
        _snapshot(vg, tmpl, base, size_mib, volumes, tag=TAG_BASE)
        with Mounted(device(vg, base)):
            run(['resize2fs', device(vg, base)])
        run(['lvchange', '--addtag', TAG_TEMPLATE, '%s/%s' % (vg, base)])
    volumes[base] = dict(origin, tags=[TAG_BASE, TAG_TEMPLATE], size_mib=size_mib, origin=tmpl, open=False)
    return base, volumes


def cmd_clone(args):
    vg, tmpl, disk = name(args.vg, 'volume group'), name(args.template_lv, 'template'), name(args.disk, 'disk')
    t0 = time.time()
    spec = load_spec(args.firstboot)  # read (and checked) before anything changes
    if args.lease_token:  # the guest's lease first (one run less for the role): exit 3 while another run holds it
        exit_code = refused(take_lease(args.lease_guest, args.lease_token, args.lease_seconds))
        if exit_code:
            return exit_code
    with FileLock(disk):
        volumes = lvs(vg) or {}  # read once for both checks
        if _reset_unfinished(vg, disk, volumes):
            return {'changed': False, 'disk': disk}
        source, volumes = _sized_base(vg, tmpl, args.size_mib, volumes if disk not in volumes else lvs(vg) or {})
        _snapshot(vg, source, disk, args.size_mib, volumes)
        written = _finish_disk(vg, disk, spec)[0]
    return {'changed': True, 'disk': disk, 'origin': source, 'template': tmpl, 'written': written,
            'seconds': round(time.time() - t0, 1)}


def cmd_volume(args):
    """A shared guest volume on the storage node. An existing one is never recreated (Domain-0s are logged in to
    it, and its first-boot state is the xf_ready tag's business); one that a crash left too small is grown."""
    vg, tmpl, disk = name(args.vg, 'volume group'), name(args.template_lv, 'template'), name(args.lv, 'volume')
    with FileLock(disk):
        volumes = lvs(vg) or {}
        info = volumes.get(disk)
        if info is not None:
            if TAG_GUEST not in info['tags']:
                raise Failure('%s/%s exists and is not a guest volume (no tag %s): not using it' % (vg, disk, TAG_GUEST))
            grown = TAG_READY not in info['tags'] and args.size_mib > info['size_mib']
            if grown:
                _grow(vg, disk, info['size_mib'], args.size_mib)
            return {'changed': grown, 'lv': disk, 'ready': TAG_READY in info['tags']}
        _snapshot(vg, tmpl, disk, args.size_mib, volumes)
    return {'changed': True, 'lv': disk, 'origin': tmpl, 'ready': False}


def in_use(dev):
    """Whether DEV is open exclusively on this host (mounted, or held by a driver such as blkback)."""
    try:
        fd = os.open(dev, os.O_RDONLY | os.O_EXCL)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return True
        raise
    os.close(fd)
    return False


def cmd_customise(args):
    dev = args.device
    if not dev.startswith('/dev/') or '/../' in dev:
        raise Failure('invalid device %r' % dev)
    if not os.path.exists(dev):
        raise Failure('%s does not exist on this Domain-0: is it logged in to the volume (role shared_storage)?' % dev)
    spec = load_spec(args.firstboot)
    t0 = time.time()
    with FileLock('customise-' + re.sub(r'[^A-Za-z0-9_.-]', '_', os.path.basename(dev))):
        if in_use(dev):
            raise Failure('%s is in use on this Domain-0 (a domain or a mount): not writing into it' % dev)
        written = _customise(dev, spec)[0]
    return {'changed': True, 'device': dev, 'written': written, 'seconds': round(time.time() - t0, 1)}


def cmd_scratch(args):
    vg, pool, disk = name(args.vg, 'volume group'), name(args.pool, 'thin pool'), name(args.disk, 'disk')
    spec = load_spec(args.firstboot)
    t0 = time.time()
    with FileLock(disk):
        if _reset_unfinished(vg, disk):
            return {'changed': False, 'disk': disk}
        run(['lvcreate', '--yes', '--type', 'thin', '--virtualsize', '%dM' % args.size_mib, '--thinpool', pool,
             '--addtag', TAG_GUEST, '--name', disk, vg])
        dev = device(vg, disk)
        run(['mkfs.ext4', '-q', '-L', 'xenfleet-root', dev])
        with Mounted(dev) as root:
            log('debootstrap %s into %s (this is the slow path)' % (args.suite, dev))
            proc = subprocess.run([args.builder, 'rootfs', root, args.suite, args.mirror, args.packages],
                                  stdout=sys.stderr, stderr=sys.stderr, check=False)
            if proc.returncode != 0:
                raise Failure('building the root file system failed (rc=%d)' % proc.returncode)
        written, kernel = _finish_disk(vg, disk, spec, args.kernel_dir)
    return {'changed': True, 'disk': disk, 'written': written, 'kernel': kernel, 'seconds': round(time.time() - t0, 1)}


def cmd_remove_disk(args):
    vg, disk = name(args.vg, 'volume group'), name(args.disk, 'disk')
    with FileLock(disk):
        removed = lvremove(vg, disk)
    return {'changed': removed, 'disk': disk}


HOST_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9.:-]{0,252}\Z')


def domain_state(domain):
    """xl's state letters of DOMAIN ('r-----', 'b-----', '--p---', 'c' when crashed...), or None when it is gone."""
    proc = run(['xl', 'list', domain], check=False)
    rows = proc.stdout.splitlines()[1:] if proc.returncode == 0 else []
    fields = rows[0].split() if rows else []
    return fields[4] if len(fields) > 4 else None


def ssh_banner(address, port, timeout=2.0):
    """The first bytes sshd sends at ADDRESS:PORT, or None when nothing answers yet."""
    import socket
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.settimeout(5)
            data = sock.recv(255)
    except OSError:
        return None
    return data if data.startswith(b'SSH-') else None


def cmd_wait_ssh(args):
    address = args.address
    if not HOST_RE.match(address or ''):
        raise Failure('invalid address %r' % address)
    if not 0 < args.port < 65536:
        raise Failure('invalid port %r' % args.port)
    domain = name(args.domain, 'domain') if args.domain else None
    if args.release_lease and not domain:
        raise Failure('--release-lease needs --domain (the guest whose lease it is)')
    # The domain is created: its lease is given back first (the role's "Give the lease back" would be one more run,
    # while the guest boots on the same CPU)
    lease = release_lease(domain, args.release_lease) if args.release_lease else None
    t0 = time.monotonic()
    next_check = t0
    while True:
        banner = ssh_banner(address, args.port)
        waited = time.monotonic() - t0
        if banner:
            return {'changed': False, 'address': address, 'port': args.port, 'seconds': round(waited, 1),
                    'banner': banner.decode('ascii', 'replace').strip(),
                    'lease_released': bool(lease and lease['released'])}
        if domain and time.monotonic() >= next_check:  # a guest that crashed or stopped will never answer
            next_check = time.monotonic() + 15
            state = domain_state(domain)
            if state is None or 'c' in state or 's' in state:
                raise Failure('domain %s %s after %d s, before sshd at %s:%d answered (see xl dmesg and'
                              ' /var/log/xen)' % (domain, 'is gone' if state is None else 'crashed' if 'c' in state
                                                  else 'shut down', waited, address, args.port))
        if waited >= args.timeout:
            raise Failure('sshd at %s:%d did not answer within %d s' % (address, args.port, args.timeout))
        time.sleep(0.5)


def parser():
    p = argparse.ArgumentParser(prog='xenfleet_guest.py', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='command')
    s = sub.add_parser('survey')
    s.add_argument('--vg', required=True)
    s.add_argument('--packages', default='')
    s.add_argument('--path', action='append', default=[])
    s.add_argument('--fact')
    s.add_argument('--xl', action='store_true')
    s.add_argument('--expect-sha256')
    s = sub.add_parser('lock')
    s.add_argument('name')
    s.add_argument('token')
    s.add_argument('lease', type=int)
    s = sub.add_parser('unlock')
    s.add_argument('name')
    s.add_argument('token')
    s = sub.add_parser('import')
    for opt in ('--vg', '--pool', '--lv', '--image', '--sha256'):
        s.add_argument(opt, required=True)
    s.add_argument('--kernel-dir')
    s.add_argument('--size-mib', type=int, required=True)
    s = sub.add_parser('clone')
    for opt in ('--vg', '--template-lv', '--disk', '--firstboot'):
        s.add_argument(opt, required=True)
    s.add_argument('--size-mib', type=int, required=True)
    s.add_argument('--lease-guest')
    s.add_argument('--lease-token')
    s.add_argument('--lease-seconds', type=int, default=600)
    s = sub.add_parser('volume')
    for opt in ('--vg', '--template-lv', '--lv'):
        s.add_argument(opt, required=True)
    s.add_argument('--size-mib', type=int, required=True)
    s = sub.add_parser('customise')
    s.add_argument('--device', required=True)
    s.add_argument('--firstboot', required=True)
    s = sub.add_parser('scratch')
    for opt in ('--vg', '--pool', '--disk', '--suite', '--mirror', '--builder', '--firstboot'):
        s.add_argument(opt, required=True)
    s.add_argument('--packages', default='')
    s.add_argument('--kernel-dir')
    s.add_argument('--size-mib', type=int, required=True)
    s = sub.add_parser('remove-disk')
    s.add_argument('--vg', required=True)
    s.add_argument('--disk', required=True)
    s = sub.add_parser('wait-ssh')
    s.add_argument('address')
    s.add_argument('--port', type=int, default=22)
    s.add_argument('--timeout', type=int, default=900)
    s.add_argument('--domain')
    s.add_argument('--release-lease', metavar='TOKEN', help="give the domain's lease back first, when TOKEN holds it")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    # LVM and e2fsprogs live in sbin, which a non-login environment may leave out of PATH
    os.environ['PATH'] = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:' + os.environ.get('PATH', '')
    commands = {'survey': cmd_survey, 'lock': cmd_lock, 'unlock': cmd_unlock, 'import': cmd_import,
                'clone': cmd_clone, 'volume': cmd_volume, 'customise': cmd_customise, 'scratch': cmd_scratch,
                'remove-disk': cmd_remove_disk, 'wait-ssh': cmd_wait_ssh}
    if args.command not in commands:
        parser().print_usage(sys.stderr)
        return 2
    if os.geteuid() != 0:
        sys.stderr.write('xenfleet-guest: must run as root\n')
        return 2
    try:
        result = commands[args.command](args)
    except Failure as exc:
        sys.stderr.write('xenfleet-guest %s: %s\n' % (args.command, exc))
        return 1
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            sys.stderr.write('xenfleet-guest %s: no space left: %s\n' % (args.command, exc))
            return 1
        raise
    if isinstance(result, int):
        return result
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main())
