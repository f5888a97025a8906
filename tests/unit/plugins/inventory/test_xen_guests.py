# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The xen_guests inventory plugin: the ssh commands it builds, how it reads Domain-0s, and a whole
``ansible-inventory`` run.

The xl output is the lab captures (fixtures/xen-4.*, see SOURCE.md there).  Where a whole
``ansible-inventory`` runs, an ``ssh`` stand-in on PATH answers with those captures: it stands in for
the network hop only; what it prints is what xl printed on a real lab Domain-0.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap

import pytest

from ansible.errors import AnsibleParserError

from ansible_collections.xenfleet.xen.plugins.inventory import xen_guests as xg
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import (
    VERSIONS,
    client_for,
    guest_stdout,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def guest_table(version):
    return {
        ('list',): (0, guest_stdout(version, 'xl_list_guest'), ''),
        ('list', '-l'): (0, guest_stdout(version, 'xl_list_l_guest'), ''),
    }


# --------------------------------------------------------------------------- the ssh command

@pytest.mark.parametrize('kwargs, expected', [
    ({}, ['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30', 'xen1', '--',
          'env LC_ALL=C LANG=C timeout -k 10 60 xl list -l']),
    ({'host': '127.0.0.1', 'port': 2201, 'user': 'root', 'private_key_file': '/lab/id',
      'ssh_args': ['-o', 'UserKnownHostsFile=/lab/known hosts'], 'connect_timeout': 5},
     ['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '-p', '2201', '-i', '/lab/id',
      '-o', 'UserKnownHostsFile=/lab/known hosts', 'root@127.0.0.1', '--',
      'env LC_ALL=C LANG=C timeout -k 10 60 xl list -l']),
    ({'user': 'ops', 'become': True},
     ['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30', 'ops@xen1', '--',
      'env LC_ALL=C LANG=C sudo -n timeout -k 10 60 xl list -l']),
])
def test_ssh_argv(kwargs, expected):
    target = xg.SshTarget('xen1', **kwargs)
    assert target.argv(target.client().runner.build(['list', '-l'])) == expected


def test_remote_words_are_quoted():
    argv = xg.SshTarget('xen1').argv(['xl', 'list', "a b; rm -rf /'"])
    assert shlex.split(argv[-1]) == ['env', 'LC_ALL=C', 'LANG=C', 'xl', 'list', "a b; rm -rf /'"]


class Ran(object):
    def __init__(self, rc=0, stdout='', stderr='', raises=None):
        self.answer = subprocess.CompletedProcess([], rc, stdout, stderr)
        self.raises = raises
        self.calls = []

    def __call__(self, argv, **kwargs):
        self.calls.append((argv, kwargs))
        if self.raises:
            raise self.raises
        return self.answer


def test_run_command_passes_xl_failures_through():
    ran = Ran(1, '', 'nosuch is an invalid domain identifier (rc=-6)\n')
    target = xg.SshTarget('xen1', runner=ran)
    assert target.run_command(['xl', 'list', 'nosuch']) == (1, '', 'nosuch is an invalid domain identifier (rc=-6)\n')
    assert ran.calls[0][1]['stdin'] is subprocess.DEVNULL
    assert ran.calls[0][1]['timeout'] == 30 + 60 + 10 + 10


@pytest.mark.parametrize('ran, message', [
    (Ran(255, '', 'ssh: connect to host 10.0.0.1 port 22: Connection refused\n'), 'Connection refused'),
    (Ran(255, '', ''), 'exit status 255'),
    (Ran(raises=subprocess.TimeoutExpired(['ssh'], 110)), 'did not finish within 110 s'),
    (Ran(raises=FileNotFoundError(2, 'No such file or directory: ssh')), 'cannot run ssh'),
])
def test_ssh_failures_are_unreachable(ran, message):
    with pytest.raises(xg.Dom0UnreachableError, match=message):
        xg.SshTarget('xen1', runner=ran).run_command(['xl', 'list'])


# --------------------------------------------------------------------------- Domain-0s from inventory variables

def test_target_from_lab_hostvars():
    hostvars = {'ansible_host': '127.0.0.1', 'ansible_port': '2201', 'ansible_user': 'root',
                'ansible_ssh_private_key_file': '/lab/id_ed25519',
                'ansible_ssh_common_args': '-o UserKnownHostsFile=/lab/known_hosts -o StrictHostKeyChecking=yes'}
    target = xg.target_from_hostvars('xen1', hostvars, ssh_args=['-o', 'LogLevel=ERROR'])
    assert target.argv(['xl', 'list'])[:-2] == [
        'ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30', '-p', '2201', '-i', '/lab/id_ed25519',
        '-o', 'UserKnownHostsFile=/lab/known_hosts', '-o', 'StrictHostKeyChecking=yes', '-o', 'LogLevel=ERROR',
        'root@127.0.0.1']


def test_target_without_connection_vars_is_its_name():
    assert xg.target_from_hostvars('xen1.example.com', {}).argv(['xl'])[-3] == 'xen1.example.com'


@pytest.mark.parametrize('hostvars, message', [
    ({'ansible_host': '{{ lookup("env", "X") }}'}, 'is a template'),
    ({'ansible_port': 'ssh'}, 'is not a number'),
])
def test_target_refuses_what_it_cannot_read(hostvars, message):
    with pytest.raises(AnsibleParserError, match=message):
        xg.target_from_hostvars('xen1', hostvars)


# --------------------------------------------------------------------------- reading the Domain-0s

@pytest.mark.parametrize('version', VERSIONS)
def test_survey_of_a_captured_dom0(version):
    client, replay = client_for(guest_table(version))
    rows = xg.survey_dom0(client)
    assert [r['name'] for r in rows] == ['capture-pv']
    assert rows[0]['type'] == 'pv' and rows[0]['memory_mib'] == 128 and rows[0]['vcpus'] == 1
    assert replay.commands == [('list',), ('list', '-l')]


def row(name, state='blocked', domid=1, **more):
    out = {'name': name, 'domid': domid, 'state': state, 'state_flags': '-b----', 'type': 'pvh', 'memory_mib': 256,
           'vcpus': 1, 'disks': [{'target': '/dev/vg/%s' % name}], 'vifs': [{'mac': '00:16:3e:00:00:01', 'ip': None}]}
    out.update(more)
    return out


def test_guests_where_they_run():
    guests, warnings = xg.guests_from_surveys(
        {'xen1': [row('web1')], 'xen2': [row('db1', 'running', 3, vifs=[{'mac': 'm', 'ip': '10.0.0.5 10.0.0.6'}])]},
        ['running', 'blocked'])
    assert warnings == []
    assert guests['web1']['xen_dom0'] == 'xen1' and guests['db1']['xen_dom0'] == 'xen2'
    assert guests['web1']['xen_disks'] == ['/dev/vg/web1'] and guests['web1']['xen_ips'] == []
    assert guests['db1']['xen_ips'] == ['10.0.0.5', '10.0.0.6'] and guests['db1']['xen_domid'] == 3
    assert guests['db1']['xen_migrating'] is False and guests['db1']['xen_seen_on'] == ['xen2']


def test_a_migration_in_flight_is_one_guest_on_its_source():
    guests, warnings = xg.guests_from_surveys(
        {'xen1': [row('web1--migratedaway', 'paused')], 'xen2': [row('web1--incoming', 'paused', 7)]},
        ['running', 'blocked', 'paused'])
    assert warnings == []
    assert list(guests) == ['web1']
    assert guests['web1']['xen_dom0'] == 'xen1' and guests['web1']['xen_migrating'] is True


def test_a_suspended_source_and_an_incoming_target_are_one_guest_on_the_move():
    # Mid-stream the source's copy is suspended (or NAME--migratedaway) and the target's is NAME--incoming. Before
    # this rule a lab poll during a migration found the guest missing from the inventory for a moment.
    guests, warnings = xg.guests_from_surveys(
        {'xen1': [row('web1', 'shutdown', shutdown_reason='suspend', state_flags='---ss-')],
         'xen2': [row('web1--incoming', 'paused', 4)]}, ['running', 'blocked'])
    assert warnings == []
    assert guests['web1']['xen_dom0'] == 'xen1' and guests['web1']['xen_migrating'] is True
    assert guests['web1']['xen_state'] == 'shutdown'


def test_the_end_of_a_migration_is_one_guest_on_its_target():
    # Seen in the lab (xen_domain scenario, Xen 4.17): for a moment the source still lists the guest under its
    # own name, suspended ("---ss-"), while it already runs on the target.
    guests, warnings = xg.guests_from_surveys(
        {'xen1': [row('web1', 'shutdown', shutdown_reason='suspend', state_flags='---ss-')],
         'xen2': [row('web1', 'blocked', 4)]}, ['running', 'blocked', 'paused'])
    assert warnings == []
    assert guests['web1']['xen_dom0'] == 'xen2' and guests['web1']['xen_migrating'] is True
    assert guests['web1']['xen_duplicated'] is False and guests['web1']['xen_seen_on'] == ['xen2', 'xen1']


def test_a_guest_active_on_two_dom0s_is_reported_where_it_runs():
    guests, warnings = xg.guests_from_surveys(
        {'xen1': [row('web1', 'paused')], 'xen2': [row('web1', 'running', 4)]}, ['running', 'blocked', 'paused'])
    assert guests['web1']['xen_dom0'] == 'xen2' and guests['web1']['xen_duplicated'] is True
    assert guests['web1']['xen_seen_on'] == ['xen2', 'xen1']
    assert warnings == ['xen_guests: web1 is active on 2 Domain-0s: xen2 (running), xen1 (paused); reported on xen2']


def test_a_powered_off_copy_is_not_a_duplicate():
    guests, warnings = xg.guests_from_surveys(
        {'xen1': [row('web1', 'shutdown', shutdown_reason='poweroff')], 'xen2': [row('web1', 'running', 4)]},
        ['running', 'blocked'])
    assert warnings == [] and guests['web1']['xen_dom0'] == 'xen2' and guests['web1']['xen_migrating'] is False


def test_states_filter():
    surveys = {'xen1': [row('up'), row('off', 'shutdown', 2), row('dead', 'crashed', 3)]}
    assert list(xg.guests_from_surveys(surveys, ['running', 'blocked'])[0]) == ['up']
    assert sorted(xg.guests_from_surveys(surveys, ['shutdown', 'crashed'])[0]) == ['dead', 'off']


# --------------------------------------------------------------------------- a whole ansible-inventory run

SSH_STAND_IN = '''\
#!%(python)s
# Stands in for ssh in a unit test: replays what xl printed on real lab Domain-0s (see the test's docstring).
import json, shlex, sys
table = json.load(open(%(table)r))
port = sys.argv[sys.argv.index('-p') + 1] if '-p' in sys.argv else ''
words = shlex.split(sys.argv[-1])
answers = table.get(port)
if answers is None:
    sys.stderr.write('ssh: connect to host 127.0.0.1 port %%s: Connection refused\\n' %% port)
    sys.exit(255)
rc, out, err = answers[' '.join(words[words.index('xl') + 1:])]
sys.stdout.write(out)
sys.stderr.write(err)
sys.exit(rc)
'''


def run_inventory(tmp_path, table, config):
    (tmp_path / 'bin').mkdir()
    (tmp_path / 'table.json').write_text(json.dumps(table))
    ssh = tmp_path / 'bin' / 'ssh'
    ssh.write_text(SSH_STAND_IN % {'python': sys.executable, 'table': str(tmp_path / 'table.json')})
    ssh.chmod(0o755)
    (tmp_path / 'hosts.yml').write_text(textwrap.dedent('''\
        xen_hosts:
          hosts:
            xen1: {ansible_host: 127.0.0.1, ansible_port: 2201, ansible_user: root}
            xen2: {ansible_host: 127.0.0.1, ansible_port: 2202, ansible_user: root}
        xen_guests:
          hosts:
            capture-pv: {ansible_host: 192.168.250.21, guests_template: debian12}
        '''))
    (tmp_path / 'xen_guests.yml').write_text(config)
    (tmp_path / 'ansible.cfg').write_text('[defaults]\n')
    env = dict(os.environ, PATH='%s:%s' % (tmp_path / 'bin', os.environ['PATH']),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, 'collections'), ANSIBLE_CONFIG=str(tmp_path / 'ansible.cfg'),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'), ANSIBLE_HOME=str(tmp_path / 'home'))
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-inventory'), '-i', str(tmp_path / 'hosts.yml'),
            '-i', str(tmp_path / 'xen_guests.yml'), '--list']
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=120)
    return proc


