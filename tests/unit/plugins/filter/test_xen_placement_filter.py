# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The xen_placement filter: input shapes and errors (the logic is tested in module_utils)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.xenfleet.xen.plugins.filter.xen_placement import FilterModule, xen_placement


def test_registered():
    assert FilterModule().filters()['xen_placement'] is xen_placement


@pytest.mark.parametrize('hosts', [
    {'xen2': {'memory_mib': 700, 'vcpus': 4}, 'xen1': {'memory_mib': 900, 'vcpus': 4}},
    [{'name': 'xen1', 'memory_mib': 900, 'vcpus': 4}, {'name': 'xen2', 'memory_mib': 700, 'vcpus': 4}],
], ids=['dict', 'list'])
def test_shapes(hosts):
    result = xen_placement(hosts, [{'name': 'a', 'memory_mib': 256}, {'name': 'b', 'memory_mib': 256},
                                   {'name': 'c', 'memory_mib': 256}, {'name': 'p', 'memory_mib': 64, 'pin': 'xen2'}])
    assert result['ok'] is True
    # p is charged first (xen2: 636 left); a -> xen1 (644 left), b -> xen1 (644 > 636), c -> xen2
    assert result['assignments'] == {'p': 'xen2', 'a': 'xen1', 'b': 'xen1', 'c': 'xen2'}
    assert result['how']['p'] == 'pinned'
    assert 'GUEST' in result['table']


def test_does_not_fit_is_a_result_not_an_error():
    result = xen_placement({'xen1': {'memory_mib': 100}}, [{'name': 'a', 'memory_mib': 256}])
    assert result['ok'] is False
    assert result['unplaced'] == [{'guest': 'a', 'memory_mib': 256, 'vcpus': 1,
                                   'reason': 'xen1 has 100 MiB free, needs 256'}]


@pytest.mark.parametrize('hosts,guests,strategy,message', [
    ('xen1', [], 'spread', 'the hosts must be a list or a dict'),
    ({'xen1': 5}, [], 'spread', 'host xen1 must be a dict'),
    ({}, {'a': 1}, 'spread', 'the guests must be a list'),
    ({}, [], 'best', 'strategy must be one of spread, pack'),
])
def test_errors(hosts, guests, strategy, message):
    with pytest.raises(AnsibleFilterError, match=message):
        xen_placement(hosts, guests, strategy=strategy)
