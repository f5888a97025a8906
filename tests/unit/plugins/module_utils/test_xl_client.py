# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The client and its runner: exact argv and options given to run_command, errors, waiting."""

from __future__ import annotations

import pytest

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_client
from ansible_collections.xenfleet.xen.plugins.module_utils import xl_errors as e
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_waiter import Waiter
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import (
    TIMEOUT,
    VERSIONS,
    XL,
    FakeClock,
    Replay,
    guest_stdout,
    stdout_of,
)

# xl_utils.c find_domain(): "%s is an invalid domain identifier (rc=%d)\n" with ERROR_INVAL (-6).
NOT_FOUND = (1, '', 'web1 is an invalid domain identifier (rc=-6)\n')
OK = (0, '', '')


def make_client(table, timeout_path=TIMEOUT, clock=None):
    replay = Replay(table, xl=XL)
    clock = clock or FakeClock()
    runner = xl_client.XlRunner(replay, XL, timeout_path, default_timeout=30, clock=clock)
    return xl_client.XlClient(runner, waiter=Waiter(clock=clock, sleep=clock.sleep)), replay


class FakeModule(object):
    def __init__(self, paths, replay):
        self.paths = paths
        self.run_command = replay
        self.asked = []

    def get_bin_path(self, name, required=False, opt_dirs=None):
        self.asked.append((name, required, opt_dirs))
        return self.paths.get(name)


def test_runner_argv_and_options():
    client, replay = make_client({('pause', 'web1'): OK})
    client.pause('web1')
    argv, kwargs = replay.calls[0]
    assert argv == [TIMEOUT, '-k', '10', '30', XL, 'pause', 'web1']
    assert kwargs == {'check_rc': False, 'environ_update': {'LC_ALL': 'C', 'LANG': 'C'},
                      'expand_user_and_vars': False}


def test_runner_without_timeout_binary():
    client, replay = make_client({('unpause', 'web1'): OK}, timeout_path=None)
    client.unpause('web1')
    assert replay.calls[0][0] == [XL, 'unpause', 'web1']


def test_runner_per_call_timeout():
    client, replay = make_client({('create', '/etc/xen/web1.cfg'): OK})
    client.create('/etc/xen/web1.cfg', timeout=7.5)
    assert replay.calls[0][0][:4] == [TIMEOUT, '-k', '10', '7.500']


@pytest.mark.parametrize('rc', [124, 137])
def test_runner_timeout_is_typed(rc):
    client, replay = make_client({('shutdown', 'web1'): (rc, '', '')})
    with pytest.raises(e.XlTimeoutError) as exc:
        client.run(['shutdown', 'web1'])
    assert exc.value.rc == rc
    assert exc.value.argv == [TIMEOUT, '-k', '10', '30', XL, 'shutdown', 'web1']


def test_rc_124_without_timeout_wrapper_is_not_a_timeout():
    client, dummy = make_client({('pause', 'web1'): (124, '', 'odd\n')}, timeout_path=None)
    with pytest.raises(e.XlCommandError) as exc:
        client.pause('web1')
    assert not isinstance(exc.value, e.XlTimeoutError)


def test_validation_happens_before_running():
    client, replay = make_client({})
    with pytest.raises(e.XlValidationError):
        client.mem_set('web1;reboot', 512)
    assert replay.calls == []


def test_history_records_every_run():
    client, dummy = make_client({('pause', 'web1'): OK, ('unpause', 'web1'): OK})
    client.pause('web1')
    client.unpause('web1')
    assert [r.argv[-2] for r in client.runner.history] == ['pause', 'unpause']
    assert client.runner.history[0].to_dict()['rc'] == 0


def test_state_of_a_missing_domain_is_none():
    client, replay = make_client({('list', 'web1'): NOT_FOUND})
    assert client.state('web1') is None
    assert client.domain('web1') is None
    assert replay.commands == [('list', 'web1'), ('list', 'web1')]


def test_errors_carry_argv_rc_stderr():
    client, dummy = make_client({('mem-set', 'web1', '512m'): NOT_FOUND})
    with pytest.raises(e.XlDomainNotFoundError) as exc:
        client.mem_set('web1', 512)
    assert exc.value.rc == 1
    assert exc.value.argv[-3:] == ['mem-set', 'web1', '512m']
    assert 'invalid domain identifier' in exc.value.stderr


