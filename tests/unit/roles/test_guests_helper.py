# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of roles/guests/files/xenfleet-guest (the Domain-0 helper): first-boot files written into a guest
root file system, refusing paths that escape it, and the kernel copy that follows links inside the guest's tree.
LVM and mounts are proven in the lab (molecule/guests, molecule/fleet), not here; the shared volume commands are
checked here against a table of volumes, with the LVM commands they run recorded."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import io
import hashlib
import json
import os

import pytest

HELPER = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'guests', 'files', 'xenfleet_guest.py')


def load():
    loader = importlib.machinery.SourceFileLoader('xenfleet_guest_helper', HELPER)
    spec = importlib.util.spec_from_loader('xenfleet_guest_helper', loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


helper = load()
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason='chown to root needs root')


def guest_root(tmp_path):
    root = tmp_path / 'root'
    for d in ('etc/ssh', 'var/lib/dbus', 'boot'):
        (root / d).mkdir(parents=True)
    (root / 'etc' / 'machine-id').write_text('')
    (root / 'var' / 'lib' / 'dbus' / 'machine-id').write_text('template-id\n')
    return root


@needs_root
def test_firstboot_writes_files_modes_and_a_new_machine_id(tmp_path):
    root = guest_root(tmp_path)
    spec = {'directories': [{'path': '/root/.ssh', 'mode': '0700'}],
            'files': [{'path': '/etc/hostname', 'mode': '0644', 'content': 'web1\n'},
                      {'path': '/etc/ssh/ssh_host_ed25519_key', 'mode': '0600', 'content': 'KEY\n'},
                      {'path': '/root/.ssh/authorized_keys', 'mode': '0600', 'content': 'ssh-ed25519 AAAA\n'},
                      {'path': '/etc/xenfleet/guest', 'mode': '0644', 'content': 'name=web1\n'}],
            'machine_id': True}
    written = helper.apply_firstboot(str(root), spec)
    assert (root / 'etc' / 'hostname').read_text() == 'web1\n'
    assert oct((root / 'etc' / 'ssh' / 'ssh_host_ed25519_key').stat().st_mode & 0o777) == '0o600'
    assert oct((root / 'root' / '.ssh').stat().st_mode & 0o777) == '0o700'
    assert (root / 'etc' / 'xenfleet' / 'guest').read_text() == 'name=web1\n'
    machine_id = (root / 'etc' / 'machine-id').read_text().strip()
    assert len(machine_id) == 32 and int(machine_id, 16) >= 0
    # LAB-NOTES: systemd would copy the dbus machine-id back over an empty one
    assert not (root / 'var' / 'lib' / 'dbus' / 'machine-id').exists()
    assert '/etc/machine-id' in written and '/etc/hostname' in written
    # two guests never share a machine-id
    helper.apply_firstboot(str(root), {'files': [], 'machine_id': True})
    assert (root / 'etc' / 'machine-id').read_text().strip() != machine_id


@needs_root
def test_firstboot_replaces_a_symlink_target_file_not_what_it_points_to(tmp_path):
    root = guest_root(tmp_path)
    outside = tmp_path / 'outside'
    outside.write_text('precious\n')
    (root / 'etc' / 'resolv.conf').symlink_to(outside)
    helper.apply_firstboot(str(root), {'files': [{'path': '/etc/resolv.conf', 'content': 'nameserver 10.0.0.1\n'}],
                                       'machine_id': False})
    assert outside.read_text() == 'precious\n'
    assert not (root / 'etc' / 'resolv.conf').is_symlink()
    assert (root / 'etc' / 'resolv.conf').read_text() == 'nameserver 10.0.0.1\n'


@pytest.mark.parametrize('path', ['etc/hostname', '/etc/../../x', '/etc/./hostname', '/etc/link/x'])
def test_firstboot_refuses_paths_that_could_escape(tmp_path, path):
    root = guest_root(tmp_path)
    (root / 'etc' / 'link').symlink_to(tmp_path)
    with pytest.raises(helper.Failure):
        helper.apply_firstboot(str(root), {'files': [{'path': path, 'content': 'x'}], 'machine_id': False})
    assert not (tmp_path / 'x').exists()


