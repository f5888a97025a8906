# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() in-process with given arguments, over captured output.

``run`` answers xl commands from a Replay table (see module_utils/xen_fixtures.py) and any other
command (the ssh probe of xen_migrate) from a second table; timed processes (xl migrate,
xenstore-watch, ping) replay timestamped lines, and time is a fake clock that never sleeps.
``run_module`` is ``run`` for the info modules, which run nothing but xl.
"""

from __future__ import annotations

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_migrate
from ansible_collections.xenfleet.xen.plugins.module_utils import xl_service
from ansible_collections.xenfleet.xen.plugins.module_utils import xl_waiter
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import (
    TIMEOUT,
    XL,
    FakeClock,
    Replay,
)

PATHS = {'xl': XL, 'timeout': TIMEOUT, 'ssh': '/usr/bin/ssh', 'ping': '/usr/bin/ping',
         'xenstore-watch': '/usr/bin/xenstore-watch', 'socat': '/usr/bin/socat'}


class ModuleExit(Exception):
    def __init__(self, failed, result):
        super(ModuleExit, self).__init__(result)
        self.failed = failed
        self.result = result


class Dispatch(object):
    """run_command: xl commands from a Replay table, any other command from ``other`` (argv tuple -> answer)."""

    def __init__(self, table, other=None):
        self.xl = Replay(table, xl=XL)
        self.other = dict(other or {})
        self.calls = []

    def __call__(self, argv, **kwargs):
        self.calls.append(list(argv))
        if XL in argv:
            return self.xl(argv, **kwargs)
        key = tuple(argv)
        if key not in self.other:
            raise AssertionError('unexpected command: %r' % (key,))
        return self.other[key]

    @property
    def commands(self):
        return self.xl.commands


class FakeProcess(object):
    """A TimedProcess that replays ``(offset seconds, stream, line)`` from a script, on a FakeClock.

    ``scripts`` maps the basename of argv[0] after any timeout(1) wrapper (``xl``, ``ping``,
    ``xenstore-watch``) to (rc, [(offset, stream, line), ...]).  The clock advances by the
    duration of an ``xl`` run when it is waited for.
    """

    scripts = {}
    clock = None
    started = []

    def __init__(self, argv, clock=None, env_update=None, stdout=True):
        self.argv = list(argv)
        self.env_update = env_update
        words = [a.rsplit('/', 1)[-1] for a in self.argv]
        self.kind = 'xl' if 'xl' in words else words[0]
        self.rc_script, self.script = self.scripts[self.kind]
        self.start = self.clock()
        self.rc = None
        FakeProcess.started.append(self)

    def wait(self, timeout=None):
        duration = max([o for o, dummy, dummy2 in self.script] or [0.0])
        if self.kind == 'xl' and self.clock() < self.start + duration:
            self.clock.now = self.start + duration
        self.rc = self.rc_script
        return self.rc

    def stop(self, grace=2.0):
        self.rc = self.rc_script if self.rc is None else self.rc
        return self.rc

    def snapshot(self):
        return [(self.start + o, s, line) for o, s, line in self.script if self.start + o <= self.clock() or
                self.kind == 'xl']

    def text(self, stream):
        return ''.join(line + '\n' for dummy, s, line in self.script if s == stream)


class FakeTime(object):
    """Stands for the ``time`` module in xl_migrate: monotonic() and sleep() on a FakeClock."""

    def __init__(self, clock):
        self.clock = clock

    def monotonic(self):
        return self.clock()

    def sleep(self, seconds):
        self.clock.sleep(seconds)

    def time(self):
        return 1.7e9 + self.clock()


def run(monkeypatch, main, args, table, root, other=None, scripts=None, paths=None, check_mode=False,
        diff=False):
    """Run ``main`` with ``args``; returns (result, failed, dispatch)."""
    dispatch = Dispatch(table, other)
    paths = PATHS if paths is None else paths
    clock = FakeClock()

    def exit_json(self, **kwargs):
        raise ModuleExit(False, kwargs)

    def fail_json(self, **kwargs):
        raise ModuleExit(True, kwargs)

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return paths.get(name)

    def run_command(self, argv, **kwargs):
        return dispatch(argv, **kwargs)

    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', get_bin_path)
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', run_command)
    monkeypatch.setattr(xl_service, 'ROOT', str(root))
    # the client's waiter (shutdown, destroy) and the migration service run on the fake clock
    monkeypatch.setattr(xl_waiter.Waiter.__init__, '__defaults__', (clock, clock.sleep))
    monkeypatch.setattr(xl_migrate, 'time', FakeTime(clock))
    FakeProcess.scripts = scripts or {}
    FakeProcess.clock = clock
    FakeProcess.started = []
    monkeypatch.setattr(xl_migrate, 'TimedProcess', FakeProcess)
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    with patch_module_args(args):
        with pytest.raises(ModuleExit) as exc:
            main()
    return exc.value.result, exc.value.failed, dispatch


def run_module(monkeypatch, main, args, table, root, paths=None):
    """Run ``main`` of a module that runs only xl (xl and timeout found); returns (result, failed, replay)."""
    paths = {'xl': XL, 'timeout': TIMEOUT} if paths is None else paths
    result, failed, dispatch = run(monkeypatch, main, args, table, root, paths=paths)
    return result, failed, dispatch.xl