LIVE_CALLS = [
    ('mem_set', ('web1', '1g'), {}, ('mem-set', 'web1', '1024m')),
    ('mem_max', ('web1', 2048), {}, ('mem-max', 'web1', '2048m')),
    ('vcpu_set', ('web1', 2), {}, ('vcpu-set', 'web1', '2')),
    ('vcpu_pin', ('web1', 0, '1'), {'soft': 'all'}, ('vcpu-pin', 'web1', '0', '1', 'all')),
    ('save', ('web1', '/srv/web1.chk'), {}, ('save', 'web1', '/srv/web1.chk')),
    ('restore', ('/srv/web1.chk',), {'paused': True}, ('restore', '-p', '/srv/web1.chk')),
    ('reboot', ('web1',), {}, ('reboot', 'web1')),
    ('create', ('/etc/xen/web1.cfg',), {'paused': True}, ('create', '-p', '/etc/xen/web1.cfg')),
    ('migrate', ('web1', 'xen2'), {'ssh_command': ['ssh', '-o', 'BatchMode=yes']},
     ('migrate', '-s', 'ssh -o BatchMode=yes', 'web1', 'xen2')),
]


@pytest.mark.parametrize('method, args, kwargs, expected', LIVE_CALLS, ids=[c[0] for c in LIVE_CALLS])
def test_client_methods_send_the_argv(method, args, kwargs, expected):
    client, replay = make_client({expected: OK})
    result = getattr(client, method)(*args, **kwargs)
    assert replay.commands == [expected]
    assert result.rc == 0


def test_migrate_failure_is_a_migration_error():
    stderr = 'migration sender: libxl_domain_suspend failed (rc=-3)\nMigration failed, resuming at sender.\n'
    client, dummy = make_client({('migrate', 'web1', 'xen2'): (1, '', stderr)})
    with pytest.raises(e.XlMigrationError) as exc:
        client.migrate('web1', 'xen2')
    assert exc.value.resumed_at_source


def test_migrate_reports_elapsed_time():
    clock = FakeClock()

    def slow(argv, **kwargs):
        clock.now += 28.5
        return OK

    runner = xl_client.XlRunner(slow, XL, None, clock=clock)
    result = xl_client.XlClient(runner).migrate('web1', 'xen2')
    assert result.elapsed == 28.5


def guest_rows(version, name):
    """`xl list capture-pv` as the lab host printed it (from a capture of `xl list [capture-pv]`)."""
    lines = guest_stdout(version, name).splitlines()
    return (0, '\n'.join([lines[0]] + [ln for ln in lines[1:] if ln.startswith('capture-pv ')]) + '\n', '')


@pytest.mark.parametrize('version', VERSIONS)
def test_shutdown_waits_until_the_domain_is_gone(version):
    clock = FakeClock()
    running = guest_rows(version, 'xl_list_after_memset')
    shut_down = guest_rows(version, 'xl_list_after_shutdown')
    gone = (1, '', 'capture-pv is an invalid domain identifier (rc=-6)\n')
    client, replay = make_client({
        ('shutdown', 'capture-pv'): OK,
        ('list', 'capture-pv'): [running, running, shut_down, gone],
    }, clock=clock)
    waited = client.shutdown('capture-pv', timeout=60, interval=2)
    assert waited == 6
    assert replay.commands == [('shutdown', 'capture-pv')] + [('list', 'capture-pv')] * 4
    assert clock.sleeps == [2, 2, 2]


@pytest.mark.parametrize('version', VERSIONS)
def test_shutdown_until_shutdown_stops_at_the_shut_down_domain(version):
    clock = FakeClock()
    client, replay = make_client({
        ('shutdown', 'capture-pv'): OK,
        ('list', 'capture-pv'): [guest_rows(version, 'xl_list_after_memset'),
                                 guest_rows(version, 'xl_list_after_shutdown')],
    }, clock=clock)
    assert client.shutdown('capture-pv', interval=1, until='shutdown') == 1
    assert len(replay.commands) == 3


