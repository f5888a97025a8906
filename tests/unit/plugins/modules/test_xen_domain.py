# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""xen_domain end to end in-process, over xl output captured on the lab hosts (see fixtures/*/SOURCE.md).

The guest is the lab's ``capture-pv`` (lab/tinyguest/capture-xl.sh); its options are read back from
its captured ``xl list -l`` so that they match the kernel of each Xen version.  Files live under
a temporary root.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_cfg
from ansible_collections.xenfleet.xen.plugins.module_utils import xl_parse
from ansible_collections.xenfleet.xen.plugins.modules import xen_domain
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import (
    VERSIONS,
    capture,
    guest_stdout,
    stdout_of,
    write,
)
from ansible_collections.xenfleet.xen.tests.unit.plugins.modules.xen_module_helpers import run

NAME = 'capture-pv'
CFG = '/etc/xen/capture-pv.cfg'


def ok(version, name):
    """A captured successful run (stdout as captured)."""
    return (0, guest_stdout(version, name), capture(version, name)[2])


def missing(version):
    """The real answer of `xl list` for a domain that does not exist (captured as `xl list nosuch`)."""
    return capture(version, 'err_list_missing')


def options(version, **kw):
    running = xl_parse.domain_config_facts(xl_parse.parse_xl_list_long(guest_stdout(version, 'xl_list_l_one'))[0])
    args = dict(name=NAME, type='pv', memory=128, maxmem=256, vcpus=1, kernel=running['kernel'],
                ramdisk=running['ramdisk'], extra=running['cmdline'], vifs=[{'mac': '00:16:3e:00:00:01'}],
                on_crash='destroy')
    args.update(kw)
    return args


def cfg_text(root):
    path = os.path.join(str(root), CFG.lstrip('/'))
    return open(path).read() if os.path.exists(path) else None


def running_table(version, extra=None):
    table = {
        ('list', NAME): ok(version, 'xl_list_after_memset'),
        ('list', '-l', NAME): ok(version, 'xl_list_l_one'),
    }
    table.update(extra or {})
    return table


# --------------------------------------------------------------------------- the libvirt pattern

@pytest.mark.parametrize('version', VERSIONS)
def test_check_run_then_real_run_then_rerun(monkeypatch, tmp_path, version):
    """community.libvirt's pattern: check run changed -> real run changed (same changes) -> rerun unchanged."""
    args = options(version, state='running')

    def absent_then_created():
        return {
            ('list', NAME): [missing(version), ok(version, 'xl_list_after_memset')],
            ('info',): ok(version, 'xl_info'),
            ('create', CFG): capture(version, 'create_pv'),
        }
    check, failed, dispatch = run(monkeypatch, xen_domain.main, args, absent_then_created(), tmp_path,
                                  check_mode=True, diff=True)
    assert not failed, check
    assert check['changed'] and check['state'] == 'running' and check['state_before'] == 'absent'
    assert ('create', CFG) not in dispatch.commands and cfg_text(tmp_path) is None
    assert check['actions'] == ['write %s' % CFG, 'create %s' % NAME]

    real, failed, dispatch = run(monkeypatch, xen_domain.main, args, absent_then_created(), tmp_path, diff=True)
    assert not failed, real
    assert real['changed'] and real['changes'] == check['changes'] and real['diff'] == check['diff']
    assert dispatch.commands == [('list', NAME), ('info',), ('create', CFG), ('list', NAME)]
    assert xl_cfg.parse(cfg_text(tmp_path)) == real['config']
    assert real['state'] == 'running' and real['domain']['name'] == NAME

    again, failed, dispatch = run(monkeypatch, xen_domain.main, args, running_table(version), tmp_path, diff=True)
    assert not failed, again
    assert again['changed'] is False and again['diff'] == [] and again['changes'] == []
    assert again['live_changes'] == [] and again['restart_required'] is False
    # nothing changed: the domain's row is the one inspect read, no second `xl list` (seconds on an emulated host)
    assert dispatch.commands == [('list', NAME), ('list', '-l', NAME)]
    assert again['state'] == 'running' and again['domain']['name'] == NAME


