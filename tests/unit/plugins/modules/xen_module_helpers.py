# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() in-process with given arguments and a replaying run_command."""

from __future__ import annotations

import os

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_service
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import Replay

XL = '/usr/sbin/xl'
TIMEOUT = '/usr/bin/timeout'


class ModuleExit(Exception):
    def __init__(self, failed, result):
        super(ModuleExit, self).__init__(result)
        self.failed = failed
        self.result = result


def write(root, path, text=''):
    full = os.path.join(str(root), path.lstrip('/'))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, 'w') as f:
        f.write(text)
    return full


def run_module(monkeypatch, main, args, table, root, paths=None):
    """Run ``main`` with ``args``; returns (result dict, failed, replay)."""
    replay = Replay(table, xl=XL)
    paths = {'xl': XL, 'timeout': TIMEOUT} if paths is None else paths

    def exit_json(self, **kwargs):
        raise ModuleExit(False, kwargs)

    def fail_json(self, **kwargs):
        raise ModuleExit(True, kwargs)

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return paths.get(name)

    def run_command(self, argv, **kwargs):
        return replay(argv, **kwargs)

    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', get_bin_path)
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', run_command)
    monkeypatch.setattr(xl_service, 'ROOT', str(root))
    with patch_module_args(args):
        with pytest.raises(ModuleExit) as exc:
            main()
    return exc.value.result, exc.value.failed, replay