def unsafe_to_plain(obj):
    """json object_hook: ansible-inventory marks strings that came from outside (here: from xl) as unsafe."""
    return obj['__ansible_unsafe'] if set(obj) == {'__ansible_unsafe'} else obj


def plain(text):
    return json.loads(text, object_hook=unsafe_to_plain)


def captured_answers(version):
    return {' '.join(k): v for k, v in guest_table(version).items()}


@pytest.mark.parametrize('version', VERSIONS)
def test_ansible_inventory_adds_where_guests_run(tmp_path, version):
    empty = {'list': (0, 'Name                                        ID   Mem VCPUs\tState\tTime(s)\n'
                         'Domain-0                                     0  1024     1     r-----     150.6\n', ''),
             'list -l': (0, '[]\n', '')}
    proc = run_inventory(tmp_path, {'2201': empty, '2202': captured_answers(version)}, textwrap.dedent('''\
        plugin: xenfleet.xen.xen_guests
        keyed_groups:
          - {key: xen_dom0, prefix: dom0}
        groups:
          small: xen_memory_mib < 512
        '''))
    assert proc.returncode == 0, proc.stderr
    data = plain(proc.stdout)
    assert data['xen_running_guests']['hosts'] == ['capture-pv']
    assert data['dom0_xen2']['hosts'] == ['capture-pv'] and data['small']['hosts'] == ['capture-pv']
    facts = data['_meta']['hostvars']['capture-pv']
    assert facts['xen_dom0'] == 'xen2' and facts['xen_type'] == 'pv' and facts['xen_memory_mib'] == 128
    # the static host keeps its own variables
    assert facts['ansible_host'] == '192.168.250.21' and facts['guests_template'] == 'debian12'


def test_ansible_inventory_unreachable_dom0(tmp_path):
    version = VERSIONS[0]
    proc = run_inventory(tmp_path, {'2202': captured_answers(version)}, 'plugin: xenfleet.xen.xen_guests\n')
    assert proc.returncode == 0, proc.stderr
    assert 'Domain-0 xen1 could not be asked' in proc.stderr and 'Connection refused' in proc.stderr
    assert plain(proc.stdout)['xen_running_guests']['hosts'] == ['capture-pv']


def test_ansible_inventory_unreachable_is_an_error_when_asked(tmp_path):
    proc = run_inventory(tmp_path, {}, 'plugin: xenfleet.xen.xen_guests\nunreachable: error\n')
    assert 'Domain-0 xen1 could not be asked' in proc.stderr
    assert 'xen_running_guests' not in proc.stdout


def test_ansible_inventory_without_dom0s(tmp_path):
    proc = run_inventory(tmp_path, {}, 'plugin: xenfleet.xen.xen_guests\ndom0_group: nosuch\n')
    assert 'has no host in group nosuch' in proc.stderr
