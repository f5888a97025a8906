# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live migration's pure parts, table by table: the trust probe, the pre-checks, the timeline.

Source facts come from the lab captures (``xl info``, ``xl list -l capture-pvh``): the lab's Xen 4.17.7 has no
shadow paging, so only pvh (and hvm) guests can be live-migrated there, and capture-xl.sh migrates a pvh guest.
The ssh probe and ``xl migrate`` output are the lab's (capture-xl.sh run with a PEER), replayed with their lines.
"""

from __future__ import annotations

import pytest

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_argv
from ansible_collections.xenfleet.xen.plugins.module_utils import xl_migrate as m
from ansible_collections.xenfleet.xen.plugins.module_utils import xl_parse
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlMigrationError, classify_failure
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import (
    VERSIONS,
    capture,
    guest_stdout,
    stdout_of,
)

NAME = 'capture-pvh'


def source_info(version):
    return xl_parse.xen_facts(xl_parse.parse_xl_info(stdout_of(version, 'xl_info')))


def source_config(version, capture='xl_list_l_pvh'):
    return xl_parse.domain_config_facts(xl_parse.parse_xl_list_long(guest_stdout(version, capture))[0])


def source_row(version, capture='xl_list_pvh'):
    return xl_parse.parse_xl_list(guest_stdout(version, capture))[0]


def facts(**kw):
    out = {'host': 'xen2', 'address': '10.0.0.2', 'xen_version': '4.17.7', 'xen_major': 4, 'xen_minor': 17,
           'free_memory_mib': 1000, 'total_memory_mib': 2047,
           'domain': {'name': NAME, 'exists': False, 'state': 'absent', 'domid': None},
           'paths': {}, 'paths_from': 'config', 'receiver': None, 'probed_at': 0}
    out.update(kw)
    return out


TRUST_OK = {'name': 'trust', 'ok': True, 'trust': 'restricted', 'detail': ''}


# --------------------------------------------------------------------------- the trust probe

@pytest.mark.parametrize('rc, err, ok, trust', [
    (126, "xenfleet: refused: this key may only run 'xl migrate-receive'\n", True, 'restricted'),
    (0, '', True, 'unrestricted'),
    (255, 'ssh: connect to host 10.0.0.2 port 22: Connection refused\r\n', False, None),
    (255, 'Host key verification failed.\r\n', False, None),
    (126, 'bash: true: Permission denied\n', False, None),
])
def test_ssh_probe_is_interpreted(rc, err, ok, trust):
    check = m.interpret_ssh_probe(rc, '', err)
    assert (check['ok'], check['trust']) == (ok, trust)
    if not ok:
        assert 'exited %d' % rc in check['detail']


@pytest.mark.parametrize('version', VERSIONS)
@pytest.mark.parametrize('name, ok', [('ssh_probe_refused', True), ('ssh_probe_unreachable', False)])
def test_ssh_probe_captures(version, name, ok):
    rc, out, err = capture(version, name)
    assert m.interpret_ssh_probe(rc, out, err)['ok'] is ok


def test_ssh_probe_argv():
    assert m.ssh_probe_argv('10.0.0.2') == ['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=15', '10.0.0.2',
                                            'true']
    assert m.ssh_probe_argv('10.0.0.2', ['ssh', '-p', '2222'])[:3] == ['ssh', '-p', '2222']
    with pytest.raises(Exception):
        m.ssh_probe_argv('10.0.0.2; reboot')


# --------------------------------------------------------------------------- pre-checks

def _checks(version, target=None, check_version=True, config=None):
    checks = m.precheck(NAME, source_row(version), config or source_config(version), source_info(version), target,
                        TRUST_OK, check_version)
    return {c['name']: c for c in checks}


@pytest.mark.parametrize('target, failing', [
    (facts(), []),
    (facts(free_memory_mib=64), ['memory']),
    (facts(xen_version='4.20.1'), ['version']),
    (facts(xen_version='4.18.0'), []),
    (facts(xen_version='5.0.0'), ['version']),
    (facts(domain={'name': NAME, 'exists': True, 'state': 'running', 'domid': 3}), ['name']),
    (facts(free_memory_mib=64, xen_version='4.16.0'), ['memory', 'version']),
])
@pytest.mark.parametrize('version', ['xen-4.17'])
def test_prechecks(version, target, failing):
    checks = _checks(version, target)
    assert sorted(n for n, c in checks.items() if c['ok'] is False) == failing
    assert set(checks) == {'trust', 'source', 'logdirty', 'memory', 'version', 'name', 'disks'}


def test_memory_check_names_the_figures():
    check = _checks('xen-4.17', facts(free_memory_mib=64))['memory']
    assert check['detail'] == 'capture-pvh holds 128 MiB; the target has 64 MiB free'


@pytest.mark.parametrize('domain_type, caps, ok', [
    ('pv', ['pv', 'hvm', 'hap', 'shadow'], True),
    ('pv', ['pv', 'hvm', 'hap', 'gnttab-v1', 'gnttab-v2'], False),
    ('pvh', ['pv', 'hvm', 'hap'], True),
    ('hvm', ['pv', 'hvm', 'shadow'], True),
    ('hvm', ['pv'], False),
    (None, [], True),
])
def test_logdirty_check(domain_type, caps, ok):
    assert m.logdirty_check('web1', domain_type, caps)['ok'] is ok


@pytest.mark.parametrize('version', VERSIONS)
def test_a_pv_guest_cannot_leave_a_xen_without_shadow_paging(version):
    """The lab's Xen (Debian 12 4.17.7, Debian 13 4.20) is built without CONFIG_SHADOW_PAGING."""
    info = source_info(version)
    check = m.logdirty_check('capture-pv', source_config(version, 'xl_list_l_one')['type'], info['virt_caps'])
    assert check['ok'] is ('shadow' in info['virt_caps'])
    if not check['ok']:
        assert 'built without CONFIG_SHADOW_PAGING' in check['detail']


