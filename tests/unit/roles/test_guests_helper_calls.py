# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guests role runs its installed helper (xenfleet_guest.py) through xenfleet.xen.raw_command, never as a module.

Measured in the lab (tests/bench/guests.py, session 10): one module task on an emulated Domain-0 costs 5.5 s of
Python start, a raw command 0.7 s; the role calls the helper several times for every guest, and role / floor is the
issue's goal. The only exception is ``scratch`` (a from-scratch debootstrap of many minutes), which needs ``async``
for its progress. raw_command also keeps argv quoted word by word (no shell string) and takes the first-boot secrets
on stdin. This test fails when a new helper call comes in as ansible.builtin.command / raw / shell.
"""

from __future__ import annotations

import json
import pathlib

import yaml

from test_apt_lists import _tasks

ROOT = pathlib.Path(__file__).resolve().parents[3]
TASK_FILES = sorted((ROOT / 'roles' / 'guests' / 'tasks').glob('*.yml'))
MODULE_ACTIONS = ('ansible.builtin.command', 'ansible.builtin.shell', 'ansible.builtin.raw', 'command', 'shell', 'raw')
ALLOWED_AS_MODULE = {'scratch'}


def helper_calls():
    calls = []
    for path in TASK_FILES:
        for task in _tasks(yaml.safe_load(path.read_text()) or []):
            for action in MODULE_ACTIONS + ('xenfleet.xen.raw_command',):
                if action in task:
                    text = json.dumps(task[action])
                    if '_guests_helper }}' in text or "_guests_helper," in text or '_guests_helper]' in text:
                        calls.append((path.name, task.get('name', '?'), action, text))
    return calls


CALLS = helper_calls()


def test_the_role_has_helper_calls_to_check():
    # survey, lock, clone, customise, wait-ssh, unlock, import (2), volume, remove-disk, scratch
    assert len(CALLS) >= 10, CALLS


def test_helper_calls_go_through_raw_command():
    wrong = [(f, name, action) for f, name, action, text in CALLS
             if action != 'xenfleet.xen.raw_command' and not any(sub in text for sub in ALLOWED_AS_MODULE)]
    assert not wrong, 'helper calls run as a module (seconds each on an emulated Domain-0): %s' % wrong


def test_raw_command_calls_read_the_helpers_json():
    missing = [(f, name) for f, name, action, text in CALLS
               if action == 'xenfleet.xen.raw_command' and '"json": true' not in text]
    assert not missing, missing