def test_copy_kernel_follows_links_inside_the_guest(tmp_path):
    root = tmp_path / 'root'
    (root / 'boot').mkdir(parents=True)
    (root / 'boot' / 'vmlinuz-6.1.0-1-cloud-amd64').write_bytes(b'kernel')
    (root / 'boot' / 'initrd.img-6.1.0-1-cloud-amd64').write_bytes(b'initrd')
    (root / 'vmlinuz').symlink_to('boot/vmlinuz-6.1.0-1-cloud-amd64')  # Debian's relative link
    (root / 'initrd.img').symlink_to('/boot/initrd.img-6.1.0-1-cloud-amd64')  # an absolute one
    out = tmp_path / 'kernels'
    got = helper.copy_kernel(str(root), str(out))
    assert (out / 'vmlinuz').read_bytes() == b'kernel' and (out / 'initrd.img').read_bytes() == b'initrd'
    assert got == {'vmlinuz': 'vmlinuz-6.1.0-1-cloud-amd64', 'initrd.img': 'initrd.img-6.1.0-1-cloud-amd64'}


def test_copy_kernel_without_kernel(tmp_path):
    (tmp_path / 'root').mkdir()
    with pytest.raises(helper.Failure, match='no /vmlinuz'):
        helper.copy_kernel(str(tmp_path / 'root'), str(tmp_path / 'k'))


NAMES = [('web1', True), ('xf-tmpl-debian12-0123abcd', True), ('a.b_c+d', True),
         ('', False), ('-x', False), ('a/b', False), ('a b', False)]


@pytest.mark.parametrize('name,ok', NAMES)
def test_names(name, ok):
    if ok:
        assert helper.name(name, 'volume') == name
    else:
        with pytest.raises(helper.Failure):
            helper.name(name, 'volume')


