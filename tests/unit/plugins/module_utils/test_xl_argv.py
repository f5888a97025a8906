# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exact argument vector of every xl command, and what is refused before anything runs."""

from __future__ import annotations

import pytest

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_argv
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlValidationError

ARGV_CASES = [
    # (id, builder, args, kwargs, expected argv after "xl")
    ('info', xl_argv.info, (), {}, ['info']),
    ('list', xl_argv.list_domains, (), {}, ['list']),
    ('list-long', xl_argv.list_domains, (), {'long': True}, ['list', '-l']),
    ('list-one', xl_argv.list_domains, ('web1',), {}, ['list', 'web1']),
    ('list-long-one', xl_argv.list_domains, ('web1',), {'long': True}, ['list', '-l', 'web1']),
    ('list-dom0', xl_argv.list_domains, ('Domain-0',), {}, ['list', 'Domain-0']),
    ('uptime', xl_argv.uptime, (), {}, ['uptime']),
    ('uptime-one', xl_argv.uptime, ('web1',), {}, ['uptime', 'web1']),
    ('vcpu-list', xl_argv.vcpu_list, ('web1',), {}, ['vcpu-list', 'web1']),
    ('create', xl_argv.create, ('/etc/xen/web1.cfg',), {}, ['create', '/etc/xen/web1.cfg']),
    ('create-paused', xl_argv.create, ('/etc/xen/web1.cfg',), {'paused': True},
     ['create', '-p', '/etc/xen/web1.cfg']),
    ('create-quiet', xl_argv.create, ('/etc/xen/web1.cfg',), {'paused': True, 'quiet': True},
     ['create', '-p', '-q', '/etc/xen/web1.cfg']),
    ('shutdown', xl_argv.shutdown, ('web1',), {}, ['shutdown', 'web1']),
    ('shutdown-wait-acpi', xl_argv.shutdown, ('web1',), {'wait': True, 'acpi_fallback': True},
     ['shutdown', '-w', '-F', 'web1']),
    ('reboot', xl_argv.reboot, ('web1',), {}, ['reboot', 'web1']),
    ('reboot-acpi', xl_argv.reboot, ('web1',), {'acpi_fallback': True}, ['reboot', '-F', 'web1']),
    ('destroy', xl_argv.destroy, ('web1',), {}, ['destroy', 'web1']),
    ('pause', xl_argv.pause, ('web1',), {}, ['pause', 'web1']),
    ('unpause', xl_argv.unpause, ('web1',), {}, ['unpause', 'web1']),
    ('save', xl_argv.save, ('web1', '/var/lib/xen/save/web1.chk'), {},
     ['save', 'web1', '/var/lib/xen/save/web1.chk']),
    ('save-keep-paused-cfg', xl_argv.save, ('web1', '/srv/web1.chk'),
     {'keep_running': True, 'leave_paused': True, 'cfg_path': '/etc/xen/web1.cfg'},
     ['save', '-c', '-p', 'web1', '/srv/web1.chk', '/etc/xen/web1.cfg']),
    ('restore', xl_argv.restore, ('/srv/web1.chk',), {}, ['restore', '/srv/web1.chk']),
    ('restore-paused-cfg', xl_argv.restore, ('/srv/web1.chk',), {'paused': True, 'cfg_path': '/etc/xen/web1.cfg'},
     ['restore', '-p', '/etc/xen/web1.cfg', '/srv/web1.chk']),
    ('mem-set-int-mib', xl_argv.mem_set, ('web1', 512), {}, ['mem-set', 'web1', '512m']),
    ('mem-set-g', xl_argv.mem_set, ('web1', '2g'), {}, ['mem-set', 'web1', '2048m']),
    ('mem-set-MiB', xl_argv.mem_set, ('web1', '384MiB'), {}, ['mem-set', 'web1', '384m']),
    ('mem-set-k', xl_argv.mem_set, ('web1', '131073k'), {}, ['mem-set', 'web1', '131073k']),
    ('mem-set-no-unit', xl_argv.mem_set, ('web1', '256'), {}, ['mem-set', 'web1', '256m']),
    ('mem-max', xl_argv.mem_max, ('web1', '1G'), {}, ['mem-max', 'web1', '1024m']),
    ('vcpu-set', xl_argv.vcpu_set, ('web1', 2), {}, ['vcpu-set', 'web1', '2']),
    ('vcpu-set-ignore-host', xl_argv.vcpu_set, ('web1', 4), {'ignore_host': True},
     ['vcpu-set', '--ignore-host', 'web1', '4']),
    ('vcpu-pin', xl_argv.vcpu_pin, ('web1', 0, '1'), {}, ['vcpu-pin', 'web1', '0', '1']),
    ('vcpu-pin-all-soft', xl_argv.vcpu_pin, ('web1', 'all', '0-3'), {'soft': '2,3'},
     ['vcpu-pin', 'web1', 'all', '0-3', '2,3']),
    ('vcpu-pin-keep-hard', xl_argv.vcpu_pin, ('web1', 1, '-'), {'soft': '^0,nodes:0'},
     ['vcpu-pin', 'web1', '1', '-', '^0,nodes:0']),
    ('vcpu-pin-force', xl_argv.vcpu_pin, ('web1', 1, 'all'), {'force': True},
     ['vcpu-pin', '--force', 'web1', '1', 'all']),
    ('vcpu-pin-int-cpu', xl_argv.vcpu_pin, ('web1', 0, 1), {}, ['vcpu-pin', 'web1', '0', '1']),
    ('sched-get-credit2', xl_argv.sched_get, ('web1',), {}, ['sched-credit2', '-d', 'web1']),
    ('sched-get-credit', xl_argv.sched_get, ('web1', 'credit'), {}, ['sched-credit', '-d', 'web1']),
    ('sched-set-weight', xl_argv.sched_set, ('web1', 'credit2'), {'weight': 512},
     ['sched-credit2', '-d', 'web1', '-w', '512']),
    ('sched-set-both', xl_argv.sched_set, ('web1', 'credit'), {'weight': 128, 'cap': 50},
     ['sched-credit', '-d', 'web1', '-w', '128', '-c', '50']),
    ('sched-set-cap-zero', xl_argv.sched_set, ('web1',), {'cap': 0}, ['sched-credit2', '-d', 'web1', '-c', '0']),
    ('migrate-ssh-default', xl_argv.migrate, ('web1', 'xen2'), {}, ['migrate', 'web1', 'xen2']),
    ('migrate-ssh-options', xl_argv.migrate, ('web1', 'root@10.0.0.2'),
     {'ssh_command': ['ssh', '-o', 'BatchMode=yes', '-i', '/root/.ssh/id migrate']},
     ['migrate', '-s', "ssh -o BatchMode=yes -i '/root/.ssh/id migrate'", 'web1', 'root@10.0.0.2']),
    ('migrate-flags', xl_argv.migrate, ('web1', 'xen2.lab'),
     {'paused': True, 'preserve_domid': True, 'debug': True, 'no_daemon': True, 'cfg_path': '/etc/xen/web1.cfg'},
     ['migrate', '-C', '/etc/xen/web1.cfg', '-p', '-D', '-e', '--debug', 'web1', 'xen2.lab']),
    ('migrate-ipv6', xl_argv.migrate, ('web1', 'fd00::2'), {}, ['migrate', 'web1', 'fd00::2']),
    ('migrate-stream', xl_argv.migrate, ('web1',), {'receiver_command': ['socat', '-', 'TCP:10.0.0.2:8002']},
     ['migrate', '-s', '', 'web1', 'socat - TCP:10.0.0.2:8002']),
    ('migrate-stream-quoted', xl_argv.migrate, ('web1',),
     {'receiver_command': ['ssh', 'xen2', 'xl migrate-receive']},
     ['migrate', '-s', '', 'web1', "ssh xen2 'xl migrate-receive'"]),
]