@pytest.mark.parametrize('version', VERSIONS)
def test_a_differently_written_file_with_the_same_meaning_is_left_alone(monkeypatch, tmp_path, version):
    args = options(version, state='running')
    text = "# written by hand\nname='capture-pv'; type='pv'\nmemory = '128'\nmaxmem=256\nvcpus=1\n" \
           "kernel='%s'\nramdisk='%s'\nextra='%s'\nvif=['mac=00:16:3E:00:00:01']\non_crash='destroy'\n" \
           % (args['kernel'], args['ramdisk'], args['extra'])
    write(tmp_path, CFG, text)
    result, failed, dummy = run(monkeypatch, xen_domain.main, args, running_table(version), tmp_path)
    assert not failed and result['changed'] is False
    assert cfg_text(tmp_path) == text


# --------------------------------------------------------------------------- live changes

@pytest.mark.parametrize('version', VERSIONS)
def test_live_mem_set_without_restart(monkeypatch, tmp_path, version):
    write(tmp_path, CFG, xl_cfg.render(xl_cfg.normalize(dict(
        name=NAME, **{k: val for k, val in xen_domain_cfg(version).items() if k != 'name'}))))
    args = options(version, state='running', memory=96)
    table = running_table(version, {('mem-set', NAME, '96m'): capture(version, 'xl_memset')})
    result, failed, dispatch = run(monkeypatch, xen_domain.main, args, table, tmp_path, diff=True)
    assert not failed, result
    assert result['changed'] and result['live_changes'] == [
        {'key': 'memory', 'before': 128, 'after': 96, 'command': 'mem_set'}]
    assert result['restart_required'] is False and result['restarted'] is False
    assert ('mem-set', NAME, '96m') in dispatch.commands and ('shutdown', NAME) not in dispatch.commands
    assert 'memory = 96' in cfg_text(tmp_path)
    text_diff, values = result['diff']
    assert '-memory = 128' not in text_diff['after'] and 'memory = 96' in text_diff['after']
    assert values == {'before': {'live': {'memory': 128}}, 'after': {'live': {'memory': 96}}}


@pytest.mark.parametrize('version', VERSIONS)
def test_after_mem_set_the_rerun_changes_nothing(monkeypatch, tmp_path, version):
    """libxl reports the new target in `xl list -l` after mem-set (captured): no second mem-set."""
    args = options(version, state='running', memory=96)
    write(tmp_path, CFG, xl_cfg.render(xen_domain_cfg(version, memory=96)))
    table = running_table(version, {('list', '-l', NAME): ok(version, 'xl_list_l_after_memset')})
    result, failed, dummy = run(monkeypatch, xen_domain.main, args, table, tmp_path)
    assert not failed, result
    assert result['changed'] is False and result['live_changes'] == []


@pytest.mark.parametrize('version', VERSIONS)
def test_scheduler_and_pinning_are_applied_live(monkeypatch, tmp_path, version):
    args = options(version, state='running', cpu_weight=512, cap=50, cpus='0')
    write(tmp_path, CFG, xl_cfg.render(xen_domain_cfg(version)))
    table = running_table(version, {
        ('sched-credit2', '-d', NAME): [ok(version, 'xl_sched_credit2_guest'), ok(version, 'xl_sched_credit2_guest'),
                                        ok(version, 'xl_sched_credit2_after_set')],
        ('vcpu-list', NAME): ok(version, 'xl_vcpu_list_guest'),
        ('info',): ok(version, 'xl_info'),
        ('sched-credit2', '-d', NAME, '-w', '512'): ok(version, 'xl_sched_credit2_set'),
        ('sched-credit2', '-d', NAME, '-c', '50'): ok(version, 'xl_sched_credit2_set'),
    })
    result, failed, dispatch = run(monkeypatch, xen_domain.main, args, table, tmp_path)
    assert not failed, result
    keys = [c['key'] for c in result['live_changes']]
    # one pCPU in the lab: "all" and "0" are the same set, so no vcpu-pin
    assert keys == ['cpu_weight', 'cap']
    assert ('sched-credit2', '-d', NAME, '-w', '512') in dispatch.commands