@needs_root
def test_lease_lock(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(helper, 'LOCK_DIR', str(tmp_path))
    args = helper.parser().parse_args(['lock', 'web1', 'run-a', '60'])
    assert helper.cmd_lock(args)['acquired'] is True
    # another run waits (exit 3) while the lease holds
    assert helper.cmd_lock(helper.parser().parse_args(['lock', 'web1', 'run-b', '60'])) == 3
    assert json.loads(capsys.readouterr().out)['holder'] == 'run-a'
    # only the holder gives it back
    assert helper.cmd_unlock(helper.parser().parse_args(['unlock', 'web1', 'run-b']))['released'] is False
    assert helper.cmd_unlock(helper.parser().parse_args(['unlock', 'web1', 'run-a']))['released'] is True
    assert helper.cmd_lock(helper.parser().parse_args(['lock', 'web1', 'run-b', '60']))['acquired'] is True
    # an expired lease (a run that died) is taken over
    assert helper.cmd_lock(helper.parser().parse_args(['lock', 'web2', 'dead', '0']))['acquired'] is True
    assert helper.cmd_lock(helper.parser().parse_args(['lock', 'web2', 'alive', '60']))['acquired'] is True


# ---- shared volumes: the storage node's "volume" and a Domain-0's "customise" (LVM and mounts replaced by a record
# of the commands; the real ones are proven in the lab, molecule/fleet)

class Recorder(object):
    """helper.run and helper.lvs over a table of volumes: records the argv lists it is given."""

    def __init__(self, volumes):
        self.volumes = volumes
        self.argv = []

    def run(self, argv, check=True, **kw):
        self.argv.append(list(argv))
        return None

    def lvs(self, vg):
        self.argv.append(['(lvs)', vg])
        return self.volumes


TEMPLATE = {'tags': ['xf_template'], 'size_mib': 2048, 'attr': 'Vwi-a-tz--', 'open': False, 'origin': None,
            'pool': 'thinpool'}
# the volume group read once (each LVM command costs seconds in an emulated Domain-0)
LVS = ['(lvs)', 'xfshared']
# active at creation (no activation skip flag): no lvchange --activate after it
SNAPSHOT = ['lvcreate', '--yes', '--snapshot', '--setactivationskip', 'n', '--activate', 'y', '--addtag', 'xf_guest',
            '--name', 'web1', 'xfshared/xf-tmpl-debian12-0123456789ab']


def guest_volume(tags, size_mib):
    return {'tags': tags, 'size_mib': size_mib, 'attr': 'Vwi-a-tz--', 'open': False,
            'origin': 'xf-tmpl-debian12-0123456789ab', 'pool': 'thinpool'}


VOLUME_CASES = [
    # (what is there, size asked) -> (changed, commands run, ready)
    ('new, grown', {'xf-tmpl-debian12-0123456789ab': TEMPLATE}, 3072,
     True, [LVS, SNAPSHOT, ['lvextend', '--size', '3072M', 'xfshared/web1']], False),
    ('new, the template size', {'xf-tmpl-debian12-0123456789ab': TEMPLATE}, 2048, True, [LVS, SNAPSHOT], False),
    ('there and ready: never touched', {'web1': guest_volume(['xf_guest', 'xf_ready'], 2048)}, 3072, False, [LVS], True),
    ('there, not ready, a crash left it small', {'web1': guest_volume(['xf_guest'], 2048)}, 3072,
     True, [LVS, ['lvextend', '--size', '3072M', 'xfshared/web1']], False),
    ('there, not ready, right size', {'web1': guest_volume(['xf_guest'], 3072)}, 3072, False, [LVS], False),
]


@pytest.mark.parametrize('what,volumes,size,changed,commands,ready', VOLUME_CASES, ids=[c[0] for c in VOLUME_CASES])
def test_volume(tmp_path, monkeypatch, what, volumes, size, changed, commands, ready):
    rec = Recorder(volumes)
    monkeypatch.setattr(helper, 'LOCK_DIR', str(tmp_path))
    monkeypatch.setattr(helper, 'run', rec.run)
    monkeypatch.setattr(helper, 'lvs', rec.lvs)
    args = helper.parser().parse_args(['volume', '--vg=xfshared', '--template-lv=xf-tmpl-debian12-0123456789ab',
                                       '--lv=web1', '--size-mib=%d' % size])
    got = helper.cmd_volume(args)
    assert (got['changed'], got['ready']) == (changed, ready)
    assert rec.argv == commands


VOLUME_REFUSALS = [
    ('no template', {}, 'missing or unfinished'),
    ('unfinished template', {'xf-tmpl-debian12-0123456789ab': dict(TEMPLATE, tags=[])}, 'missing or unfinished'),
    ('a volume of somebody else', {'web1': guest_volume([], 2048)}, 'not a guest volume'),
]


@pytest.mark.parametrize('what,volumes,message', VOLUME_REFUSALS, ids=[c[0] for c in VOLUME_REFUSALS])
def test_volume_refuses(tmp_path, monkeypatch, what, volumes, message):
    rec = Recorder(volumes)
    monkeypatch.setattr(helper, 'LOCK_DIR', str(tmp_path))
    monkeypatch.setattr(helper, 'run', rec.run)
    monkeypatch.setattr(helper, 'lvs', rec.lvs)
    args = helper.parser().parse_args(['volume', '--vg=xfshared', '--template-lv=xf-tmpl-debian12-0123456789ab',
                                       '--lv=web1', '--size-mib=2048'])
    with pytest.raises(helper.Failure, match=message):
        helper.cmd_volume(args)
    assert rec.argv == [LVS]  # read, nothing changed


CUSTOMISE_REFUSALS = [
    ('not under /dev', '/tmp/x', 'invalid device'),
    ('climbs out of /dev', '/dev/disk/../../etc/passwd', 'invalid device'),
    ('not logged in', '/dev/disk/by-path/ip-192.0.2.1:3260-iscsi-iqn.2025-11.net.xenfleet.storage:nope-lun-1',
     'is it logged in'),
]


@pytest.mark.parametrize('what,dev,message', CUSTOMISE_REFUSALS, ids=[c[0] for c in CUSTOMISE_REFUSALS])
def test_customise_refuses(tmp_path, monkeypatch, what, dev, message):
    monkeypatch.setattr(helper, 'LOCK_DIR', str(tmp_path))
    args = helper.parser().parse_args(['customise', '--device=' + dev, '--firstboot=/nonexistent'])
    with pytest.raises(helper.Failure, match=message):
        helper.cmd_customise(args)


def test_customise_refuses_a_device_in_use(tmp_path, monkeypatch):
    monkeypatch.setattr(helper, 'LOCK_DIR', str(tmp_path))
    monkeypatch.setattr(helper, 'in_use', lambda dev: True)
    monkeypatch.setattr(helper, '_customise', lambda *a: pytest.fail('wrote into a device in use'))
    spec = tmp_path / 'web1.json'
    spec.write_text('{"guest": "web1"}')
    args = helper.parser().parse_args(['customise', '--device=/dev/null', '--firstboot=' + str(spec)])
    with pytest.raises(helper.Failure, match='in use on this Domain-0'):
        helper.cmd_customise(args)


def test_customise_writes_into_a_free_device(tmp_path, monkeypatch):
    monkeypatch.setattr(helper, 'LOCK_DIR', str(tmp_path))
    monkeypatch.setattr(helper, 'in_use', lambda dev: False)
    seen = []
    monkeypatch.setattr(helper, '_customise', lambda dev, spec, kernel_dir=None: seen.append((dev, spec)) or (['/etc/hostname'], None))
    spec = tmp_path / 'web1.json'
    spec.write_text('{"guest": "web1"}')
    args = helper.parser().parse_args(['customise', '--device=/dev/null', '--firstboot=' + str(spec)])
    got = helper.cmd_customise(args)
    assert got['changed'] and got['written'] == ['/etc/hostname'] and seen == [('/dev/null', {'guest': 'web1'})]


def test_customise_refuses_an_unreadable_spec(tmp_path, monkeypatch):
    monkeypatch.setattr(helper, 'LOCK_DIR', str(tmp_path))
    monkeypatch.setattr(helper, '_customise', lambda *a: pytest.fail('wrote without a spec'))
    args = helper.parser().parse_args(['customise', '--device=/dev/null', '--firstboot=' + str(tmp_path / 'none')])
    with pytest.raises(helper.Failure, match='cannot read the first-boot spec'):
        helper.cmd_customise(args)


CLONE = ['clone', '--vg=xenvg', '--template-lv=xf-tmpl-debian12-0123456789ab', '--disk=web1-disk', '--size-mib=4096',
         '--firstboot=-']


def test_clone_takes_the_spec_from_stdin_and_the_lease_first(tmp_path, monkeypatch, capsys):
    # the role's one run for a new guest: the lease, then the thin snapshot and the first-boot files from stdin
    monkeypatch.setattr(helper, 'LOCK_DIR', str(tmp_path))
    monkeypatch.setattr(helper, 'lvs', lambda vg: {})
    monkeypatch.setattr(helper, '_sized_base', lambda vg, tmpl, size, volumes: (tmpl, volumes))
    rec = []
    monkeypatch.setattr(helper, '_snapshot', lambda vg, tmpl, disk, size, volumes=None: rec.append(('snapshot', vg, tmpl, disk, size)))
    monkeypatch.setattr(helper, '_finish_disk', lambda vg, disk, spec, kernel_dir=None: rec.append(('finish', spec)) or (['/etc/hostname'], None))
    monkeypatch.setattr('sys.stdin', io.StringIO('{"guest": "web1", "files": []}'))
    args = helper.parser().parse_args(CLONE + ['--lease-guest=web1', '--lease-token=run-a', '--lease-seconds=60'])
    got = helper.cmd_clone(args)
    assert got['changed'] and rec == [('snapshot', 'xenvg', 'xf-tmpl-debian12-0123456789ab', 'web1-disk', 4096),
                                      ('finish', {'guest': 'web1', 'files': []})]
    # another run meanwhile: exit 3 (the role retries), nothing touched
    rec.clear()
    monkeypatch.setattr('sys.stdin', io.StringIO('{"guest": "web1"}'))
    args = helper.parser().parse_args(CLONE + ['--lease-guest=web1', '--lease-token=run-b', '--lease-seconds=60'])
    assert helper.cmd_clone(args) == 3 and rec == []
    assert json.loads(capsys.readouterr().out)['holder'] == 'run-a'


TMPL = 'xf-tmpl-debian12-0123456789ab'
BASE = TMPL + '-4096m'
BASE_ROW = dict(TEMPLATE, tags=['xf_base', 'xf_template'], size_mib=4096, origin=TMPL)


def snapshot_of(origin):
    return ['lvcreate', '--yes', '--snapshot', '--setactivationskip', 'n', '--activate', 'y', '--addtag', 'xf_guest',
            '--name', 'web1-disk', 'xenvg/' + origin]


# the sized base, made once per size: the template's snapshot, grown with its file system, then tagged finished
MAKE_BASE = [['lvcreate', '--yes', '--snapshot', '--setactivationskip', 'n', '--activate', 'y', '--addtag', 'xf_base',
              '--name', BASE, 'xenvg/' + TMPL],
             ['lvextend', '--size', '4096M', 'xenvg/' + BASE],
             ['(mount)', '/dev/xenvg/' + BASE], ['resize2fs', '/dev/xenvg/' + BASE], ['(umount)'],
             ['lvchange', '--addtag', 'xf_template', 'xenvg/' + BASE]]
CLONE_CASES = [
    # (what is there, size) -> (changed, commands before the first-boot files are written)
    ('new, a size seen before: one lvcreate', {TMPL: TEMPLATE, BASE: BASE_ROW}, 4096,
     True, [['(lvs)', 'xenvg'], snapshot_of(BASE)]),
    ('new, a new size: its base first', {TMPL: TEMPLATE}, 4096,
     True, [['(lvs)', 'xenvg'], ['(lvs)', 'xenvg']] + MAKE_BASE + [snapshot_of(BASE)]),
    ('new, the template\'s own size: no base', {TMPL: TEMPLATE}, 2048,
     True, [['(lvs)', 'xenvg'], snapshot_of(TMPL)]),
    # a run that died while it made the base: that base is removed, and made again
    ('an unfinished base', {TMPL: TEMPLATE, BASE: dict(BASE_ROW, tags=['xf_base'])}, 4096,
     True, [['(lvs)', 'xenvg'], ['(lvs)', 'xenvg'], ['(lvs)', 'xenvg'], ['lvremove', '--yes', 'xenvg/' + BASE]]
     + MAKE_BASE + [snapshot_of(BASE)]),
    ('there and ready: untouched', {TMPL: TEMPLATE, 'web1-disk': dict(TEMPLATE, tags=['xf_guest', 'xf_ready'])}, 4096,
     False, [['(lvs)', 'xenvg']]),
    # a run that died half-way: removed (lvremove reads the volume again, to refuse an open one), made again
    ('unfinished', {TMPL: TEMPLATE, BASE: BASE_ROW, 'web1-disk': dict(TEMPLATE, tags=['xf_guest'])}, 4096,
     True, [['(lvs)', 'xenvg'], ['(lvs)', 'xenvg'], ['lvremove', '--yes', 'xenvg/web1-disk'], ['(lvs)', 'xenvg'],
            snapshot_of(BASE)]),
]


class FakeMount(object):
    def __init__(self, rec):
        self.rec = rec

    def __call__(self, dev, options=None):
        self.rec.argv.append(['(mount)', dev])
        return self

    def __enter__(self):
        return '/mnt/fake'

    def __exit__(self, *exc):
        self.rec.argv.append(['(umount)'])


@pytest.mark.parametrize('what,volumes,size,changed,commands', CLONE_CASES, ids=[c[0] for c in CLONE_CASES])
def test_clone_commands(tmp_path, monkeypatch, what, volumes, size, changed, commands):
    rec = Recorder(volumes)
    monkeypatch.setattr(helper, 'LOCK_DIR', str(tmp_path))
    monkeypatch.setattr(helper, 'run', rec.run)
    monkeypatch.setattr(helper, 'lvs', rec.lvs)
    monkeypatch.setattr(helper, 'Mounted', FakeMount(rec))
    monkeypatch.setattr(helper, '_finish_disk', lambda vg, disk, spec, kernel_dir=None: (['/etc/hostname'], None))
    monkeypatch.setattr('sys.stdin', io.StringIO('{"guest": "web1", "files": []}'))
    got = helper.cmd_clone(helper.parser().parse_args(CLONE[:-2] + ['--size-mib=%d' % size, '--firstboot=-']))
    assert got['changed'] is changed
    assert rec.argv == commands
    if changed:
        assert got['template'] == TMPL and got['origin'] == (TMPL if size == 2048 else BASE)


def test_clone_refuses_a_missing_or_unfinished_template(tmp_path, monkeypatch):
    for volumes in ({}, {TMPL: dict(TEMPLATE, tags=[])}):
        rec = Recorder(volumes)
        monkeypatch.setattr(helper, 'LOCK_DIR', str(tmp_path))
        monkeypatch.setattr(helper, 'run', rec.run)
        monkeypatch.setattr(helper, 'lvs', rec.lvs)
        monkeypatch.setattr('sys.stdin', io.StringIO('{"guest": "web1", "files": []}'))
        with pytest.raises(helper.Failure, match='missing or unfinished'):
            helper.cmd_clone(helper.parser().parse_args(CLONE))
        assert [a for a in rec.argv if a[0] != '(lvs)'] == []


def superblock_image(path, blocks, log_block=2, incompat=0x80, blocks_hi=0, size=None):
    """A file with an ext4 superblock of BLOCKS blocks of 1024 << LOG_BLOCK bytes, SIZE bytes long."""
    import struct
    sb = bytearray(1024)
    struct.pack_into('<I', sb, 4, blocks)
    struct.pack_into('<I', sb, 24, log_block)
    struct.pack_into('<H', sb, 0x38, 0xEF53)
    struct.pack_into('<I', sb, 0x60, incompat)
    struct.pack_into('<I', sb, 0x150, blocks_hi)
    with open(path, 'wb') as f:
        f.write(b'\0' * 1024 + bytes(sb))
        f.truncate(size if size is not None else blocks * (1024 << log_block))
    return str(path)


FS_CASES = [
    ('fills the device', dict(blocks=1024), True),
    ('smaller than the device', dict(blocks=1024, size=2048 * 4096), False),
    ('within one block of the end', dict(blocks=1024, size=1024 * 4096 + 1000), True),
    ('64-bit count, the high half counts', dict(blocks=0, blocks_hi=1, size=4096), True),
    ('a 32-bit count', dict(blocks=1024, incompat=0), True),
]


@pytest.mark.parametrize('what,kw,fills', FS_CASES, ids=[c[0] for c in FS_CASES])
def test_fs_fills(tmp_path, what, kw, fills):
    assert helper.fs_fills(superblock_image(tmp_path / 'dev', **kw)) is fills


def test_fs_fills_is_false_without_an_ext_superblock(tmp_path):
    dev = tmp_path / 'dev'
    dev.write_bytes(b'\0' * 8192)
    assert helper.fs_fills(str(dev)) is False


@pytest.mark.parametrize('stdin', ['', 'not json', '["a list"]'])
def test_clone_refuses_a_bad_spec_before_anything(tmp_path, monkeypatch, stdin):
    monkeypatch.setattr(helper, 'LOCK_DIR', str(tmp_path))
    monkeypatch.setattr(helper, 'lvs', lambda vg: pytest.fail('looked at LVM with a bad spec'))
    monkeypatch.setattr('sys.stdin', io.StringIO(stdin))
    with pytest.raises(helper.Failure, match='first-boot spec'):
        helper.cmd_clone(helper.parser().parse_args(CLONE + ['--lease-guest=web1', '--lease-token=run-a']))
    assert not os.path.exists(os.path.join(str(tmp_path), 'lease-web1.json'))


def test_in_use_is_false_for_a_free_device():
    assert helper.in_use('/dev/null') is False


IMPORT_ARGS = [
    # the storage node's golden volumes are imported without a kernel copy
    (['--kernel-dir=/var/lib/xenfleet/templates/x'], '/var/lib/xenfleet/templates/x'),
    ([], None),
]


@pytest.mark.parametrize('extra,kernel_dir', IMPORT_ARGS)
def test_import_kernel_dir_is_optional(extra, kernel_dir):
    args = helper.parser().parse_args(['import', '--vg=v', '--pool=p', '--lv=l', '--image=/i', '--sha256=0',
                                       '--size-mib=2048'] + extra)
    assert args.kernel_dir == kernel_dir


# ---- survey: what placement needs from a Domain-0 in one run

class Proc(object):
    def __init__(self, returncode, stdout, stderr=''):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


# Captured on the lab's xen1 (Debian 12, session 9) and xen2 (Debian 13): dpkg-query prints the known packages in its
# own (sorted) order, nothing for an unknown one, its complaint on stderr, and exits 1.
DPKG_QUERY_LAB = Proc(1, 'debootstrap\tii \ne2fsprogs\tii \ngrub-xen-host\tii \nzstd\tii \n',
                      'dpkg-query: no packages found matching xen-tools\n')


@pytest.mark.parametrize('stdout, missing', [
    (DPKG_QUERY_LAB.stdout, ['xen-tools']),
    # removed with its configuration left (rc) or half-installed (iU) counts as missing
    ('debootstrap\trc \ne2fsprogs\tii \ngrub-xen-host\tiU \nzstd\tii \n', ['grub-xen-host', 'debootstrap', 'xen-tools']),
    ('', ['grub-xen-host', 'zstd', 'e2fsprogs', 'debootstrap', 'xen-tools']),
])
def test_packages_missing(monkeypatch, stdout, missing):
    calls = []

    def run(argv, check=True, **kw):
        calls.append(argv)
        return Proc(1, stdout, DPKG_QUERY_LAB.stderr)

    monkeypatch.setattr(helper, 'run', run)
    wanted = ['grub-xen-host', 'zstd', 'e2fsprogs', 'debootstrap', 'xen-tools']
    assert helper.packages_missing(wanted) == missing
    assert calls == [['dpkg-query', '--show', '--showformat', '${Package}\t${db:Status-Abbrev}\n'] + wanted]


@pytest.mark.parametrize('bad', ['zstd;reboot', '-x', 'Zstd', ''])
def test_packages_missing_refuses_bad_names(bad):
    with pytest.raises(helper.Failure):
        helper.packages_missing(['zstd', bad])


def test_survey_in_one_run(tmp_path, monkeypatch):
    tools = tmp_path / 'tools'
    tools.mkdir(mode=0o755)
    os.chmod(str(tools), 0o755)
    script = tools / 'xenfleet_guest.py'
    script.write_bytes(b'print(1)\n')
    os.chmod(str(script), 0o644)
    fact = tmp_path / 'xenfleet_storage.fact'
    fact.write_text('{"volumes": {"web1": "/dev/disk/by-path/ip-192.168.250.10:3260-lun-1"}}')
    monkeypatch.setattr(helper, 'lvs', lambda vg: {'web1-disk': {'tags': ['xf_guest', 'xf_ready']}} if vg == 'xenvg' else None)
    ran = []

    def run(argv, check=True, **kw):
        ran.append((argv, kw.get('timeout')))
        return DPKG_QUERY_LAB if argv[0] == 'dpkg-query' else Proc(0, 'xl says %s\n' % argv[-1])

    monkeypatch.setattr(helper, 'run', run)
    monkeypatch.setattr(helper, 'APT_LISTS', str(tmp_path / 'lists'))
    args = helper.parser().parse_args([
        'survey', '--vg', 'xenvg', '--packages', 'zstd,xen-tools', '--path', str(tools), '--path', str(script),
        '--path', str(tmp_path / 'missing'), '--fact', str(fact), '--xl'])
    out = helper.cmd_survey(args)
    # xl's output goes back raw (the control node parses it): argument lists, 30 s at most each
    assert (['xl', 'info'], 30) in ran and (['xl', 'list'], 30) in ran
    assert out['xl'] == {'info': {'rc': 0, 'stdout': 'xl says info\n', 'stderr': ''},
                         'list': {'rc': 0, 'stdout': 'xl says list\n', 'stderr': ''}}
    assert out['changed'] is False and out['vg_exists'] is True
    assert out['lvs']['web1-disk']['tags'] == ['xf_guest', 'xf_ready']
    assert out['packages_missing'] == ['xen-tools'] and out['apt_lists'] == 0
    assert out['paths'][str(tools)]['type'] == 'dir' and out['paths'][str(tools)]['mode'] == '0755'
    assert out['paths'][str(script)] == {'type': 'file', 'mode': '0644', 'uid': os.getuid(), 'gid': os.getgid(),
                                         'sha256': hashlib.sha256(b'print(1)\n').hexdigest()}
    assert out['paths'][str(tmp_path / 'missing')] is None
    assert out['fact']['volumes']['web1'].startswith('/dev/disk/by-path/')
    # no such volume group yet, no fact file: still an answer, not an error
    args = helper.parser().parse_args(['survey', '--vg', 'othervg', '--fact', str(tmp_path / 'none.fact')])
    out = helper.cmd_survey(args)
    assert out['vg_exists'] is False and out['lvs'] == {} and out['fact'] is None and out['packages_missing'] == []
    assert out['xl'] is None


def test_xl_capture_answers_for_a_hung_or_missing_xl(monkeypatch):
    got = helper.xl_capture(['/nonexistent/xl', 'info'])  # the real run: no such program
    assert got['rc'] == 127 and got['stdout'] == ''

    def hung(argv, check=True, **kw):
        raise helper.subprocess.TimeoutExpired(argv, kw['timeout'])

    monkeypatch.setattr(helper, 'run', hung)
    got = helper.xl_capture(['xl', 'info'])
    assert got['rc'] == 124 and 'within 30 s' in got['stderr']


def test_survey_refuses_a_relative_path():
    with pytest.raises(helper.Failure):
        helper.cmd_survey(helper.parser().parse_args(['survey', '--vg', 'xenvg', '--path', 'etc/xen']))


# ---- wait-ssh: a real listener on this machine's loopback; xl's answers are the lab's captures (xen-4.17 fixtures)

XL_FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'plugins', 'module_utils', 'fixtures', 'xen-4.17')