@pytest.mark.parametrize('builder, args, kwargs, expected',
                         [c[1:] for c in ARGV_CASES], ids=[c[0] for c in ARGV_CASES])
def test_argv(builder, args, kwargs, expected):
    assert builder(*args, **kwargs) == expected


REFUSED = [
    # (id, builder, args, kwargs, fragment of the message)
    ('name-digits', xl_argv.pause, ('42',), {}, 'domain id'),
    ('name-space', xl_argv.pause, ('web 1',), {}, 'is not valid'),
    ('name-slash', xl_argv.pause, ('../etc',), {}, 'is not valid'),
    ('name-semicolon', xl_argv.pause, ('web1;reboot',), {}, 'is not valid'),
    ('name-dash-first', xl_argv.pause, ('-f',), {}, 'is not valid'),
    ('name-empty', xl_argv.pause, ('',), {}, 'is not valid'),
    ('name-long', xl_argv.pause, ('a' * 65,), {}, 'is not valid'),
    ('name-none', xl_argv.pause, (None,), {}, 'must be a string'),
    ('destroy-dom0', xl_argv.destroy, ('Domain-0',), {}, 'Domain-0'),
    ('create-relative', xl_argv.create, ('web1.cfg',), {}, 'absolute'),
    ('create-dotdot', xl_argv.create, ('/etc/xen/../shadow',), {}, 'normalised'),
    ('create-newline', xl_argv.create, ('/etc/xen/a\nb.cfg',), {}, 'newline'),
    ('save-relative', xl_argv.save, ('web1', 'web1.chk'), {}, 'absolute'),
    ('mem-zero', xl_argv.mem_set, ('web1', 0), {}, 'positive'),
    ('mem-negative', xl_argv.mem_set, ('web1', -5), {}, 'positive'),
    ('mem-unit', xl_argv.mem_set, ('web1', '12 parsecs'), {}, 'not a size'),
    ('mem-float', xl_argv.mem_set, ('web1', '1.5g'), {}, 'not a size'),
    ('mem-bool', xl_argv.mem_set, ('web1', True), {}, 'must be a size'),
    ('vcpus-zero', xl_argv.vcpu_set, ('web1', 0), {}, 'between 1'),
    ('vcpus-str', xl_argv.vcpu_set, ('web1', '2'), {}, 'integer'),
    ('pin-bad-cpus', xl_argv.vcpu_pin, ('web1', 0, '0-3;ls'), {}, 'not a cpulist'),
    ('pin-force-all', xl_argv.vcpu_pin, ('web1', 'all', '1'), {'force': True}, "'all'"),
    ('pin-bad-vcpu', xl_argv.vcpu_pin, ('web1', -1, '1'), {}, 'vcpu'),
    ('sched-unknown', xl_argv.sched_get, ('web1', 'rtds'), {}, 'scheduler must be one of'),
    ('sched-nothing', xl_argv.sched_set, ('web1',), {}, 'weight or a cap'),
    ('sched-weight-0', xl_argv.sched_set, ('web1',), {'weight': 0}, 'weight'),
    ('sched-weight-big', xl_argv.sched_set, ('web1',), {'weight': 65536}, 'weight'),
    ('migrate-host-shell', xl_argv.migrate, ('web1', 'xen2; rm -rf /'), {}, 'host name or IP'),
    ('migrate-host-dollar', xl_argv.migrate, ('web1', '$(id)'), {}, 'host name or IP'),
    ('migrate-user-bad', xl_argv.migrate, ('web1', 'ro ot@xen2'), {}, 'user part'),
    ('migrate-none', xl_argv.migrate, ('web1',), {}, 'exactly one'),
    ('migrate-both', xl_argv.migrate, ('web1', 'xen2'), {'receiver_command': ['socat']}, 'exactly one'),
    ('migrate-ssh-str', xl_argv.migrate, ('web1', 'xen2'), {'ssh_command': 'ssh -p 22'}, 'list of words'),
    ('migrate-stream-ssh', xl_argv.migrate, ('web1',), {'receiver_command': ['socat'], 'ssh_command': ['ssh']},
     'exclude each other'),
]


@pytest.mark.parametrize('builder, args, kwargs, fragment', [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_refused_before_running(builder, args, kwargs, fragment):
    with pytest.raises(XlValidationError) as exc:
        builder(*args, **kwargs)
    assert fragment in str(exc.value)
    assert exc.value.argv is None
