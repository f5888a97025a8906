# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Table-driven tests of the capacity placement (pure logic: no xl involved, so no lab capture needed)."""

from __future__ import annotations

import itertools
import random

import pytest

from ansible_collections.xenfleet.xen.plugins.module_utils.xen_placement import (
    HOW_CAPACITY, HOW_CURRENT, HOW_PINNED, Guest, Host, PlacementError, place)


def H(name, mem, vcpus=None):
    return {'name': name, 'memory_mib': mem, 'vcpus': vcpus}


def G(name, mem, vcpus=1, **kw):
    return dict(name=name, memory_mib=mem, vcpus=vcpus, **kw)


# (id, hosts, guests, strategy, expected assignments, expected unplaced guest names)
CASES = [
    ('empty fleet', [H('xen1', 900)], [], 'spread', {}, []),
    ('one guest, one host', [H('xen1', 900)], [G('a', 256)], 'spread', {'a': 'xen1'}, []),
    ('spread: most free memory first',
     [H('xen1', 900), H('xen2', 700)], [G('a', 256), G('b', 256), G('c', 256)], 'spread',
     # a -> xen1 (900 > 700, 644 left), b -> xen2 (700 > 644), c -> xen1 (644 > 444)
     {'a': 'xen1', 'b': 'xen2', 'c': 'xen1'}, []),
    ('spread: equal hosts alternate, ties by name',
     [H('xen2', 1000), H('xen1', 1000)], [G('a', 100), G('b', 100), G('c', 100), G('d', 100)], 'spread',
     {'a': 'xen1', 'b': 'xen2', 'c': 'xen1', 'd': 'xen2'}, []),
    ('spread: largest guest first',
     [H('xen1', 1000), H('xen2', 600)], [G('small', 100), G('big', 700)], 'spread',
     # big first -> only xen1 fits (300 left); small -> xen2 (600 > 300)
     {'big': 'xen1', 'small': 'xen2'}, []),
    ('pack: best fit fills one host',
     [H('xen1', 1000), H('xen2', 600)], [G('a', 200), G('b', 200), G('c', 200)], 'pack',
     # a -> xen2 (600 is the least that fits), b -> xen2 (400), c -> xen2 (200)
     {'a': 'xen2', 'b': 'xen2', 'c': 'xen2'}, []),
    ('pack: overflow to the next host',
     [H('xen1', 1000), H('xen2', 300)], [G('a', 200), G('b', 200)], 'pack',
     {'a': 'xen2', 'b': 'xen1'}, []),
    ('vcpus limit spreads',
     [H('xen1', 4000, 1), H('xen2', 1000, 4)], [G('a', 100, 1), G('b', 100, 1)], 'spread',
     # a -> xen1 (more memory), which then has 0 vCPUs: b -> xen2
     {'a': 'xen1', 'b': 'xen2'}, []),
    ('vcpus None means unlimited',
     [H('xen1', 1000, None)], [G('a', 100, 64)], 'spread', {'a': 'xen1'}, []),
    ('pinned guest goes where pinned even if the other host has more room',
     [H('xen1', 1000), H('xen2', 500)], [G('a', 256, pin='xen2')], 'spread', {'a': 'xen2'}, []),
    ('pinned guests are charged before the others',
     [H('xen1', 600), H('xen2', 600)], [G('a', 300), G('p', 500, pin='xen1')], 'spread',
     {'p': 'xen1', 'a': 'xen2'}, []),
    ('pinned to an unknown host', [H('xen1', 1000)], [G('a', 100, pin='xen9')], 'spread', {}, ['a']),
    ('pinned to a host without room', [H('xen1', 1000), H('xen2', 100)], [G('a', 256, pin='xen2')], 'spread',
     {}, ['a']),
    ('pinned to an excluded host', [H('xen1', 1000)], [G('a', 100, pin='xen1', exclude=['xen1'])], 'spread',
     {}, ['a']),
    ('excluded host is never chosen',
     [H('xen1', 1000), H('xen2', 300)], [G('a', 256, exclude=['xen1'])], 'spread', {'a': 'xen2'}, []),
    ('running guest stays and costs nothing more',
     [H('xen1', 100), H('xen2', 1000)], [G('a', 256, current='xen1', running=True)], 'spread', {'a': 'xen1'}, []),
    ('existing stopped guest stays and is charged',
     [H('xen1', 300), H('xen2', 1000)], [G('a', 256, current='xen1'), G('b', 100, pin='xen1')], 'spread',
     # a stays on xen1 (44 left), so pinned b no longer fits there
     {'a': 'xen1'}, ['b']),
    ('existing guest that no longer fits where it is',
     [H('xen1', 100), H('xen2', 1000)], [G('a', 256, current='xen1')], 'spread', {}, ['a']),
    ('existing on one host, pinned to another',
     [H('xen1', 1000), H('xen2', 1000)], [G('a', 256, current='xen1', pin='xen2')], 'spread', {}, ['a']),
    ('existing on a host outside the pool',
     [H('xen1', 1000)], [G('a', 256, current='xen7', running=True)], 'spread', {}, ['a']),
    ('evacuation: current host excluded, guest placed elsewhere',
     [H('xen1', 1000), H('xen2', 400), H('xen3', 500)],
     [G('a', 256, current='xen1', running=True, exclude=['xen1']),
      G('b', 256, current='xen1', running=True, exclude=['xen1'])], 'spread',
     {'a': 'xen3', 'b': 'xen2'}, []),
    ('fleet does not fit: the rest is still planned but not ok',
     [H('xen1', 500), H('xen2', 500)], [G('a', 400), G('b', 400), G('c', 400)], 'spread',
     {'a': 'xen1', 'b': 'xen2'}, ['c']),
    ('guest larger than any host', [H('xen1', 500), H('xen2', 500)], [G('huge', 4096)], 'spread', {}, ['huge']),
    ('no hosts at all', [], [G('a', 1)], 'spread', {}, ['a']),
    ('exact fit', [H('xen1', 512, 2)], [G('a', 256, 1), G('b', 256, 1)], 'spread', {'a': 'xen1', 'b': 'xen1'}, []),
    ('zero-memory host', [H('xen1', 0)], [G('a', 1)], 'pack', {}, ['a']),
]


