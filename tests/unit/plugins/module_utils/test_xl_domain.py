# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""xen_domain's planning, table by table: desired config, comparison, MACs, steps, live changes, memory.

The running domain is the one captured on the lab hosts (``capture-pv``: ``xl list -l`` in
xl_list_l_one, ``xl list`` rows in xl_list_after_memset / xl_list_paused); rows of other states
are built from their state flags with xl_parse.decode_state, which test_xl_parse checks against
captures.
"""

from __future__ import annotations

import pytest

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_cfg
from ansible_collections.xenfleet.xen.plugins.module_utils import xl_domain as d
from ansible_collections.xenfleet.xen.plugins.module_utils import xl_parse
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_changes import ChangeTracker
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlValidationError
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import VERSIONS, guest_stdout

NAME = 'capture-pv'
DEFAULTS = {
    'state': 'present', 'type': None, 'memory': None, 'maxmem': None, 'vcpus': None, 'maxvcpus': None,
    'cpus': None, 'cpu_weight': None, 'cap': None, 'kernel': None, 'ramdisk': None, 'extra': None,
    'bootloader': None, 'disks': None, 'vifs': None, 'on_poweroff': None, 'on_reboot': None, 'on_crash': None,
    'raw': None, 'autostart': None, 'restart': False, 'shutdown_timeout': 120, 'force': False,
    'save_file': None, 'timeout': 300,
}


def params(**kw):
    out = dict(DEFAULTS)
    out.update(kw)
    return out


def running_facts(version):
    """``xl list -l capture-pv`` captured on the lab host, as the client reads it."""
    return xl_parse.domain_config_facts(xl_parse.parse_xl_list_long(guest_stdout(version, 'xl_list_l_one'))[0])


def row_of(version, capture):
    return xl_parse.parse_xl_list(guest_stdout(version, capture))[0]


def row(flags, memory=128):
    out = {'name': NAME, 'domid': 8, 'memory_mib': memory, 'vcpus': 1, 'cpu_time': 1.0}
    out.update(xl_parse.decode_state(flags))
    return out


def guest_params(running, **kw):
    """Options that describe the captured guest exactly (its kernel path differs per Xen version)."""
    base = dict(type='pv', memory=128, maxmem=256, vcpus=1, kernel=running['kernel'], ramdisk=running['ramdisk'],
                extra=running['cmdline'], vifs=[{'mac': '00:16:3e:00:00:01'}], on_crash='destroy')
    base.update(kw)
    return params(**base)


def current(config_text=None, row=None, running=None, live=None, nr_cpus=1, entry=None, target=None,
            save_file_exists=False):
    parsed, error = None, None
    if config_text is not None:
        try:
            parsed = xl_cfg.parse(config_text)
        except xl_cfg.XlCfgSyntaxError as exc:
            error = exc
    return {'config_path': '/etc/xen/%s.cfg' % NAME, 'config_text': config_text, 'config': parsed,
            'config_error': error, 'row': row, 'running': running, 'live': live or {}, 'nr_cpus': nr_cpus,
            'autostart_entry': entry, 'autostart_target': target, 'save_file_exists': save_file_exists}


def rendered(p):
    return xl_cfg.render(d.desired_config(NAME, p))


# --------------------------------------------------------------------------- desired config

def test_desired_config_of_the_captured_guest_matches_the_capture_script():
    cfg = d.desired_config(NAME, params(type='pv', memory=128, maxmem=256, vcpus=1, kernel='/boot/vmlinuz',
                                        ramdisk='/root/tiny.cpio.gz', extra='console=hvc0',
                                        vifs=[{'mac': '00:16:3E:00:00:01'}], on_crash='destroy'))
    assert cfg == {'name': NAME, 'type': 'pv', 'memory': 128, 'maxmem': 256, 'vcpus': 1, 'kernel': '/boot/vmlinuz',
                   'ramdisk': '/root/tiny.cpio.gz', 'extra': 'console=hvc0', 'vif': ['mac=00:16:3e:00:00:01'],
                   'on_crash': 'destroy'}
    assert xl_cfg.parse(xl_cfg.render(cfg)) == cfg


def test_disks_are_written_as_canonical_specs():
    cfg = d.desired_config('web1', params(memory=256, kernel='/k', disks=[
        {'target': '/dev/xenvg/web1', 'vdev': 'xvda'},
        {'target': '/srv/web1.qcow2', 'vdev': 'xvdb', 'format': 'qcow2', 'access': 'ro'},
        {'vdev': 'xvdc', 'devtype': 'cdrom', 'format': 'empty'},
    ]))
    assert cfg['disk'] == ['format=raw, vdev=xvda, access=rw, target=/dev/xenvg/web1',
                           'format=qcow2, vdev=xvdb, access=ro, target=/srv/web1.qcow2',
                           'format=empty, vdev=xvdc, access=ro, devtype=cdrom']


@pytest.mark.parametrize('raw', [{}, {'bios': 'seabios'}, {'firmware': 'bios'}, {'device_model_version': 'qemu-xen'}])
def test_hvm_direct_kernel_boot_through_qemu_xen_and_seabios(raw):
    """xl.cfg(5), Direct Kernel Boot: HVM with qemu-xen and SeaBIOS (the defaults) boots a kernel directly."""
    cfg = d.desired_config('web1', params(memory=256, type='hvm', kernel='/k/vmlinuz', ramdisk='/k/initrd.img',
                                          extra='root=/dev/xvda ro', raw=raw))
    assert (cfg['type'], cfg['kernel'], cfg['ramdisk'], cfg['extra']) == (
        'hvm', '/k/vmlinuz', '/k/initrd.img', 'root=/dev/xvda ro')


@pytest.mark.parametrize('kw, message', [
    (dict(kernel='/k'), 'memory is required'),
    (dict(memory=128), 'needs a kernel or a bootloader'),
    (dict(memory=128, maxmem=64, kernel='/k'), 'maxmem (64 MiB) is lower than memory (128 MiB)'),
    (dict(memory=128, vcpus=4, maxvcpus=2, kernel='/k'), 'maxvcpus (2) is lower than vcpus (4)'),
    (dict(memory=128, type='hvm', kernel='/k', raw={'bios': 'rombios'}), 'not with firmware rombios'),
    (dict(memory=128, type='hvm', kernel='/k', raw={'firmware': 'ovmf'}), 'not with firmware ovmf'),
    (dict(memory=128, type='hvm', kernel='/k', raw={'device_model_version': 'qemu-xen-traditional'}),
     'not with device_model_version qemu-xen-traditional'),
    (dict(memory=128, type='hvm', kernel='/k', raw={'device_model_stubdomain_override': 1}),
     'not with a device model stub domain'),
    (dict(memory=128, kernel='k'), 'must be an absolute path'),
    (dict(memory=128, kernel='/k', cpus='0-x'), 'is not a cpulist'),
    (dict(memory=128, kernel='/k', cpu_weight=0), 'scheduler weight must be between 1 and 65535'),
    (dict(memory=128, kernel='/k', raw={'memory': 256}), "raw: 'memory' has its own option"),
    (dict(memory=128, kernel='/k', raw={'Bad': 1}), 'is not an xl.cfg key'),
    (dict(memory=128, kernel='/k', raw={'x': -1}), 'no negative numbers'),
    (dict(memory=128, kernel='/k', disks=[{'target': '/a', 'vdev': 'xvda'}, {'target': '/b', 'vdev': 'xvda'}]),
     'vdev xvda used twice'),
    (dict(memory=128, kernel='/k', disks=[{'vdev': 'xvda'}]), 'target is required'),
    (dict(memory=128, kernel='/k', vifs=[{'mac': '00:16:3e:00:00:01'}, {'mac': '00:16:3e:00:00:01'}]),
     'MAC 00:16:3e:00:00:01 used twice'),
    (dict(memory=128, kernel='/k', vifs=[{'mac': '01:16:3e:00:00:01'}]), 'multicast'),
    (dict(memory=128, kernel='/k', vifs=[{'bridge': 'br0,mac=x'}]), 'without ","'),
    (dict(memory=128, kernel='/k', extra='a\nb'), 'must be one line'),
])
def test_invalid_options_are_refused(kw, message):
    with pytest.raises(XlValidationError) as exc:
        d.desired_config('web1', params(**kw))
    assert message in str(exc.value)


@pytest.mark.parametrize('name', ['Domain-0', '123', 'a b', '../etc', ''])
def test_invalid_names_are_refused(name):
    with pytest.raises(XlValidationError):
        d.desired_config(name, params(memory=128, kernel='/k'))


# --------------------------------------------------------------------------- MAC addresses

@pytest.mark.parametrize('vifs, existing_cfg, from_running, expected', [
    # derived from the name and index when nothing has one
    ([{}, {}], None, False, [xl_cfg.derive_mac(NAME, 0), xl_cfg.derive_mac(NAME, 1)]),
    # the config file's MAC is kept
    ([{}], {'vif': ['mac=00:16:3E:AA:BB:CC, bridge=xenbr0']}, False, ['00:16:3e:aa:bb:cc']),
    # the running domain's MAC is kept when the file has none (xl had picked a random one)
    ([{}], None, True, ['00:16:3e:00:00:01']),
    # the file wins over the running domain
    ([{}], {'vif': ['mac=00:16:3e:aa:bb:cc']}, True, ['00:16:3e:aa:bb:cc']),
    # a MAC given wins over everything
    ([{'mac': '00:16:3E:12:34:56'}], {'vif': ['mac=00:16:3e:aa:bb:cc']}, True, ['00:16:3e:12:34:56']),
    # a second vif added later gets a derived MAC, the first keeps its own
    ([{}, {}], {'vif': ['mac=00:16:3e:aa:bb:cc']}, False, ['00:16:3e:aa:bb:cc', xl_cfg.derive_mac(NAME, 1)]),
])
@pytest.mark.parametrize('version', VERSIONS)
def test_macs_are_never_regenerated(version, vifs, existing_cfg, from_running, expected):
    running = running_facts(version) if from_running else None
    cfg = d.desired_config(NAME, params(memory=128, kernel='/k', vifs=vifs), existing_cfg, running)
    assert [xl_cfg.parse_vif_spec(s)['mac'] for s in cfg['vif']] == expected


def test_derived_macs_are_stable_and_in_xens_range():
    mac = xl_cfg.derive_mac('web1', 0)
    assert mac == xl_cfg.derive_mac('web1', 0) and mac.startswith('00:16:3e:')
    assert mac != xl_cfg.derive_mac('web1', 1) != xl_cfg.derive_mac('web2', 0)


# --------------------------------------------------------------------------- comparing configs

@pytest.mark.parametrize('existing', [
    # another author's layout, quoting and comments, and deprecated disk syntax: same meaning
    "# hand-written\nname='web1'\ntype = 'pv'   # pv\nmemory = '256'\nkernel = '/k'\n"
    "disk = [ 'phy:/dev/xenvg/web1,xvda,w' ]\nvif = [ 'bridge=xenbr0,mac=00:16:3E:00:00:05' ]\n",
    "name = \"web1\"; type = \"pv\"; memory = 256; kernel = \"/k\"\n"
    "disk = [ \"vdev=xvda, target=/dev/xenvg/web1\" ]\nvif = [ \"mac=00:16:3e:00:00:05, bridge=xenbr0\" ]\n",
])
def test_same_meaning_is_no_change(existing):
    p = params(type='pv', memory=256, kernel='/k', disks=[{'target': '/dev/xenvg/web1', 'vdev': 'xvda'}],
               vifs=[{'bridge': 'xenbr0'}])
    desired = d.desired_config('web1', p, xl_cfg.parse(existing))
    assert d.config_differences(xl_cfg.parse(existing), desired) == []


@pytest.mark.parametrize('existing, expected_keys', [
    ('name = "web1"\ntype = "pv"\nmemory = 256\nkernel = "/k"\n', []),
    ('name = "web1"\ntype = "pv"\nmemory = 128\nkernel = "/k"\n', ['memory']),
    ('name = "web1"\ntype = "pv"\nmemory = 256\nkernel = "/k"\nvcpus = 2\n', ['vcpus']),
    ('name = "web1"\ntype = "hvm"\nmemory = 256\nkernel = "/k"\nsdl = 1\n', ['type', 'sdl']),
])
def test_differences_name_the_keys(existing, expected_keys):
    desired = d.desired_config('web1', params(memory=256, kernel='/k'))
    assert [k for k, dummy, dummy2 in d.config_differences(xl_cfg.parse(existing), desired)] == expected_keys


# --------------------------------------------------------------------------- steps

@pytest.mark.parametrize('state, flags, steps, after', [
    ('present', None, [], 'absent'),
    ('present', '-b----', [], 'running'),
    ('running', None, ['create'], 'running'),
    ('running', '-b----', [], 'running'),
    ('running', 'r-----', [], 'running'),
    ('running', '--p---', ['unpause'], 'running'),
    ('running', '---s--', ['destroy', 'create'], 'running'),
    ('running', '---sc-', ['destroy', 'create'], 'running'),
    ('running', '-----d', ['wait_gone', 'create'], 'running'),
    ('paused', None, ['create_paused'], 'paused'),
    ('paused', '-b----', ['pause'], 'paused'),
    ('paused', '--p---', [], 'paused'),
    ('shutdown', None, [], 'absent'),
    ('shutdown', '-b----', ['shutdown'], 'absent'),
    ('shutdown', '--p---', ['unpause', 'shutdown'], 'absent'),
    ('shutdown', '--ps--', ['destroy'], 'absent'),
    ('absent', '-b----', ['shutdown'], 'absent'),
    ('absent', None, [], 'absent'),
    ('saved', '-b----', ['save'], 'absent'),
    ('saved', '--p---', ['save'], 'absent'),
    ('restored', None, ['restore'], 'running'),
    ('restored', '-b----', [], 'running'),
])
def test_steps_to_each_state(state, flags, steps, after):
    p = params(state=state, memory=128, kernel='/k', save_file='/var/lib/xen/save/x.save')
    text = rendered(p)
    plan = d.make_plan(NAME, p, current(text, row(flags) if flags else None, running={},
                                        save_file_exists=True))
    assert plan.steps == steps
    assert plan.state_after == after
    assert plan.write_config is False


@pytest.mark.parametrize('state, flags, save_exists, message', [
    ('saved', None, False, 'nothing to save'),
    ('saved', '---s--', True, 'only a running or paused domain can be saved'),
    ('restored', None, False, 'does not exist'),
    ('restored', '---s--', True, 'cannot be restored over'),
])
def test_impossible_requests_fail_before_anything(state, flags, save_exists, message):
    p = params(state=state, save_file='/var/lib/xen/save/x.save')
    with pytest.raises(d.PlanError) as exc:
        d.make_plan(NAME, p, current('name = "x"\n', row(flags) if flags else None, running={},
                                     save_file_exists=save_exists))
    assert message in str(exc.value)


def test_saved_domain_gone_and_file_there_is_no_change():
    p = params(state='saved', save_file='/var/lib/xen/save/x.save')
    plan = d.make_plan(NAME, p, current('name = "x"\n', None, save_file_exists=True))
    assert plan.steps == [] and plan.state_after == 'absent'


def test_starting_without_a_config_fails():
    with pytest.raises(d.PlanError) as exc:
        d.make_plan(NAME, params(state='running'), current(None))
    assert 'has no configuration' in str(exc.value)


def test_a_broken_file_is_replaced_when_managed_and_refused_otherwise():
    broken = 'memory = \n'
    plan = d.make_plan(NAME, params(state='present', memory=128, kernel='/k'), current(broken))
    assert plan.write_config and 'could not be parsed' in plan.warnings[0]
    with pytest.raises(d.PlanError) as exc:
        d.make_plan(NAME, params(state='running'), current(broken))
    assert ':1: the value must start on the same line' in str(exc.value)


def test_absent_removes_the_file_and_the_autostart_entry():
    plan = d.make_plan(NAME, params(state='absent', memory=128, kernel='/k'),
                       current('name = "capture-pv"\nmemory = 128\n', row('-b----'), running={},
                               entry='/etc/xen/auto/capture-pv', target='/etc/xen/capture-pv.cfg'))
    assert plan.steps == ['shutdown'] and plan.remove_config and not plan.write_config
    assert plan.autostart == ('unlink', '/etc/xen/auto/capture-pv', None)
    tracker = ChangeTracker()
    d.record_plan(plan, tracker)
    assert tracker.diff()[0]['after_header'] == '/etc/xen/capture-pv.cfg (absent)'


@pytest.mark.parametrize('autostart, entry, target, expected', [
    (True, None, None, ('link', '/etc/xen/auto/capture-pv', '/etc/xen/capture-pv.cfg')),
    (True, '/etc/xen/auto/capture-pv', '/etc/xen/capture-pv.cfg', None),
    (True, '/etc/xen/auto/capture-pv.cfg', '/etc/xen/capture-pv.cfg', None),
    (True, '/etc/xen/auto/capture-pv', None, ('link', '/etc/xen/auto/capture-pv', '/etc/xen/capture-pv.cfg')),
    (False, '/etc/xen/auto/capture-pv', '/etc/xen/capture-pv.cfg', ('unlink', '/etc/xen/auto/capture-pv', None)),
    (False, None, None, None),
    (None, '/etc/xen/auto/capture-pv', '/etc/xen/capture-pv.cfg', None),
])
def test_autostart(autostart, entry, target, expected):
    p = params(memory=128, kernel='/k', autostart=autostart)
    plan = d.make_plan(NAME, p, current(rendered(p), entry=entry, target=target))
    assert plan.autostart == expected


def test_autostart_contradicting_absent_is_refused():
    with pytest.raises(d.PlanError):
        d.make_plan(NAME, params(state='absent', autostart=True), current(None))


# --------------------------------------------------------------------------- live changes and restarts

@pytest.mark.parametrize('version', VERSIONS)
def test_the_captured_guest_is_in_line_with_its_options(version):
    running = running_facts(version)
    p = guest_params(running, state='running')
    plan = d.make_plan(NAME, p, current(rendered(p), row_of(version, 'xl_list_after_memset'), running))
    assert (plan.config_changes, plan.live, plan.restart_reasons, plan.steps) == ([], [], [], [])


@pytest.mark.parametrize('kw, live, reasons', [
    (dict(memory=96), [('memory', 128, 96, 'mem_set', ('capture-pv', '96m'))], []),
    (dict(memory=200), [('memory', 128, 200, 'mem_set', ('capture-pv', '200m'))], []),
    (dict(memory=300, maxmem=None), [], ['memory']),
    (dict(maxmem=200), [('maxmem', 256, 200, 'mem_max', ('capture-pv', '200m'))], []),
    (dict(memory=96, maxmem=200), [('memory', 128, 96, 'mem_set', ('capture-pv', '96m')),
                                   ('maxmem', 256, 200, 'mem_max', ('capture-pv', '200m'))], []),
    (dict(maxmem=512), [], ['maxmem']),
    (dict(vcpus=2), [], ['vcpus']),
    (dict(maxvcpus=2), [], ['maxvcpus']),
    (dict(kernel='/boot/vmlinuz-new'), [], ['kernel']),
    (dict(extra='console=hvc0 quiet'), [], ['extra']),
    (dict(vifs=[{'mac': '00:16:3e:00:00:09'}]), [], ['vif']),
    (dict(vifs=[{'mac': '00:16:3e:00:00:01'}, {}]), [], ['vif']),
    (dict(on_crash='restart'), [], ['on_crash']),
    (dict(on_reboot='restart'), [], []),
    (dict(raw={'tsc_mode': 'native'}), [], ['tsc_mode']),
    (dict(disks=[{'target': '/dev/xenvg/x', 'vdev': 'xvda'}]), [], ['disk']),
])
@pytest.mark.parametrize('version', VERSIONS)
def test_live_changes_and_restart_reasons(version, kw, live, reasons):
    running = running_facts(version)
    before = guest_params(running)
    p = guest_params(running, state='running', **kw)
    plan = d.make_plan(NAME, p, current(rendered(before), row_of(version, 'xl_list_after_memset'), running))
    assert [(c.key, c.before, c.after, c.op, c.args) for c in plan.live] == live
    assert [r['key'] for r in plan.restart_reasons] == reasons
    assert plan.steps == []
    assert plan.write_config is bool(plan.config_changes)


@pytest.mark.parametrize('version', VERSIONS)
def test_restart_true_restarts_instead_of_live_changes(version):
    running = running_facts(version)
    p = guest_params(running, state='running', memory=96, kernel='/boot/vmlinuz-new', restart=True)
    plan = d.make_plan(NAME, p, current(rendered(guest_params(running)), row_of(version, 'xl_list_after_memset'),
                                        running))
    assert plan.restart and plan.steps == ['shutdown', 'create'] and plan.live == []
    assert plan.memory_needed_mib == 96 and plan.memory_freed_mib == 96  # xl list: 96 MiB after mem-set


@pytest.mark.parametrize('version', VERSIONS)
def test_a_paused_domain_restarts_paused(version):
    running = running_facts(version)
    p = guest_params(running, state='paused', kernel='/boot/vmlinuz-new', restart=True)
    plan = d.make_plan(NAME, p, current(rendered(guest_params(running)), row_of(version, 'xl_list_paused'), running))
    assert plan.steps == ['unpause', 'shutdown', 'create_paused']


@pytest.mark.parametrize('version', VERSIONS)
def test_pending_restart_is_still_reported_after_the_file_was_written(version):
    """A rerun finds the file already changed: the restart reason comes from the running domain."""
    running = running_facts(version)
    p = guest_params(running, state='running', kernel='/boot/vmlinuz-new')
    plan = d.make_plan(NAME, p, current(rendered(p), row_of(version, 'xl_list_after_memset'), running))
    assert plan.config_changes == [] and [r['key'] for r in plan.restart_reasons] == ['kernel']
    tracker = ChangeTracker()
    d.record_plan(plan, tracker)
    assert not tracker.changed


@pytest.mark.parametrize('desired, affinity, nr_cpus, pinned', [
    ('0', ['all'], 1, False),
    ('0', ['all'], 2, True),
    ('0-1', ['all', 'all'], 2, False),
    ('all', ['0'], 2, True),
    ('1', ['1'], 4, False),
    ('nodes:0', ['all'], 2, True),
])
def test_cpu_pinning(desired, affinity, nr_cpus, pinned):
    running = {'memory_mib': 128, 'maxmem_mib': 128, 'vcpus': 1, 'maxvcpus': 1, 'type': 'pv', 'kernel': '/k',
               'vifs': [], 'disks': []}
    p = params(state='running', memory=128, kernel='/k', cpus=desired)
    plan = d.make_plan(NAME, p, current(rendered(p), row('-b----'), running, live={'affinity': affinity},
                                        nr_cpus=nr_cpus))
    assert [(c.op, c.args) for c in plan.live] == ([('vcpu_pin', (NAME, 'all', desired))] if pinned else [])


@pytest.mark.parametrize('vcpus, live', [
    (2, [('vcpus', 1, 2, 'vcpu_set', (NAME, 2), {'ignore_host': True})]),
    (1, []),
])
def test_vcpu_set_within_the_maximum_ignores_the_host_cpus(vcpus, live):
    # xl vcpu-set refuses more vCPUs than the host has pCPUs unless --ignore-host, and xl create does not
    running = {'memory_mib': 128, 'maxmem_mib': 128, 'vcpus': 1, 'maxvcpus': 2, 'type': 'pv', 'kernel': '/k',
               'vifs': [], 'disks': []}
    p = params(state='running', memory=128, kernel='/k', vcpus=vcpus, maxvcpus=2)
    plan = d.make_plan(NAME, p, current(rendered(p), row('-b----'), running))
    assert [(c.key, c.before, c.after, c.op, c.args, c.kwargs) for c in plan.live] == live
    assert plan.restart_reasons == [] and plan.steps == []


@pytest.mark.parametrize('weight, cap, live', [
    (256, 0, []),
    (512, None, [('cpu_weight', 256, 512, {'weight': 512})]),
    (None, 50, [('cap', 0, 50, {'cap': 50})]),
    (512, 50, [('cpu_weight', 256, 512, {'weight': 512}), ('cap', 0, 50, {'cap': 50})]),
])
@pytest.mark.parametrize('version', VERSIONS)
def test_scheduler_weight_and_cap(version, weight, cap, live):
    sched = xl_parse.parse_sched(guest_stdout(version, 'xl_sched_credit2_guest'))[0]
    running = running_facts(version)
    p = guest_params(running, state='running', cpu_weight=weight, cap=cap)
    plan = d.make_plan(NAME, p, current(rendered(p), row_of(version, 'xl_list_after_memset'), running,
                                        live={'sched': sched}))
    assert [(c.key, c.before, c.after, c.kwargs) for c in plan.live] == live


@pytest.mark.parametrize('cpus, nr, expected', [
    ('all', 4, {0, 1, 2, 3}), ('0-3,^2', 8, {0, 1, 3}), ('1,3', 2, {1}), ('nodes:0', 2, None), ('all', None, None),
])
def test_cpuset(cpus, nr, expected):
    result = d.cpuset(cpus, nr)
    assert (set(result) if result is not None else None) == expected


# --------------------------------------------------------------------------- memory

@pytest.mark.parametrize('need, free, freed, ok', [
    (128, 1000, 0, True), (1000, 1000, 0, True), (1001, 1000, 0, False), (1100, 1000, 128, True),
    (60000, 1000, 0, False),
])
def test_memory_fit(need, free, freed, ok):
    plan = d.Plan()
    plan.memory_needed_mib, plan.memory_freed_mib = need, freed
    if ok:
        d.check_memory(plan, free, 2047, 'xen1')
    else:
        with pytest.raises(d.PlanError) as exc:
            d.check_memory(plan, free, 2047, 'xen1')
        assert 'needs %d MiB' % need in str(exc.value) and 'free_memory %d MiB' % free in str(exc.value)
        assert 'nothing was changed' in str(exc.value)
        assert exc.value.details == {'needed_mib': need, 'free_mib': free, 'freed_mib': freed}


def test_describe_and_record_agree_with_the_plan():
    p = params(state='running', memory=128, kernel='/k', autostart=True)
    plan = d.make_plan(NAME, p, current(None))
    assert d.describe(plan, NAME) == ['write /etc/xen/capture-pv.cfg', 'create capture-pv',
                                      'link /etc/xen/auto/capture-pv -> /etc/xen/capture-pv.cfg']
    tracker = ChangeTracker()
    d.record_plan(plan, tracker)
    assert tracker.changed and tracker.keys('state') == ['state'] and tracker.keys('autostart')
    assert tracker.diff()[0]['after'] == xl_cfg.render(plan.config_after)