def xl_capture(base):
    """An xl run captured on the lab's xen1 (tests/unit/plugins/module_utils/fixtures/xen-4.17/BASE.{rc,out,err})."""
    parts = {}
    for ext in ('rc', 'out', 'err'):
        path = os.path.join(XL_FIXTURES, base + '.' + ext)
        with open(path) as f:
            parts[ext] = f.read()
    return Proc(int(parts['rc'].strip() or 0), parts['out'], parts['err'])


@pytest.fixture
def sshd():
    """A listener on 127.0.0.1 that greets like sshd; yields its port."""
    import socket
    import threading
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(4)

    def serve():
        while True:
            try:
                conn, dummy = server.accept()
            except OSError:
                return
            conn.sendall(b'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n')
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def test_wait_ssh_answers_with_the_banner(sshd, monkeypatch):
    monkeypatch.setattr(helper, 'run', lambda argv, check=True, **kw: xl_capture('xl_list_one'))
    out = helper.cmd_wait_ssh(helper.parser().parse_args(['wait-ssh', '127.0.0.1', '--port=%d' % sshd,
                                                          '--domain=capture-pv']))
    assert out['banner'].startswith('SSH-2.0-OpenSSH') and out['changed'] is False and out['seconds'] < 5


@needs_root
def test_wait_ssh_gives_the_lease_back_first(sshd, tmp_path, monkeypatch):
    # the role's clone took the lease; wait-ssh releases it before it polls (one process less while the guest boots)
    monkeypatch.setattr(helper, 'LOCK_DIR', str(tmp_path))
    monkeypatch.setattr(helper, 'run', lambda argv, check=True, **kw: xl_capture('xl_list_one'))
    assert helper.take_lease('capture-pv', 'run-a', 60)['acquired'] is True
    released_before_poll = []
    banner = helper.ssh_banner
    monkeypatch.setattr(helper, 'ssh_banner', lambda *a, **kw: released_before_poll.append(
        not os.path.exists(helper._lease_path('capture-pv'))) or banner(*a, **kw))
    out = helper.cmd_wait_ssh(helper.parser().parse_args(['wait-ssh', '127.0.0.1', '--port=%d' % sshd,
                                                          '--domain=capture-pv', '--release-lease=run-a']))
    assert out['lease_released'] is True and released_before_poll == [True]
    # another run's lease is never given back by a wrong token
    assert helper.take_lease('capture-pv', 'run-b', 60)['acquired'] is True
    out = helper.cmd_wait_ssh(helper.parser().parse_args(['wait-ssh', '127.0.0.1', '--port=%d' % sshd,
                                                          '--domain=capture-pv', '--release-lease=run-a']))
    assert out['lease_released'] is False
    assert helper.take_lease('capture-pv', 'run-c', 60)['acquired'] is False