@pytest.mark.parametrize('hosts,guests,strategy,assignments,unplaced', [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_place(hosts, guests, strategy, assignments, unplaced):
    result = place(hosts, guests, strategy=strategy)
    assert result.assignments == assignments
    assert [u['guest'] for u in result.unplaced] == unplaced
    assert result.ok == (not unplaced)
    # every guest is either placed or in the table of what does not fit, never both
    assert set(result.assignments).isdisjoint(unplaced)
    assert set(result.assignments) | set(unplaced) == {g['name'] for g in guests}
    as_dict = result.to_dict()
    assert as_dict['ok'] == result.ok
    for u in unplaced:
        assert 'DOES NOT FIT' in as_dict['table'] and u in as_dict['table']


# (id, guest, reason fragment)
REASONS = [
    ('memory figures', [H('xen1', 200), H('xen2', 100)], G('a', 256),
     ['xen1 has 200 MiB free, needs 256', 'xen2 has 100 MiB free, needs 256']),
    ('vcpu figures', [H('xen1', 2000, 1)], G('a', 256, 2), ['xen1 has 1 vCPU(s) free, needs 2']),
    ('excluded', [H('xen1', 2000)], G('a', 256, exclude=['xen1']), ['xen1 is excluded']),
    ('unknown pin', [H('xen1', 2000)], G('a', 256, pin='xen3'), ['pinned to xen3, which is not one of the hosts (xen1)']),
    ('pin conflict', [H('xen1', 2000)], G('a', 256, pin='xen1', current='xen2', running=True),
     ['exists on xen2 but is pinned to xen1']),
    ('no hosts', [], G('a', 256), ['there are no hosts']),
]


@pytest.mark.parametrize('hosts,guest,fragments', [c[1:] for c in REASONS], ids=[c[0] for c in REASONS])
def test_reasons(hosts, guest, fragments):
    result = place(hosts, [guest])
    assert not result.ok
    reason = result.unplaced[0]['reason']
    for fragment in fragments:
        assert fragment in reason
    assert fragments[0] in result.table()


def test_how_and_capacity_accounting():
    result = place([H('xen1', 1000, 4), H('xen2', 1000, 4)],
                   [G('old', 256, 1, current='xen2', running=True), G('p', 128, 2, pin='xen1'), G('new', 300, 1)])
    assert result.how == {'old': HOW_CURRENT, 'p': HOW_PINNED, 'new': HOW_CAPACITY}
    hosts = {h['host']: h for h in result.to_dict()['hosts']}
    # p on xen1 (872 left), new -> xen2 (old runs there already: not charged, 1000 > 872)
    assert result.assignments['new'] == 'xen2'
    assert hosts['xen1'] == {'host': 'xen1', 'memory_mib_free': 1000, 'memory_mib_left': 872, 'vcpus_free': 4,
                             'vcpus_left': 2, 'guests': ['p']}
    assert hosts['xen2']['memory_mib_left'] == 700 and hosts['xen2']['guests'] == ['new', 'old']


def test_table_layout():
    table = place([H('xen1', 500, 2)], [G('web', 256), G('db', 1024)]).table()
    lines = table.splitlines()
    assert lines[0].split() == ['GUEST', 'MEMORY', 'VCPUS', 'HOST', 'HOW', '/', 'WHY', 'NOT']
    assert lines[1].startswith('db ') and 'DOES NOT FIT: xen1 has 500 MiB free, needs 1024' in lines[1]
    assert lines[2].split()[:5] == ['web', '256', 'MiB', '1', 'xen1']
    assert 'HOST' in lines[4] and 'MEMORY FREE' in lines[4]
    assert lines[5].split() == ['xen1', '500', 'MiB', '244', 'MiB', '2', '1', 'web']


def test_deterministic_whatever_the_input_order():
    hosts = [H('xen%d' % i, 500 + 100 * (i % 3), 4) for i in range(1, 6)]
    guests = [G('g%02d' % i, 64 * (1 + i % 4), 1 + i % 2) for i in range(12)]
    reference = place(hosts, guests).to_dict()
    rng = random.Random(7)
    for attempt in range(20):
        h, g = list(hosts), list(guests)
        rng.shuffle(h)
        rng.shuffle(g)
        got = place(h, g).to_dict()
        assert got['assignments'] == reference['assignments'], attempt
        assert got['unplaced'] == reference['unplaced']


@pytest.mark.parametrize('strategy', ['spread', 'pack'])
def test_never_overcommits(strategy):
    """Whatever the fleet, no host ends with negative memory or vCPUs, and ok means all placed."""
    rng = random.Random(11)
    for attempt in range(200):
        hosts = [H('h%d' % i, rng.randint(0, 2048), rng.choice([None, rng.randint(0, 8)])) for i in range(rng.randint(0, 4))]
        guests = [G('g%d' % i, rng.randint(1, 1024), rng.randint(1, 4),
                    pin=rng.choice([None, None, 'h0', 'h9'])) for i in range(rng.randint(0, 8))]
        result = place(hosts, guests, strategy=strategy)
        assert result.strategy == strategy, attempt
        for row in result.host_table():
            assert row['memory_mib_left'] >= 0
            assert row['vcpus_left'] is None or row['vcpus_left'] >= 0
        used = {}
        for g in guests:
            if g['name'] in result.assignments:
                used.setdefault(result.assignments[g['name']], 0)
                used[result.assignments[g['name']]] += g['memory_mib']
        for h in hosts:
            assert used.get(h['name'], 0) <= h['memory_mib']
        assert result.ok == (len(result.assignments) == len(guests))


def test_spread_is_balanced_for_equal_guests():
    for n_hosts, n_guests in itertools.product([1, 2, 3], [0, 1, 5, 6]):
        hosts = [H('x%d' % i, 10000) for i in range(n_hosts)]
        result = place(hosts, [G('g%d' % i, 100) for i in range(n_guests)])
        counts = [len(r['guests']) for r in result.host_table()]
        assert max(counts) - min(counts) <= 1


BAD = [
    ('unknown strategy', [], [], 'roundrobin', 'strategy must be one of'),
    ('duplicate hosts', [H('a', 1), H('a', 2)], [], 'spread', 'duplicate host names: a'),
    ('duplicate guests', [H('a', 1)], [G('g', 1), G('g', 1)], 'spread', 'duplicate guest names: g'),
    ('negative memory', [H('a', -1)], [], 'spread', 'must not be negative'),
    ('memory not a number', [H('a', 'lots')], [], 'spread', 'must be a number'),
    ('boolean is no number', [], [G('g', True)], 'spread', 'must be a number'),
    ('host without memory', [{'name': 'a'}], [], 'spread', 'memory_mib is required'),
    ('guest without memory', [], [{'name': 'g'}], 'spread', 'memory_mib is required'),
    ('unknown guest key', [], [G('g', 1, colour='red')], 'spread', 'unknown keys colour'),
    ('unknown host key', [{'name': 'a', 'memory_mib': 1, 'disk': 3}], [], 'spread', 'unknown keys disk'),
    ('exclude is a string', [], [G('g', 1, exclude='xen1')], 'spread', 'exclude must be a list'),
    ('guest without name', [], [G('', 1)], 'spread', 'a guest needs a name'),
    ('host not a dict', ['xen1'], [], 'spread', 'a host must be a dict'),
]


@pytest.mark.parametrize('hosts,guests,strategy,message', [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input(hosts, guests, strategy, message):
    with pytest.raises(PlacementError, match=message):
        place(hosts, guests, strategy=strategy)


def test_objects_accepted():
    result = place([Host('xen1', 1000, 2)], [Guest('a', 100, 1)])
    assert result.assignments == {'a': 'xen1'}