@pytest.mark.parametrize('version', VERSIONS)
def test_the_real_pv_migration_failure_is_the_missing_logdirty(version):
    rc, out, err = capture(version, 'err_migrate_pv_nologdirty')
    assert rc != 0 and 'Failed to enable logdirty' in err
    exc = classify_failure(['/usr/sbin/xl', 'migrate', 'capture-pv', '10.0.0.2'], rc, out, err)
    assert isinstance(exc, XlMigrationError) and exc.resumed_at_source is True
    assert xl_parse.parse_xl_list(guest_stdout(version, 'xl_list_after_pv_migrate'))[0]['active']


def test_version_rule_can_be_relaxed():
    checks = _checks('xen-4.17', facts(xen_version='4.20.1'), check_version=False)
    assert checks['version']['ok'] is True and 'not enforced' in checks['version']['detail']


def test_without_target_facts_the_target_checks_are_skipped():
    checks = _checks('xen-4.17', None)
    assert [checks[n]['ok'] for n in ('memory', 'version', 'name', 'disks')] == [None] * 4
    assert checks['source']['ok'] is True


@pytest.mark.parametrize('paths, ok, words', [
    ({'/dev/xenvg/web1': True}, True, '1 disk path(s), all present'),
    ({'/dev/xenvg/web1': False}, False, 'missing on the target: /dev/xenvg/web1'),
    ({}, False, 'not checked by the probe'),
])
def test_disks_must_exist_on_the_target(paths, ok, words):
    config = dict(source_config('xen-4.17'), disks=[{'target': '/dev/xenvg/web1', 'vdev': 'xvda'},
                                                    {'target': None, 'vdev': 'xvdc'}])
    check = _checks('xen-4.17', facts(paths=paths), config=config)['disks']
    assert check['ok'] is ok and words in check['detail']


def test_a_domain_that_is_not_running_cannot_leave():
    row = dict(source_row('xen-4.17'), state='shutdown')
    checks = m.precheck(NAME, row, source_config('xen-4.17'), source_info('xen-4.17'), facts(), TRUST_OK)
    assert [c['ok'] for c in checks if c['name'] == 'source'] == [False]


# --------------------------------------------------------------------------- argv of both transports

def test_migrate_argv_ssh_and_socat():
    assert xl_argv.migrate(NAME, host='10.0.0.2') == ['migrate', NAME, '10.0.0.2']
    argv = xl_argv.migrate(NAME, receiver_command=['socat', m.SOCAT_BUFFER, '-', 'TCP:10.0.0.2:8002'])
    assert argv == ['migrate', '-s', '', NAME, 'socat -b524288 - TCP:10.0.0.2:8002']


