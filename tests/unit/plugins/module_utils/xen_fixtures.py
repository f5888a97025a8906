# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the unit tests: the captured xl output of the lab hosts, and a replaying run_command.

Every file under ``fixtures/xen-4.17`` and ``fixtures/xen-4.20`` was captured on a real lab Xen
host; ``SOURCE.md`` next to them says where and how.  A test that needs a capture which is not
there is *skipped with a reason that says so* (run pytest with ``-rs`` to list them); it never
falls back to made-up output.

The tables of captured answers go to a Replay; ``client_for`` puts one under an XlClient, and
tests/unit/plugins/modules/xen_module_helpers.py under a whole module.  Domain-0's files (under
/etc/xen, /proc/xen, ...) are written below a temporary root with ``write``.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_client

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')
VERSIONS = ('xen-4.17', 'xen-4.20')
XL = '/usr/sbin/xl'
TIMEOUT = '/usr/bin/timeout'


def fixture_path(version, name):
    return os.path.join(FIXTURES, version, name)


def has_fixture(version, name):
    return os.path.isfile(fixture_path(version, name))


def read_fixture(version, name):
    """The text of a capture; skips the calling test loudly when it is missing."""
    path = fixture_path(version, name)
    if not os.path.isfile(path):
        pytest.skip('MISSING LAB CAPTURE %s/%s: copy it from .lab/captures (see SOURCE.md)' % (version, name))
    with open(path, encoding='utf-8', newline='') as f:
        return f.read()


def capture(version, name):
    """``(rc, stdout, stderr)`` of the capture NAME (files NAME.rc, NAME.out, NAME.err).

    This is the format of lab/tinyguest/capture-xl.sh, and what run_command returns, so a
    capture drops straight into a Replay table.  Skips the calling test when it is missing.
    """
    rc = read_fixture(version, name + '.rc').strip()
    return int(rc), read_fixture(version, name + '.out'), read_fixture(version, name + '.err')


def stdout_of(version, name):
    """The stdout of a capture whose command succeeded (asserted)."""
    rc, out, err = capture(version, name)
    assert rc == 0, '%s/%s: rc %d, stderr %r' % (version, name, rc, err)
    return out


def guest_stdout(version, name):
    """The stdout of a capture of a command on the lab guest; skips loudly when it failed.

    capture-xl.sh creates the guest "capture-pv"; when that failed on the lab host (see
    create_pv.err), every later command on the guest failed too and there is nothing to test.
    """
    rc, out, err = capture(version, name)
    if rc != 0:
        pytest.skip('LAB CAPTURE FAILED %s/%s (rc %d: %s): recapture with a working guest'
                    % (version, name, rc, err.strip().splitlines()[-1] if err.strip() else ''))
    return out


def fixtures_matching(prefix, suffix='.rc'):
    """(version, capture name) of every capture whose name starts with ``prefix``."""
    found = []
    for version in VERSIONS:
        directory = os.path.join(FIXTURES, version)
        if os.path.isdir(directory):
            for name in sorted(os.listdir(directory)):
                if name.startswith(prefix) and name.endswith(suffix):
                    found.append((version, name[:-len(suffix)]))
    return found


def write(root, path, text=''):
    """Write the file ``path`` of Domain-0 below the temporary ``root``; returns its full path."""
    full = os.path.join(str(root), path.lstrip('/'))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, 'w') as f:
        f.write(text)
    return full


class Replay(object):
    """A stand-in for ``AnsibleModule.run_command`` that replays captured xl output.

    ``table`` maps the arguments after the xl binary (a tuple) to ``(rc, stdout, stderr)``, or
    to a list of such triples consumed in order (for polling).  Every call is recorded in
    ``calls`` as (argv, kwargs) so that tests check the exact argv and options.
    """

    def __init__(self, table, xl=XL):
        self.table = dict(table)
        self.xl = xl
        self.calls = []

    def xl_args(self, argv):
        index = argv.index(self.xl)
        return tuple(argv[index + 1:])

    def __call__(self, argv, **kwargs):
        self.calls.append((list(argv), kwargs))
        key = self.xl_args(argv)
        if key not in self.table:
            raise AssertionError('unexpected xl command: %r' % (key,))
        answer = self.table[key]
        if isinstance(answer, list):
            if len(answer) > 1:
                return answer.pop(0)
            return answer[0]
        return answer

    @property
    def commands(self):
        return [self.xl_args(argv) for argv, dummy in self.calls]


def client_for(table):
    """An XlClient whose runner replays ``table`` (no timeout wrapper); returns (client, replay)."""
    replay = Replay(table, xl=XL)
    return xl_client.XlClient(xl_client.XlRunner(replay, XL, None)), replay


class FakeClock(object):
    """A monotonic clock whose sleep() advances time at once."""

    def __init__(self, start=1000.0):
        self.now = float(start)
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