@pytest.mark.parametrize('version', VERSIONS)
def test_restart_needed_is_reported_and_done_only_when_asked(monkeypatch, tmp_path, version):
    write(tmp_path, CFG, xl_cfg.render(xen_domain_cfg(version)))
    args = options(version, state='running', extra='console=hvc0 xenfleet_name=capture-pv quiet')
    result, failed, dispatch = run(monkeypatch, xen_domain.main, args, running_table(version), tmp_path)
    assert not failed, result
    assert result['changed'] and result['restart_required'] and not result['restarted']
    assert [r['key'] for r in result['restart_reasons']] == ['extra']
    assert ('shutdown', NAME) not in dispatch.commands

    # rerun: the file already says so; still pending, nothing changes
    result, failed, dummy = run(monkeypatch, xen_domain.main, args, running_table(version), tmp_path)
    assert not failed and not result['changed'] and result['restart_required']

    # with restart: shutdown until gone, then create from the file
    table = running_table(version, {
        ('list', NAME): [ok(version, 'xl_list_after_memset'), ok(version, 'xl_list_shutting_down'),
                         missing(version), missing(version), ok(version, 'xl_list_one')],
        ('shutdown', NAME): capture(version, 'xl_shutdown_nowait'),
        ('info',): ok(version, 'xl_info'),
        ('create', CFG): capture(version, 'create_pv'),
    })
    result, failed, dispatch = run(monkeypatch, xen_domain.main, dict(args, restart=True), table, tmp_path)
    assert not failed, result
    assert result['restarted'] and not result['restart_required']
    assert dispatch.commands.index(('shutdown', NAME)) < dispatch.commands.index(('create', CFG))


# --------------------------------------------------------------------------- states

# 10 s after `xl shutdown` (no wait), Xen 4.17 still listed the domain as --ps-- (nobody had applied on_poweroff yet),
# while on Xen 4.20 its xl had already reaped it: `xl list` said "invalid domain identifier" (both captured)
UNREAPED = [v for v in VERSIONS if capture(v, 'xl_list_after_shutdown_nowait')[0] == 0]
REAPED = [v for v in VERSIONS if v not in UNREAPED]


@pytest.mark.parametrize('version', REAPED)
def test_shutdown_of_a_domain_its_xl_reaps_needs_no_destroy(monkeypatch, tmp_path, version):
    reaped = capture(version, 'xl_list_after_shutdown_nowait')
    assert 'invalid domain identifier' in reaped[2]
    table = running_table(version, {
        ('list', NAME): [ok(version, 'xl_list_after_memset'), ok(version, 'xl_list_shutting_down'), reaped],
        ('shutdown', NAME): capture(version, 'xl_shutdown_nowait'),
    })
    result, failed, dispatch = run(monkeypatch, xen_domain.main, {'name': NAME, 'state': 'shutdown'}, table, tmp_path)
    assert not failed, result
    assert result['changed'] and result['state'] == 'absent' and not result['destroyed_after_timeout']
    assert ('destroy', NAME) not in dispatch.commands


@pytest.mark.parametrize('version', UNREAPED)
def test_shutdown_destroys_the_shut_down_domain_nobody_reaps(monkeypatch, tmp_path, version):
    """Captured: after `xl shutdown`, the domain stays listed as --ps-- until its xl applies on_poweroff.

    The module destroys it; the captured `xl destroy` lost the race with that xl ("No such process"),
    which is fine as long as the domain is gone afterwards.
    """
    shut_down = ok(version, 'xl_list_after_shutdown_nowait')
    table = running_table(version, {
        ('list', NAME): [ok(version, 'xl_list_after_memset'), ok(version, 'xl_list_shutting_down'), shut_down,
                         shut_down, missing(version)],
        ('shutdown', NAME): capture(version, 'xl_shutdown_nowait'),
        ('destroy', NAME): capture(version, 'xl_destroy'),
    })
    result, failed, dispatch = run(monkeypatch, xen_domain.main, {'name': NAME, 'state': 'shutdown'}, table, tmp_path)
    assert not failed, result
    assert result['changed'] and result['state'] == 'absent' and result['shutdown_seconds'] >= 1
    assert not result['destroyed_after_timeout']
    assert dispatch.commands.index(('shutdown', NAME)) < dispatch.commands.index(('destroy', NAME))
    assert capture(version, 'xl_destroy')[0] != 0  # the race, as captured