def test_wait_ssh_release_lease_needs_the_domain(monkeypatch):
    monkeypatch.setattr(helper, 'ssh_banner', lambda *a, **kw: pytest.fail('waited with bad input'))
    with pytest.raises(helper.Failure, match='needs --domain'):
        helper.cmd_wait_ssh(helper.parser().parse_args(['wait-ssh', '10.0.0.1', '--release-lease=run-a']))


def test_wait_ssh_stops_when_the_domain_is_gone(monkeypatch):
    # nothing listens on port 1; the domain is not there (xl list NAME as the lab answers for a missing one)
    calls = []
    monkeypatch.setattr(helper, 'run', lambda argv, check=True, **kw: calls.append(argv) or xl_capture('err_list_missing'))
    with pytest.raises(helper.Failure, match='domain nosuch is gone'):
        helper.cmd_wait_ssh(helper.parser().parse_args(['wait-ssh', '127.0.0.1', '--port=1', '--timeout=30',
                                                        '--domain=nosuch']))
    assert calls == [['xl', 'list', 'nosuch']]


def test_wait_ssh_times_out():
    with pytest.raises(helper.Failure, match='did not answer within 1 s'):
        helper.cmd_wait_ssh(helper.parser().parse_args(['wait-ssh', '127.0.0.1', '--port=1', '--timeout=1']))


