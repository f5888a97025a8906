# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""xen_migrate end to end in-process: probe, pre-checks, migration and failure, over lab captures.

``xl migrate`` runs as a timed process; its stderr is the one captured on the lab (capture-xl.sh
with a PEER: the pvh guest capture-pvh, since the lab's Xen cannot live-migrate pv guests), replayed
line by line on a fake clock.  The refusal of the ssh probe is the output
of the dom0 role's forced command (roles/dom0/files/xenfleet-migrate-receive).
"""

from __future__ import annotations

import pytest

from ansible_collections.xenfleet.xen.plugins.modules import xen_migrate
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import (
    VERSIONS,
    capture,
    guest_stdout,
)
from ansible_collections.xenfleet.xen.tests.unit.plugins.modules.xen_module_helpers import FakeProcess, run

NAME = 'capture-pvh'
TARGET = '10.0.0.2'
SSH_PROBE = ('ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=15', TARGET, 'true')
# roles/dom0/files/xenfleet-migrate-receive: refuse() exits 126 with this message
REFUSED = (126, '', "xenfleet: refused: this key may only run 'xl migrate-receive'\n")
UNREACHABLE = (255, '', 'ssh: connect to host 10.0.0.2 port 22: No route to host\r\n')


def ok(version, name):
    return (0, guest_stdout(version, name), '')


def missing(version):
    return capture(version, 'err_list_missing')


def target_facts(**kw):
    out = {'host': 'xen2', 'address': TARGET, 'xen_version': '4.17.7', 'xen_major': 4, 'xen_minor': 17,
           'free_memory_mib': 1000, 'total_memory_mib': 2047,
           'domain': {'name': NAME, 'exists': False, 'state': 'absent', 'domid': None},
           'paths': {}, 'paths_from': 'config', 'receiver': None, 'probed_at': 0}
    out.update(kw)
    return out


def version_facts(version, **kw):
    from ansible_collections.xenfleet.xen.plugins.module_utils import xl_parse
    info = xl_parse.xen_facts(xl_parse.parse_xl_info(guest_stdout(version, 'xl_info')))
    return target_facts(xen_version=info['xen_version'], **kw)


def source_table(version, after=None, name=NAME, row='xl_list_pvh'):
    return {
        ('list', name): [ok(version, row), after or missing(version)],
        ('list', name + '--migratedaway'): missing(version),
        ('list', '-l', name): ok(version, 'xl_list_l_pvh'),
        ('info',): ok(version, 'xl_info'),
    }


def spread(text, first=0.5, last=30.0, stream='stderr'):
    """The captured lines of ``text``, spread evenly between ``first`` and ``last`` seconds."""
    rows = text.splitlines()
    step = (last - first) / max(len(rows) - 1, 1)
    return [(first + i * step, stream, line) for i, line in enumerate(rows)]


def migrate_scripts(version, name='xl_migrate'):
    rc, out, err = capture(version, name)
    return {
        'xl': (rc, spread(err)),
        'xenstore-watch': (0, [(0.0, 'stdout', '/local/domain/8/control/shutdown'),
                               (22.0, 'stdout', '/local/domain/8/control/shutdown')]),
    }


@pytest.mark.parametrize('version', VERSIONS)
def test_probe_on_the_target(monkeypatch, tmp_path, version):
    table = {('info',): ok(version, 'xl_info'), ('list', NAME): missing(version)}
    result, failed, dispatch = run(monkeypatch, xen_migrate.main,
                                   {'name': NAME, 'mode': 'probe', 'target': TARGET}, table, tmp_path)
    assert not failed, result
    facts = result['target_facts']
    assert result['changed'] is False and facts['address'] == TARGET and facts['xen_major'] == 4
    assert facts['domain']['exists'] is False and facts['receiver'] is None
    assert dispatch.commands == [('info',), ('list', NAME)]


@pytest.mark.parametrize('version', VERSIONS)
def test_migration_over_ssh(monkeypatch, tmp_path, version):
    args = {'name': NAME, 'target': TARGET, 'target_facts': version_facts(version)}
    result, failed, dispatch = run(monkeypatch, xen_migrate.main, args, source_table(version), tmp_path,
                                   other={SSH_PROBE: REFUSED}, scripts=migrate_scripts(version), diff=True)
    assert not failed, result
    assert result['changed'] and result['migrated']
    assert all(c['ok'] for c in result['checks']), result['checks']
    assert result['cmd'][-4:] == ['/usr/sbin/xl', 'migrate', NAME, TARGET]
    assert result['total_seconds'] == pytest.approx(30.0)
    assert result['downtime']['method'] == 'xenstore' and result['downtime_seconds'] > 0
    assert result['events']['sender_success'] <= result['total_seconds']
    assert result['diff'] == {'before': {'runs_on': 'source'}, 'after': {'runs_on': 'target'}}
    xl_run = [p for p in FakeProcess.started if p.kind == 'xl'][0]
    assert xl_run.env_update == {'LC_ALL': 'C', 'LANG': 'C'}


@pytest.mark.parametrize('version', VERSIONS)
def test_migration_over_socat(monkeypatch, tmp_path, version):
    receiver = {'address': TARGET, 'port': 8002, 'source_address': '10.0.0.1', 'pid': 99, 'expires_in': 300}
    args = {'name': NAME, 'target': TARGET, 'transport': 'socat',
            'target_facts': version_facts(version, receiver=receiver)}
    result, failed, dummy = run(monkeypatch, xen_migrate.main, args, source_table(version), tmp_path,
                                scripts=migrate_scripts(version))
    assert not failed, result
    assert result['cmd'][-5:] == ['migrate', '-s', '', NAME, 'socat -b524288 - TCP:10.0.0.2:8002']


@pytest.mark.parametrize('kw, failing', [
    (dict(free_memory_mib=64), 'memory: capture-pvh holds 128 MiB; the target has 64 MiB free'),
    (dict(xen_version='4.20.1'), 'version: target Xen 4.20 is more than one minor release newer'),
    (dict(domain={'name': NAME, 'exists': True, 'state': 'paused', 'domid': 4}),
     'name: a domain capture-pvh is paused'),
])
def test_failed_prechecks_touch_nothing(monkeypatch, tmp_path, kw, failing):
    version = 'xen-4.17'
    args = {'name': NAME, 'target': TARGET, 'target_facts': target_facts(**kw)}
    result, failed, dummy = run(monkeypatch, xen_migrate.main, args, source_table(version), tmp_path,
                                other={SSH_PROBE: REFUSED})
    assert failed and 'was not touched' in result['msg'] and failing in result['msg']
    assert FakeProcess.started == []


@pytest.mark.parametrize('source, target, reason', [
    ('xen-4.17', 'xen-4.20', 'version: target Xen 4.20 is more than one minor release newer than source 4.17'),
    ('xen-4.20', 'xen-4.17', 'version: target Xen 4.17 is older than source 4.20'),
])
def test_xen_versions_of_the_two_debian_releases_are_refused(monkeypatch, tmp_path, source, target, reason):
    """Debian 12 (Xen 4.17) and Debian 13 (Xen 4.20), as their `xl info` reports them on the lab, fail
    Ganeti's rule both ways: refused before xl migrate runs, unless check_version=false."""
    args = {'name': NAME, 'target': TARGET, 'target_facts': version_facts(target)}
    result, failed, dummy = run(monkeypatch, xen_migrate.main, args, source_table(source), tmp_path,
                                other={SSH_PROBE: REFUSED})
    assert failed and 'was not touched' in result['msg'] and reason in result['msg'], result['msg']
    assert [c['ok'] for c in result['checks'] if c['name'] == 'version'] == [False]
    assert FakeProcess.started == []
    args['check_version'] = False
    result, failed, dummy = run(monkeypatch, xen_migrate.main, args, source_table(source), tmp_path,
                                other={SSH_PROBE: REFUSED}, check_mode=True)
    assert not failed and result['changed'], result
    assert [c['detail'] for c in result['checks'] if c['name'] == 'version'][0].startswith('not enforced')


def test_an_unreachable_target_is_refused(monkeypatch, tmp_path):
    args = {'name': NAME, 'target': TARGET, 'target_facts': target_facts()}
    result, failed, dummy = run(monkeypatch, xen_migrate.main, args, source_table('xen-4.17'), tmp_path,
                                other={SSH_PROBE: UNREACHABLE})
    assert failed and 'trust: the target cannot be reached' in result['msg'] and 'No route to host' in result['msg']
    assert FakeProcess.started == []


def test_already_on_the_target_is_ok_and_unchanged(monkeypatch, tmp_path):
    running_there = target_facts(domain={'name': NAME, 'exists': True, 'state': 'running', 'domid': 3})
    result, failed, dispatch = run(monkeypatch, xen_migrate.main,
                                   {'name': NAME, 'target': TARGET, 'target_facts': running_there},
                                   {('list', NAME): missing('xen-4.17')}, tmp_path)
    assert not failed and result['changed'] is False and result['migrated'] is False
    assert dispatch.commands == [('list', NAME)]


def test_nowhere_to_be_found_fails(monkeypatch, tmp_path):
    result, failed, dummy = run(monkeypatch, xen_migrate.main, {'name': NAME, 'target': TARGET},
                                {('list', NAME): missing('xen-4.17')}, tmp_path)
    assert failed and 'does not exist on this host' in result['msg']


def test_check_mode_runs_the_checks_only(monkeypatch, tmp_path):
    args = {'name': NAME, 'target': TARGET, 'target_facts': target_facts()}
    result, failed, dummy = run(monkeypatch, xen_migrate.main, args, source_table('xen-4.17'), tmp_path,
                                other={SSH_PROBE: REFUSED}, check_mode=True)
    assert not failed and result['changed'] and not result['migrated']
    assert FakeProcess.started == []


@pytest.mark.parametrize('version', VERSIONS)
def test_a_pv_guest_is_refused_without_shadow_paging(monkeypatch, tmp_path, version):
    table = {('list', 'capture-pv'): ok(version, 'xl_list_after_memset'),
             ('list', '-l', 'capture-pv'): ok(version, 'xl_list_l_one'),
             ('info',): ok(version, 'xl_info')}
    result, failed, dummy = run(monkeypatch, xen_migrate.main,
                                {'name': 'capture-pv', 'target': TARGET, 'target_facts': version_facts(version)},
                                table, tmp_path, other={SSH_PROBE: REFUSED})
    assert failed and 'logdirty: a pv guest is migrated with shadow paging' in result['msg']
    assert FakeProcess.started == []


@pytest.mark.parametrize('version', VERSIONS)
def test_a_failed_migration_leaves_the_guest_on_the_source(monkeypatch, tmp_path, version):
    """capture-big does not fit the target's free memory; without target_facts only xl can tell."""
    args = {'name': 'capture-big', 'target': TARGET}
    after = ok(version, 'xl_list_after_failed_migrate')
    table = source_table(version, after=after, name='capture-big', row='xl_list_after_failed_migrate')
    result, failed, dummy = run(monkeypatch, xen_migrate.main, args, table, tmp_path,
                                other={SSH_PROBE: REFUSED}, scripts=migrate_scripts(version, 'err_migrate_nomem'))
    assert failed, result
    assert result['error'] == 'MigrationError'
    assert result['guest_on_source'] is True and result['source_state'] == 'running'
    assert result['resumed_at_source'] is True and result['renamed_away'] is False
    assert 'is still running on the source' in result['msg']


@pytest.mark.parametrize('args, message', [
    ({'name': NAME, 'target': '10.0.0.2; reboot'}, 'not a host name'),
    ({'name': NAME, 'target': TARGET, 'port': 0}, 'port must be between'),
    ({'name': NAME, 'target': TARGET, 'mode': 'probe', 'transport': 'socat'}, 'needs source_address'),
    ({'name': NAME, 'target': TARGET, 'transport': 'carrier-pigeon'}, 'transport'),
])
def test_invalid_arguments(monkeypatch, tmp_path, args, message):
    result, failed, dispatch = run(monkeypatch, xen_migrate.main, args, {}, tmp_path)
    assert failed and message in result['msg']
    assert dispatch.commands == []