@pytest.mark.parametrize('version', UNREAPED)
def test_a_failed_destroy_of_a_domain_still_there_is_an_error(monkeypatch, tmp_path, version):
    shut_down = ok(version, 'xl_list_after_shutdown_nowait')
    table = running_table(version, {
        ('list', NAME): [ok(version, 'xl_list_after_memset'), shut_down],
        ('shutdown', NAME): capture(version, 'xl_shutdown_nowait'),
        ('destroy', NAME): capture(version, 'xl_destroy'),
    })
    result, failed, dummy = run(monkeypatch, xen_domain.main, {'name': NAME, 'state': 'shutdown'}, table, tmp_path)
    assert failed and result['error'] == 'XlCommandError' and 'No such process' in result['stderr']


@pytest.mark.parametrize('version', VERSIONS)
def test_shutdown_waits_until_the_domain_is_gone(monkeypatch, tmp_path, version):
    table = running_table(version, {
        ('list', NAME): [ok(version, 'xl_list_after_memset'), ok(version, 'xl_list_shutting_down'),
                         ok(version, 'xl_list_shutting_down'), missing(version)],
        ('shutdown', NAME): capture(version, 'xl_shutdown_nowait'),
    })
    result, failed, dispatch = run(monkeypatch, xen_domain.main, {'name': NAME, 'state': 'shutdown'}, table, tmp_path)
    assert not failed, result
    assert result['changed'] and result['state'] == 'absent' and result['shutdown_seconds'] >= 1
    assert ('destroy', NAME) not in dispatch.commands


@pytest.mark.parametrize('force', [False, True])
@pytest.mark.parametrize('version', VERSIONS)
def test_shutdown_timeout_fails_or_escalates(monkeypatch, tmp_path, version, force):
    still_there = ok(version, 'xl_list_after_memset')
    table = running_table(version, {
        # the waiter polls once a second for 5 s (7 rows with the first look), then destroy loses the race
        ('list', NAME): [still_there] * 7 + ([missing(version)] if force else [still_there]),
        ('shutdown', NAME): capture(version, 'xl_shutdown_nowait'),
        ('destroy', NAME): capture(version, 'xl_destroy'),
    })
    args = {'name': NAME, 'state': 'shutdown', 'shutdown_timeout': 5, 'force': force}
    result, failed, dispatch = run(monkeypatch, xen_domain.main, args, table, tmp_path)
    if force:
        assert not failed, result
        assert result['destroyed_after_timeout'] and ('destroy', NAME) in dispatch.commands
    else:
        assert failed and result['error'] == 'XlTimeoutError'
        assert 'did not shut down within 5s' in result['msg'] and 'force=true' in result['msg']
        assert ('destroy', NAME) not in dispatch.commands


@pytest.mark.parametrize('version', VERSIONS)
def test_pause_and_unpause(monkeypatch, tmp_path, version):
    write(tmp_path, CFG, xl_cfg.render(xen_domain_cfg(version)))
    table = running_table(version, {('pause', NAME): capture(version, 'xl_pause')})
    result, failed, dispatch = run(monkeypatch, xen_domain.main, options(version, state='paused'), table, tmp_path)
    assert not failed and result['changed'] and ('pause', NAME) in dispatch.commands
    table = running_table(version, {('list', NAME): ok(version, 'xl_list_paused'),
                                    ('unpause', NAME): capture(version, 'xl_unpause')})
    result, failed, dispatch = run(monkeypatch, xen_domain.main, options(version, state='running'), table, tmp_path)
    assert not failed and result['changed'] and ('unpause', NAME) in dispatch.commands
    assert result['state_before'] == 'paused'