@pytest.mark.parametrize('argv', [['wait-ssh', 'guest;reboot'], ['wait-ssh', '10.0.0.1', '--port=0'],
                                  ['wait-ssh', '10.0.0.1', '--domain=a b']])
def test_wait_ssh_refuses_bad_input_before_anything(argv, monkeypatch):
    monkeypatch.setattr(helper, 'ssh_banner', lambda *a, **kw: pytest.fail('connected with bad input'))
    with pytest.raises(helper.Failure, match='invalid'):
        helper.cmd_wait_ssh(helper.parser().parse_args(argv))


def test_survey_refuses_when_it_is_not_the_expected_helper(monkeypatch, capsys):
    # the role's fast path runs the installed helper with the sha256 of its own copy: another version says so (exit 4)
    monkeypatch.setattr(helper, 'lvs', lambda vg: pytest.fail('surveyed with the wrong helper'))
    args = helper.parser().parse_args(['survey', '--vg', 'xenvg', '--expect-sha256', '0' * 64])
    assert helper.cmd_survey(args) == 4
    assert 'not the expected one' in capsys.readouterr().err
    with open(HELPER, 'rb') as f:
        mine = hashlib.sha256(f.read()).hexdigest()
    monkeypatch.setattr(helper, 'lvs', lambda vg: None)
    args = helper.parser().parse_args(['survey', '--vg', 'xenvg', '--expect-sha256', mine])
    assert helper.cmd_survey(args)['vg_exists'] is False
