# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""xenfleet.xen.raw_command: the exact command lines it builds (table), the JSON it reads, and real runs through
ansible-playbook on this machine (local connection: a real shell, real processes, real stdin)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible.errors import AnsibleActionFail
from ansible_collections.xenfleet.xen.plugins.action import raw_command

COMMAND_LINES = [
    (['xl', 'list'], "xl list"),
    (['python3', '/usr/local/lib/xenfleet/xenfleet_guest.py', 'unlock', 'web1', 'ab12-3-17'],
     "python3 /usr/local/lib/xenfleet/xenfleet_guest.py unlock web1 ab12-3-17"),
    # nothing reaches a shell as syntax: separators, variables, globs, quotes, empty words
    (['echo', 'a; reboot', '$HOME', '*', "it's", ''], "echo 'a; reboot' '$HOME' '*' 'it'\"'\"'s' ''"),
    (['wait-ssh', '--timeout=900', '192.168.250.31'], "wait-ssh --timeout=900 192.168.250.31"),
]


@pytest.mark.parametrize('argv,line', COMMAND_LINES)
def test_command_line(argv, line):
    assert raw_command.command_line(argv) == line


@pytest.mark.parametrize('argv,error', [([], 'empty'), (['echo', 'a\0b'], 'NUL')])
def test_command_line_refuses(argv, error):
    with pytest.raises(AnsibleActionFail, match=error):
        raw_command.command_line(argv)


@pytest.mark.parametrize('stdout,data', [
    ('{"changed": true, "seconds": 7.6}\n', {'changed': True, 'seconds': 7.6}),
    # a terminal's output (raw's, or become's): noise first, the JSON last, CRLF
    ('Warning: something\r\n{"changed": false}\r\n\r\n', {'changed': False}),
    ('', None), ('not json\n', None), ('[1, 2]\n', None), ('{"a": 1}\ntrailing words\n', None),
])
def test_last_json_object(stdout, data):
    assert raw_command.last_json_object(stdout) == data


# ---- real runs ------------------------------------------------------------------------------------------------

def collections_root():
    from ansible_collections.xenfleet.xen import plugins
    path = os.path.abspath(plugins.__path__[0])
    while os.path.basename(path) != 'ansible_collections':
        path = os.path.dirname(path)
    return os.path.dirname(path)


# what the command got on stdin comes back as its sha256: the secret itself must appear nowhere
PROGRAM = ("import hashlib, json, sys; data = sys.stdin.read(); print('a line before'); "
           "sys.stderr.write('to stderr\\n'); print(json.dumps({'changed': sys.argv[1] == 'change', 'argv': sys.argv[1:], "
           "'stdin_sha256': hashlib.sha256(data.encode()).hexdigest()})); sys.exit(int(sys.argv[2]))")


def play(tmp_path, tasks, check=False):
    """Run TASKS on localhost (local connection) with ansible-playbook; returns (rc, output, results by name)."""
    out = tmp_path / 'results.json'
    playbook = [{'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks + [{
        'name': 'save', 'check_mode': False, 'delegate_to': 'localhost',
        'ansible.builtin.copy': {'dest': str(out), 'mode': '0600',
                                 'content': '{{ {%s} | to_json }}' % ', '.join(
                                     "'%s': r_%s | default(none)" % (t['name'], t['name']) for t in tasks)}}]}]
    path = tmp_path / 'play.yml'
    path.write_text(yaml.safe_dump(playbook))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_root(), ANSIBLE_STDOUT_CALLBACK='default',
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_NOCOLOR='1')
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-c', 'local', '-i', 'localhost,',
            '-e', 'ansible_python_interpreter=' + sys.executable, str(path)] + (['--check'] if check else [])
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    results = json.loads(out.read_text()) if out.exists() else None
    return proc.returncode, proc.stdout + proc.stderr, results


def task(name, argv, **kw):
    return dict({'name': name, 'register': 'r_' + name, 'xenfleet.xen.raw_command': dict({'argv': argv}, **kw)})


def test_a_real_run_keeps_words_stdin_and_streams_apart(tmp_path):
    secret = "host key -----BEGIN OPENSSH PRIVATE KEY----- $(reboot) 'q'\nline two\n"
    rc, output, res = play(tmp_path, [
        task('json', ['python3', '-c', PROGRAM, 'change', '0', 'a; b', '$HOME', '*'], stdin=secret, json=True),
        task('plain', ['python3', '-c', PROGRAM, 'keep', '0']),
    ])
    assert rc == 0, output
    r = res['json']
    assert r['data'] == {'changed': True, 'argv': ['change', '0', 'a; b', '$HOME', '*'],
                         'stdin_sha256': hashlib.sha256(secret.encode()).hexdigest()}
    assert r['changed'] is True and r['rc'] == 0 and r['stderr'].strip() == 'to stderr'
    assert r['stdout_lines'][0] == 'a line before'
    assert r['cmd'][-3:] == ['a; b', '$HOME', '*']
    # stdin is never shown, nor returned
    assert 'PRIVATE KEY' not in output and 'PRIVATE KEY' not in json.dumps(res)
    # without json: a command's result, changed as raw and command say
    assert 'data' not in res['plain'] and res['plain']['changed'] is True and res['plain']['rc'] == 0


def test_changed_comes_from_the_json(tmp_path):
    rc, output, res = play(tmp_path, [task('keep', ['python3', '-c', PROGRAM, 'keep', '0'], json=True)])
    assert rc == 0, output
    assert res['keep']['changed'] is False and res['keep']['data']['argv'] == ['keep', '0']


def test_a_failing_command_fails_with_its_error(tmp_path):
    rc, output, dummy = play(tmp_path, [task('fail', ['python3', '-c', PROGRAM, 'keep', '3'], json=True)])
    assert rc == 2
    assert 'non-zero return code 3 from python3: to stderr' in output


def test_a_success_without_json_fails_when_json_is_expected(tmp_path):
    rc, output, dummy = play(tmp_path, [task('nojson', ['echo', 'hello'], json=True)])
    assert rc == 2
    assert 'echo succeeded but the last line of its output is not a JSON object: hello' in output


def test_failed_when_sees_rc_and_data(tmp_path):
    # the guests role's lease pattern: exit 3 with a JSON answer is not a failure
    t = task('held', ['python3', '-c', PROGRAM, 'keep', '3'], json=True)
    t['failed_when'] = 'r_held.rc not in [0, 3]'
    rc, output, res = play(tmp_path, [t])
    assert rc == 0, output
    assert res['held']['rc'] == 3 and res['held']['data']['argv'] == ['keep', '3']


def test_bad_arguments_are_refused_before_anything_runs(tmp_path):
    marker = tmp_path / 'ran'
    rc, output, dummy = play(tmp_path, [
        {'name': 'bad', 'xenfleet.xen.raw_command': {'argv': ['touch', str(marker)], 'shell': True}}])
    assert rc == 2 and not marker.exists()
    assert 'shell' in output


def test_check_mode_skips_unless_the_task_says_it_only_reads(tmp_path):
    skipped, ran = tmp_path / 'skipped', tmp_path / 'ran'
    read = task('read', ['touch', str(ran)])
    read['check_mode'] = False
    rc, output, res = play(tmp_path, [task('write', ['touch', str(skipped)]), read], check=True)
    assert rc == 0, output
    assert not skipped.exists() and res['write']['skipped'] is True
    assert ran.exists()