@pytest.mark.parametrize('version', VERSIONS)
def test_save_and_restore(monkeypatch, tmp_path, version):
    save = '/var/lib/xen/save/capture-pv.save'
    table = running_table(version, {
        ('list', NAME): [ok(version, 'xl_list_after_memset'), missing(version)],
        ('save', NAME, save): capture(version, 'xl_save'),
    })
    args = {'name': NAME, 'state': 'saved', 'save_file': save}
    result, failed, dispatch = run(monkeypatch, xen_domain.main, args, table, tmp_path)
    assert not failed, result
    assert result['changed'] and result['state'] == 'absent' and ('save', NAME, save) in dispatch.commands
    write(tmp_path, save, 'saved image')
    result, failed, dummy = run(monkeypatch, xen_domain.main, args, {('list', NAME): missing(version)}, tmp_path)
    assert not failed and not result['changed']
    table = {('list', NAME): [missing(version), ok(version, 'xl_list_after_restore')],
             ('restore', save): capture(version, 'xl_restore')}
    result, failed, dispatch = run(monkeypatch, xen_domain.main, dict(args, state='restored'), table, tmp_path)
    assert not failed, result
    assert result['changed'] and result['state'] == 'running'


@pytest.mark.parametrize('version', VERSIONS)
def test_absent_removes_config_and_autostart(monkeypatch, tmp_path, version):
    write(tmp_path, CFG, xl_cfg.render(xen_domain_cfg(version)))
    os.makedirs(os.path.join(str(tmp_path), 'etc/xen/auto'))
    os.symlink(CFG, os.path.join(str(tmp_path), 'etc/xen/auto', NAME))
    table = {('list', NAME): missing(version)}
    result, failed, dummy = run(monkeypatch, xen_domain.main, {'name': NAME, 'state': 'absent'}, table, tmp_path,
                                diff=True)
    assert not failed, result
    assert result['changed'] and cfg_text(tmp_path) is None
    assert not os.path.lexists(os.path.join(str(tmp_path), 'etc/xen/auto', NAME))
    assert result['diff'][0]['after_header'] == CFG + ' (absent)'
    result, failed, dummy = run(monkeypatch, xen_domain.main, {'name': NAME, 'state': 'absent'}, table, tmp_path)
    assert not failed and not result['changed']


@pytest.mark.parametrize('version', VERSIONS)
def test_autostart_link(monkeypatch, tmp_path, version):
    write(tmp_path, CFG, xl_cfg.render(xen_domain_cfg(version)))
    args = options(version, autostart=True)
    table = running_table(version)
    result, failed, dummy = run(monkeypatch, xen_domain.main, args, table, tmp_path)
    assert not failed and result['changed']
    assert os.readlink(os.path.join(str(tmp_path), 'etc/xen/auto', NAME)) == CFG
    result, failed, dummy = run(monkeypatch, xen_domain.main, args, table, tmp_path)
    assert not failed and not result['changed']


# --------------------------------------------------------------------------- refusals and errors

@pytest.mark.parametrize('version', VERSIONS)
def test_a_guest_that_does_not_fit_is_refused_before_anything(monkeypatch, tmp_path, version):
    free = xl_parse.xen_facts(xl_parse.parse_xl_info(stdout_of(version, 'xl_info')))['free_memory']
    args = options(version, state='running', memory=60000, maxmem=None)
    table = {('list', NAME): missing(version), ('info',): ok(version, 'xl_info')}
    result, failed, dispatch = run(monkeypatch, xen_domain.main, args, table, tmp_path)
    assert failed
    assert 'needs 60000 MiB' in result['msg'] and 'free_memory %d MiB' % free in result['msg']
    assert result['needed_mib'] == 60000 and result['free_mib'] == free
    assert cfg_text(tmp_path) is None and dispatch.commands == [('list', NAME), ('info',)]


@pytest.mark.parametrize('create_capture, error, in_msg', [
    ('err_create_nomem', 'XlOutOfMemoryError', ()),
    # libxc says "Out of memory" when the guest's own memory cannot hold its kernel: the message says so,
    # and does not blame the host
    ('err_create_kernel_too_big', 'XlGuestTooSmallError',
     ('memory is too small to load its kernel', 'segment kernel too large')),
    ('err_create_nobridge', 'XlDeviceError', ()),
])
@pytest.mark.parametrize('version', VERSIONS)
def test_a_failed_create_is_typed(monkeypatch, tmp_path, version, create_capture, error, in_msg):
    args = options(version, state='running')
    table = {('list', NAME): missing(version), ('info',): ok(version, 'xl_info'),
             ('create', CFG): capture(version, create_capture)}
    result, failed, dummy = run(monkeypatch, xen_domain.main, args, table, tmp_path)
    assert failed and result['error'] == error
    for text in in_msg:
        assert text in result['msg']


