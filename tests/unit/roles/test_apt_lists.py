# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every apt step that trusts a cache age first looks whether apt has any package lists.

Debian's cloud and lab images ship with /var/lib/apt/lists emptied, and apt dates its lists by that directory, so
``cache_valid_time`` alone finds the cache "fresh" and the install fails with "No package matching". The roles'
pattern: an ``ansible.builtin.find`` of the lists, then ``cache_valid_time: "{{ X if <found>.matched > 0 else 0 }}"``.
This bug came back three times (shared_storage's tgt, the guests role's volumes and place steps); this test keeps
it away from every task file of the collection.
"""

from __future__ import annotations

import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
TASK_FILES = sorted(list(ROOT.glob('roles/*/tasks/*.yml')) + list(ROOT.glob('playbooks/**/*.yml')) + [ROOT / 'site.yml'])
GUARD = re.compile(r"\{\{\s*\S+ if (\w+|item)\.matched > 0 else 0\s*\}\}")


def _tasks(node):
    """Every task mapping in a task file or playbook, blocks and plays included."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ('tasks', 'pre_tasks', 'post_tasks', 'handlers', 'block', 'rescue', 'always'):
            if key in node:
                yield from _tasks(node[key])


def _apt_steps():
    """(path, task name, the apt module's arguments, the whole task) for every apt step."""
    steps = []
    for path in TASK_FILES:
        for task in _tasks(yaml.safe_load(path.read_text()) or []):
            args = task.get('ansible.builtin.apt', task.get('apt'))
            if isinstance(args, dict):
                steps.append((path.relative_to(ROOT).as_posix(), task.get('name', '?'), args, task))
    return steps


APT_STEPS = _apt_steps()


def test_the_collection_has_apt_steps_to_check():
    # the scan must find the roles' package steps, or it checks nothing
    assert len([s for s in APT_STEPS if 'cache_valid_time' in s[2]]) >= 6


@pytest.mark.parametrize('path, name, args', [s[:3] for s in APT_STEPS if 'cache_valid_time' in s[2]],
                         ids=lambda v: v if isinstance(v, str) else None)
def test_cache_valid_time_falls_back_to_0_without_lists(path, name, args):
    value = str(args['cache_valid_time'])
    assert GUARD.fullmatch(value.strip()), (
        '%s: "%s" trusts the cache age (%s) without looking for apt\'s lists first; use the find + '
        '"X if <found>.matched > 0 else 0" pattern' % (path, name, value))


def test_the_guard_catches_a_bare_age():
    assert not GUARD.fullmatch('86400')
    assert not GUARD.fullmatch('{{ dom0_apt_cache_valid_time }}')
    assert GUARD.fullmatch('{{ 86400 if _guests_apt_lists.matched > 0 else 0 }}')


INSTALLS = [(path, name, task) for path, name, args, task in APT_STEPS if 'name' in args]


def test_the_collection_has_installs_to_check():
    assert len(INSTALLS) >= 6


@pytest.mark.parametrize('path, name, task', INSTALLS, ids=lambda v: v if isinstance(v, str) else None)
def test_an_install_tries_again_after_a_failed_download(path, name, task):
    # a Debian mirror in the middle of its sync fails a download now and then ("Hash Sum mismatch"); one such
    # moment must not fail a whole fleet's run
    register = task.get('register')
    assert register, f'{path}: "{name}" registers no result to retry on'
    assert str(task.get('until', '')).strip() == f'{register} is succeeded', f'{path}: "{name}" has no until'
    assert int(task.get('retries', 0)) >= 2 and int(task.get('delay', 0)) >= 10, f'{path}: "{name}" retries too little'
