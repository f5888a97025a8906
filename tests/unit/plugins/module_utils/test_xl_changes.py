# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The change tracker: ``changed``, ``changes()`` and ``diff()`` come from the same records."""

from __future__ import annotations

import pytest

from ansible_collections.xenfleet.xen.plugins.module_utils.xl_changes import ChangeTracker


def test_equal_values_are_not_changes():
    t = ChangeTracker()
    assert t.add('memory', 128, 128, 'config') is False
    assert not t.changed
    assert t.diff() == []
    assert t.changes() == []


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        ChangeTracker().add('x', 1, 2, 'mood')


@pytest.mark.parametrize('records, changed, sections', [
    ([('memory', 128, 96, 'live')], True, {'live'}),
    ([('state', 'absent', 'running', 'state'), ('/etc/xen/auto/web1', None, '/etc/xen/web1.cfg', 'autostart')],
     True, {'state', 'autostart'}),
    ([('vcpus', 1, 2, 'config')], True, {'config'}),
    ([('vcpus', 2, 2, 'config')], False, set()),
])
def test_changed_and_diff_agree(records, changed, sections):
    t = ChangeTracker()
    for key, before, after, kind in records:
        t.add(key, before, after, kind)
    assert t.changed is changed
    diff = t.diff()
    assert bool(diff) is changed
    if diff:
        assert set(diff[-1]['before']) == sections == set(diff[-1]['after'])
    assert [c['key'] for c in t.changes()] == [r[0] for r in records if r[1] != r[2]]


def test_file_text_replaces_config_values_in_the_diff():
    t = ChangeTracker()
    t.add('memory', 128, 96, 'config')
    t.set_file('/etc/xen/web1.cfg', 'memory = 128\n', 'memory = 96\n')
    t.add('memory', 128, 96, 'live', detail='mem_set')
    diff = t.diff()
    assert diff[0] == {'before_header': '/etc/xen/web1.cfg (before)', 'after_header': '/etc/xen/web1.cfg (after)',
                       'before': 'memory = 128\n', 'after': 'memory = 96\n'}
    # the config keys are in the text diff; the live change stays as values
    assert diff[1] == {'before': {'live': {'memory': 128}}, 'after': {'live': {'memory': 96}}}
    assert t.keys('live') == ['memory'] and t.has('config') and not t.has('state')


def test_new_and_removed_files_have_headers():
    t = ChangeTracker()
    t.add('<file>', None, 'x', 'config')
    t.set_file('/a', None, 'x\n')
    t.set_file('/b', 'y\n', None)
    t.set_file('/c', 'same', 'same')
    headers = [(d['before_header'], d['after_header']) for d in t.diff()]
    assert headers == [('/a (absent)', '/a (after)'), ('/b (before)', '/b (absent)')]