@pytest.mark.parametrize('version', VERSIONS)
def test_shutdown_times_out(version):
    clock = FakeClock()
    client, dummy = make_client({
        ('shutdown', 'capture-pv'): OK,
        ('list', 'capture-pv'): [guest_rows(version, 'xl_list_after_shutdown')],
    }, clock=clock)
    with pytest.raises(e.XlTimeoutError) as exc:
        client.shutdown('capture-pv', timeout=5, interval=2)
    assert exc.value.details['last']['state'] == 'shutdown'
    assert clock.now - 1000.0 == 5


def test_shutdown_without_wait():
    client, replay = make_client({('shutdown', 'web1'): OK})
    assert client.shutdown('web1', wait=False) == 0.0
    assert replay.commands == [('shutdown', 'web1')]


def test_destroy_waits_for_the_domain_to_vanish():
    client, replay = make_client({('destroy', 'web1'): OK, ('list', 'web1'): NOT_FOUND})
    assert client.destroy('web1') == 0
    assert replay.commands == [('destroy', 'web1'), ('list', 'web1')]


@pytest.mark.parametrize('version', VERSIONS)
def test_info_and_version(version):
    info = stdout_of(version, 'xl_info')
    client, replay = make_client({('info',): (0, info, '')})
    summary = client.xl_version()
    assert summary['major'] == 4
    assert summary['version'].startswith('4.')
    client.info()
    assert replay.commands == [('info',)], 'xl info is run once per client'


@pytest.mark.parametrize('version', VERSIONS)
def test_sched_credit_uses_the_host_scheduler(version):
    info = stdout_of(version, 'xl_info')
    sched_out = stdout_of(version, 'xl_sched_credit2')
    client, replay = make_client({
        ('info',): (0, info, ''),
        ('sched-credit2', '-d', 'Domain-0'): (0, sched_out, ''),
        ('sched-credit2', '-d', 'Domain-0', '-w', '512'): OK,
    })
    if client.scheduler() != 'credit2':
        pytest.skip('the captured host does not run credit2')
    row = client.sched_credit('Domain-0')
    assert row['name'] == 'Domain-0'
    client.sched_credit('Domain-0', weight=512)
    assert ('sched-credit2', '-d', 'Domain-0', '-w', '512') in replay.commands


@pytest.mark.parametrize('version', VERSIONS)
def test_list_states_and_domains(version):
    client, dummy = make_client({
        ('list',): (0, stdout_of(version, 'xl_list'), ''),
        ('list', '-l'): (0, stdout_of(version, 'xl_list_l'), ''),
    })
    states = client.list_states()
    assert states[0]['name'] == 'Domain-0'
    configs = client.list_domains()
    assert all('disks' in c for c in configs)


def test_from_module_finds_xl_and_timeout():
    module = FakeModule({'xl': XL, 'timeout': TIMEOUT}, Replay({('pause', 'web1'): OK}, xl=XL))
    client = xl_client.XlClient.from_module(module, timeout=15)
    client.pause('web1')
    assert module.run_command.calls[0][0] == [TIMEOUT, '-k', '10', '15', XL, 'pause', 'web1']
    assert module.asked[0] == ('xl', False, xl_client.XL_SEARCH_DIRS)


def test_from_module_without_xl():
    module = FakeModule({}, Replay({}))
    with pytest.raises(e.XenNotAvailableError, match='xl command was not found'):
        xl_client.XlClient.from_module(module)


@pytest.mark.parametrize('timeout', [-1, 'x', True, [5]])
def test_bad_timeouts_are_refused(timeout):
    client, replay = make_client({})
    with pytest.raises(e.XlValidationError):
        client.run(['info'], timeout=timeout)
    assert replay.calls == []


def test_timeout_zero_means_no_deadline():
    client, replay = make_client({('pause', 'web1'): OK})
    client.run(['pause', 'web1'], timeout=0)
    assert replay.calls[0][0] == [XL, 'pause', 'web1']


def test_shutdown_until_shutdown_accepts_a_vanished_domain():
    client, replay = make_client({('shutdown', 'web1'): OK, ('list', 'web1'): NOT_FOUND})
    assert client.shutdown('web1', until='shutdown') == 0
    assert replay.commands == [('shutdown', 'web1'), ('list', 'web1')]


def test_shutdown_until_is_checked_first():
    client, replay = make_client({})
    with pytest.raises(e.XlValidationError, match='until'):
        client.shutdown('web1', until='later')
    assert replay.calls == []