# --------------------------------------------------------------------------- the timeline

SENDER_AND_TARGET = [
    # (seconds, line): the order xl_migrate.c prints them in; the target's lines come through ssh
    (0.9, 'migration target: Ready to receive domain.'),
    (1.0, 'Saving to migration stream new xl format (info 0x3/0x0/1237)'),
    (1.2, 'Loading new save file <incoming migration stream> (new xl fmt info 0x3/0x0/1237)'),
    (1.3, ' Savefile contains xl domain config in JSON format'),
    (1.4, 'Parsing config from <saved>'),
    (24.0, 'migration target: Transfer complete, requesting permission to start domain.'),
    (24.1, 'migration sender: Target has acknowledged transfer.'),
    (24.2, 'migration sender: Giving target permission to start.'),
    (24.3, 'migration target: Got permission, starting domain.'),
    (24.9, 'migration target: Domain started successsfully.'),
    (25.0, 'migration sender: Target reports successful startup.'),
    (25.1, 'Migration successful.'),
]


def lines(pairs, start=100.0, stream='stderr'):
    return [(start + t, stream, text) for t, text in pairs]


def test_events_and_downtime_by_each_method():
    watch = lines([(0.1, '/local/domain/8/control/shutdown'), (19.5, '/local/domain/8/control/shutdown'),
                   (19.6, '/local/domain/8/control/shutdown')], stream='stdout')
    replies = [(0.2 * i, '64 bytes from 10.0.0.50: icmp_seq=%d ttl=64 time=1.0 ms' % (i + 1))
               for i in range(0, 98)] + [(25.3, '64 bytes from 10.0.0.50: icmp_seq=127 ttl=64 time=3 ms')]
    ping = lines(replies, stream='stdout')
    result = m.analyse(100.0, 125.2, lines(SENDER_AND_TARGET), watch, ping, 0.2)
    assert result['total_seconds'] == 25.2
    assert result['events']['target_ready'] == 0.9 and result['events']['sender_success'] == 25.1
    downtime = result['downtime']
    assert downtime['suspend_to_start_seconds'] == 5.4
    assert downtime['transfer_complete_to_start_seconds'] == 0.9
    assert downtime['ping']['max_gap_seconds'] == 5.9 and downtime['ping']['lost'] == 28
    assert (downtime['method'], downtime['seconds']) == ('ping', 5.9)
    assert [e['event'] for e in result['timeline'] if e['source'] == 'xenstore'] == ['suspend_requested']


def test_downtime_without_ping_uses_the_suspend_request():
    watch = lines([(0.1, 'w'), (19.5, 'w')], stream='stdout')
    result = m.analyse(100.0, 125.2, lines(SENDER_AND_TARGET), watch)
    assert (result['downtime']['method'], result['downtime']['seconds']) == ('xenstore', 5.4)


def test_downtime_without_watchers_is_a_lower_bound_from_the_protocol():
    result = m.analyse(100.0, 125.2, lines(SENDER_AND_TARGET))
    assert (result['downtime']['method'], result['downtime']['seconds']) == ('protocol', 0.9)


def test_socat_has_only_the_senders_lines():
    sender_only = [p for p in SENDER_AND_TARGET if not p[1].startswith('migration target')]
    watch = lines([(0.1, 'w'), (19.5, 'w')], stream='stdout')
    result = m.analyse(100.0, 125.2, lines(sender_only), watch)
    # the sender learns of the start when the target reports it
    assert result['downtime']['suspend_to_start_seconds'] == 5.5


@pytest.mark.parametrize('version', VERSIONS)
def test_every_step_of_a_real_migration_is_recognised(version):
    rc, out, err = capture(version, 'xl_migrate')
    assert rc == 0
    seen = [m.classify_line(line) for line in err.splitlines()]
    for event in ('target_ready', 'target_transfer_complete', 'sender_acknowledged', 'target_got_permission',
                  'target_started', 'sender_target_started', 'sender_success'):
        assert event in seen, (event, err)


@pytest.mark.parametrize('version', VERSIONS)
def test_a_real_failed_migration_resumes_at_the_source(version):
    rc, out, err = capture(version, 'err_migrate_nomem')
    assert rc != 0
    exc = classify_failure(['/usr/sbin/xl', 'migrate', 'capture-big', '10.0.0.2'], rc, out, err)
    assert isinstance(exc, XlMigrationError)
    assert exc.resumed_at_source is True
    assert xl_parse.parse_xl_list(guest_stdout(version, 'xl_list_after_failed_migrate'))[0]['active']


