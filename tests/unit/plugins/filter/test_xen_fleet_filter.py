# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet_* filters: registration, input shapes and errors (the logic is tested in module_utils)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.xenfleet.xen.plugins.filter import xen_fleet as ff


def test_registered():
    filters = ff.FilterModule().filters()
    for name in ('fleet_options', 'fleet_host', 'fleet_plan_drain', 'fleet_plan_moves', 'fleet_plan_rebalance',
                 'fleet_round_results', 'fleet_stays', 'fleet_apply_results', 'fleet_census', 'fleet_autostart_fixes',
                 'fleet_summary'):
        assert callable(filters[name])


def test_options_take_given_values_else_defaults():
    spec = {'fleet_parallel': {'type': 'int', 'default': 2}, 'fleet_host': {'type': 'str'},
            'fleet_guests': {'type': 'list', 'default': []}}
    given = {'fleet_parallel': ff.UNSET, 'fleet_host': 'xen1', 'fleet_guests': None}
    assert ff.fleet_options(spec, given) == {'fleet_parallel': 2, 'fleet_host': 'xen1', 'fleet_guests': []}
    assert ff.fleet_options(spec, {'fleet_parallel': 0})['fleet_parallel'] == 0
    with pytest.raises(AnsibleFilterError):
        ff.fleet_options(['x'])


def test_host_and_plans():
    info = {'is_xen': True, 'xen_version': '4.17.7', 'free_memory_mib': 900, 'nr_cpus': 1, 'capabilities': {'hap': True}}
    disk = [{'target': '/dev/disk/by-path/ip-10.0.0.9:3260-iscsi-iqn.x:a-lun-1', 'vdev': 'xvda'}]
    one = ff.fleet_host(info, {'domains': [{'name': 'a', 'type': 'pvh', 'state': 'blocked', 'memory_mib': 64,
                                            'vcpus': 1, 'disks': disk}]}, {'stdout': ''}, 'xen1', '10.0.0.11')
    two = ff.fleet_host(info, {}, '', 'xen2', '10.0.0.12')
    plan = ff.fleet_plan_drain([one, two], ['xen1'])
    assert plan['ok'] and plan['moves'][0]['target'] == 'xen2'
    assert ff.fleet_plan_moves([one, two], ['a'], {}, 'xen2')['moves'][0]['target'] == 'xen2'
    assert ff.fleet_plan_rebalance([one, two], {'threshold_mib': 10})['operation'] == 'rebalance'
    report = ff.fleet_summary(plan, [], [], [one, two])
    assert report['census']['ok']
    with pytest.raises(AnsibleFilterError, match='the host name is required'):
        ff.fleet_host(info)
    with pytest.raises(AnsibleFilterError, match='must be a list'):
        ff.fleet_plan_drain({'xen1': {}}, ['xen1'])
    with pytest.raises(AnsibleFilterError, match='unknown option'):
        ff.fleet_plan_drain([one, two], ['xen1'], {'bogus': 1})
    with pytest.raises(AnsibleFilterError, match='a guest to move'):
        ff.fleet_plan_moves([one, two], [{'target': 'xen2'}])


def test_stays_from_a_registered_loop():
    results = [{'item': 'db', 'changed': True, 'shutdown_seconds': 4.2}, {'item': 'x', 'failed': True, 'msg': 'boom'},
               {'item': 'y', 'skipped': True}]
    assert ff.fleet_stays(results, 'xen1', 'shut down') == [
        {'guest': 'db', 'host': 'xen1', 'ok': True, 'status': 'shut down', 'seconds': 4.2},
        {'guest': 'x', 'host': 'xen1', 'ok': False, 'status': 'shut down failed: boom', 'seconds': None}]