#: What xl create printed on a lab Domain-0 (Xen 4.17, the guests scenario, two guests created at once on one busy
#: Domain-0 under QEMU/TCG; copied from that run's log, .lab/helpers/logs/s5/gs.log): vif-bridge missed libxl's
#: hotplug deadline.
HOTPLUG_TIMEOUT = (3, '', 'Parsing config from /etc/xen/capture-pv.cfg\n'
                   'libxl: error: libxl_aoutils.c:539:async_exec_timeout: killing execution of '
                   '/etc/xen/scripts/vif-bridge online because of timeout\n'
                   'libxl: error: libxl_create.c:1921:domcreate_attach_devices: Domain 1:unable to add vif devices\n'
                   'libxl: error: libxl_domain.c:1183:libxl__destroy_domid: Domain 1:Non-existant domain\n'
                   'libxl: error: libxl_domain.c:1137:domain_destroy_callback: Domain 1:Unable to destroy guest\n'
                   'libxl: error: libxl_domain.c:1064:domain_destroy_cb: Domain 1:Destruction of domain failed\n')


@pytest.mark.parametrize('version', VERSIONS)
def test_a_hotplug_timeout_is_created_once_more(monkeypatch, tmp_path, version):
    warned = []
    monkeypatch.setattr(xen_domain.AnsibleModule, 'warn', lambda self, text: warned.append(text))
    args = options(version, state='running')
    table = {('list', NAME): [missing(version), missing(version), ok(version, 'xl_list_after_memset')],
             ('info',): ok(version, 'xl_info'),
             ('create', CFG): [HOTPLUG_TIMEOUT, capture(version, 'create_pv')]}
    result, failed, dispatch = run(monkeypatch, xen_domain.main, args, table, tmp_path)
    assert not failed, result
    assert result['changed'] and result['state'] == 'running'
    assert dispatch.commands == [('list', NAME), ('info',), ('create', CFG), ('list', NAME), ('create', CFG),
                                 ('list', NAME)]
    assert len(warned) == 1 and 'hotplug script timed out' in warned[0] and 'created again' in warned[0]


@pytest.mark.parametrize('version', VERSIONS)
def test_a_second_hotplug_timeout_fails_with_its_cause(monkeypatch, tmp_path, version):
    args = options(version, state='running')
    table = {('list', NAME): missing(version), ('info',): ok(version, 'xl_info'),
             ('create', CFG): HOTPLUG_TIMEOUT}
    result, failed, dispatch = run(monkeypatch, xen_domain.main, args, table, tmp_path)
    assert failed and result['error'] == 'XlHotplugTimeoutError'
    assert 'Domain-0 too busy' in result['msg'] and 'vif-bridge online because of timeout' in result['msg']
    assert dispatch.commands.count(('create', CFG)) == 2


@pytest.mark.parametrize('args, message', [
    ({'name': 'web1; reboot'}, 'is not valid'),
    ({'name': 'web1', 'state': 'saved'}, 'save_file'),
    ({'name': 'web1', 'memory': 128}, 'needs a kernel or a bootloader'),
    ({'name': 'web1', 'state': 'saved', 'save_file': 'relative.save'}, 'absolute path'),
    ({'name': 'web1', 'shutdown_timeout': 0}, 'at least 1 second'),
    ({'name': 'web1', 'on_crash': 'explode'}, 'on_crash'),
])
def test_invalid_arguments_fail_before_running_anything(monkeypatch, tmp_path, args, message):
    result, failed, dispatch = run(monkeypatch, xen_domain.main, args, {}, tmp_path)
    assert failed and message in result['msg']
    assert dispatch.commands == []


def test_no_xl(monkeypatch, tmp_path):
    result, failed, dummy = run(monkeypatch, xen_domain.main, {'name': 'web1'}, {}, tmp_path, paths={})
    assert failed and result['error'] == 'XenNotAvailableError'


def xen_domain_cfg(version, **kw):
    """The config xen_domain writes for the captured guest."""
    from ansible_collections.xenfleet.xen.plugins.module_utils import xl_domain
    from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.test_xl_domain import params
    args = options(version, **kw)
    args.pop('name')
    return xl_domain.desired_config(NAME, params(**args))