# --------------------------------------------------------------------------- the target's side

class FakeClient(object):
    def __init__(self, version, row=None):
        self.version = version
        self.row = row
        self.runner = type('R', (), {'xl_path': '/usr/sbin/xl', 'timeout_path': '/usr/bin/timeout'})()

    def info(self):
        return source_info(self.version)

    def state(self, name):
        return self.row


class FakeProc(object):
    pid = 4242

    def __init__(self, alive=True):
        self.alive = alive

    def poll(self):
        return None if self.alive else 1


def service(tmp_path, version='xen-4.17', row=None, listening=(False, True), alive=True):
    calls = {'detach': [], 'listening': list(listening)}

    def detach(argv, log):
        calls['detach'].append((argv, log))
        return FakeProc(alive)

    def is_listening(port, address):
        return calls['listening'].pop(0) if len(calls['listening']) > 1 else calls['listening'][0]

    bins = {'socat': '/usr/bin/socat', 'timeout': '/usr/bin/timeout'}
    svc = m.MigrationService(FakeClient(version, row), None, bins.get, clock=lambda: 0.0, detach=detach,
                             listening=is_listening, sleep=lambda s: None, root=str(tmp_path))
    return svc, calls


def test_probe_reads_the_disks_of_the_config_on_the_target(tmp_path):
    (tmp_path / 'etc/xen').mkdir(parents=True)
    (tmp_path / 'etc/xen/web1.cfg').write_text('disk = [ "vdev=xvda, target=/dev/xenvg/web1", '
                                               '"phy:/dev/xenvg/web1-swap,xvdb,w" ]\n')
    (tmp_path / 'dev/xenvg').mkdir(parents=True)
    (tmp_path / 'dev/xenvg/web1').write_text('')
    svc, dummy = service(tmp_path)
    result, changed = svc.probe('web1', '10.0.0.2')
    assert not changed and result['paths_from'] == 'config'
    assert result['paths'] == {'/dev/xenvg/web1': True, '/dev/xenvg/web1-swap': False}
    assert result['free_memory_mib'] == source_info('xen-4.17')['free_memory']
    assert result['domain'] == {'name': 'web1', 'exists': False, 'state': 'absent', 'domid': None}


def test_probe_starts_a_one_shot_socat_receiver(tmp_path):
    svc, calls = service(tmp_path)
    result, changed = svc.probe('web1', '10.0.0.2', disks=[], transport='socat', source_address='10.0.0.1',
                                port=8002, receive_timeout=120)
    assert changed and result['receiver']['pid'] == 4242
    argv, log = calls['detach'][0]
    assert argv == ['/usr/bin/timeout', '120', '/usr/bin/socat', '-b524288',
                    'TCP-LISTEN:8002,bind=10.0.0.2,reuseaddr,range=10.0.0.1/32', 'EXEC:/usr/sbin/xl migrate-receive']
    assert log.endswith('/var/log/xen/xenfleet-migrate-receive.log')


@pytest.mark.parametrize('listening, alive, message', [
    ((True,), True, 'already in use'),
    ((False,), False, 'did not start listening'),
])
def test_socat_receiver_failures(tmp_path, listening, alive, message):
    svc, dummy = service(tmp_path, listening=listening, alive=alive)
    with pytest.raises(m.MigrationError) as exc:
        svc.probe('web1', '10.0.0.2', disks=[], transport='socat', source_address='10.0.0.1')
    assert message in str(exc.value)


def test_socat_receiver_in_check_mode_is_only_described(tmp_path):
    svc, calls = service(tmp_path)
    result, changed = svc.probe('web1', '10.0.0.2', disks=[], transport='socat', source_address='10.0.0.1',
                                check_mode=True)
    assert changed and result['receiver']['pid'] is None and calls['detach'] == []


def test_no_receiver_when_the_domain_already_runs_here(tmp_path):
    svc, calls = service(tmp_path, row=source_row('xen-4.17'))
    result, changed = svc.probe(NAME, '10.0.0.2', disks=[], transport='socat', source_address='10.0.0.1')
    assert not changed and result['receiver'] is None and result['domain']['exists']
