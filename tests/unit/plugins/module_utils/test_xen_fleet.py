# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet planner: host records (from real lab captures), drain, moves, rebalance, rounds, results, summary."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.xenfleet.xen.plugins.module_utils import xen_fleet as f
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_service import XenHostService
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import (
    VERSIONS,
    client_for,
    stdout_of,
    write,
)

ISCSI = '/dev/disk/by-path/ip-192.168.250.13:3260-iscsi-iqn.2025-11.net.xenfleet.shared:%s-lun-1'


def guest(name, memory=64, vcpus=1, type_='pvh', state='blocked', disks=None, autostart=False, config=None):
    return {'name': name, 'type': type_, 'state': state, 'memory_mib': memory, 'maxmem_mib': memory,
            'vcpus': vcpus, 'disks': disks if disks is not None else [{'target': ISCSI % name, 'vdev': 'xvda'}],
            'autostart': autostart, 'autostart_link': '/etc/xen/auto/%s.cfg' % name if autostart else None,
            'config': config}


def host(name, free=900, cpus=1, guests=(), version='4.17.7', drained=False, shadow=False, reachable=True,
         configs=None):
    return {'name': name, 'address': '192.168.250.%d' % (10 + int(name[-1])), 'reachable': reachable,
            'is_xen': True, 'xen_version': version, 'free_mib': free, 'total_mib': 2047, 'cpus': cpus,
            'shadow': shadow, 'hap': True, 'drained': drained, 'drain': {'drained': True} if drained else None,
            'rollout': None, 'configs': configs or {}, 'guests': list(guests)}


OPTS = {'reserve_mib': 100, 'overhead_mib': 0, 'vcpu_ratio': 0}


# --------------------------------------------------------------------------- host records

@pytest.mark.parametrize('version', VERSIONS)
def test_host_record_from_lab_captures(tmp_path, version):
    """xen_host_info and xen_domain_info results computed from real captures, turned into a record."""
    write(tmp_path, '/proc/xen/capabilities', 'control_d\n')
    write(tmp_path, '/sys/hypervisor/type', 'xen\n')
    listing = stdout_of(version, 'xl_list').splitlines()
    table = {
        ('info',): (0, stdout_of(version, 'xl_info'), ''),
        ('list', 'Domain-0'): (0, '\n'.join(listing[:2]) + '\n', ''),
        ('list',): (0, stdout_of(version, 'xl_list_guest'), ''),
        ('list', '-l'): (0, stdout_of(version, 'xl_list_l_guest'), ''),
    }
    uptime = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', version, 'xl_uptime_guest.out')
    table[('uptime',)] = (0, open(uptime).read() if os.path.exists(uptime) else stdout_of(version, 'xl_uptime'), '')
    client, dummy = client_for(table)
    service = XenHostService(lambda: client, root=str(tmp_path))
    host_info = service.host_facts()
    domain_info = {'domains': service.domain_facts()}
    files = ('/etc/xen/capture-pv.cfg:name = "capture-pv"\n/etc/xen/capture-pv.cfg:memory = 128\n'
             '/etc/ansible/facts.d/xenfleet_drain.fact:{"drained": true, "since": "2026-11-26T12:00:00Z"}\n')
    record = f.host_record('xen1', host_info, domain_info, files, '192.168.250.11')
    assert record['is_xen'] and record['reachable']
    assert record['free_mib'] == 1000 and record['cpus'] == 1
    assert record['xen_version'].startswith('4.')
    # The lab's Xen builds have no shadow paging: pv guests cannot live-migrate there
    assert record['shadow'] is False and record['hap'] is True
    assert record['drained'] is True and record['drain']['since'] == '2026-11-26T12:00:00Z'
    names = [g['name'] for g in record['guests']]
    assert 'capture-pv' in names and 'Domain-0' not in names
    pv = [g for g in record['guests'] if g['name'] == 'capture-pv'][0]
    assert pv['type'] == 'pv' and pv['memory_mib'] > 0
    assert pv['config'] == 'name = "capture-pv"\nmemory = 128\n'
    ok, why = f.movability(pv, record, f.options())
    assert not ok and 'no shadow paging' in why


def test_parse_files_keeps_colons_and_bad_json():
    configs, facts, auto = f.parse_files(
        '/etc/xen/a.cfg:disk = [ "target=/dev/x:y,vdev=xvda" ]\n/etc/xen/a.cfg:\n/etc/xen/b.cfg:name = "b"\n'
        '/etc/ansible/facts.d/xenfleet_drain.fact:{not json\n/etc/ansible/facts.d/xenfleet_rollout.fact:{"id": "x"}\n'
        '/etc/xen/auto/a.cfg:->/etc/xen/a.cfg\n/etc/xen/auto/10-b:->../b.cfg\ngarbage without a colon\n')
    assert configs == {'a': 'disk = [ "target=/dev/x:y,vdev=xvda" ]\n\n', 'b': 'name = "b"\n'}
    assert facts == {'xenfleet_drain': None, 'xenfleet_rollout': {'id': 'x'}}
    assert auto == {'/etc/xen/auto/a.cfg': '/etc/xen/a.cfg', '/etc/xen/auto/10-b': '../b.cfg'}


def test_autostart_entries_follow_their_guests():
    hosts = [host('xen1', guests=[guest('b')], configs={'a': 'x', 'b': 'y'},
                  ), host('xen2', guests=[guest('a')], configs={'a': 'x'}), host('xen3', configs={})]
    hosts[0]['autostart_links'] = {'/etc/xen/auto/a.cfg': '/etc/xen/a.cfg', '/etc/xen/auto/10-b': '../b.cfg',
                                   '/etc/xen/auto/gone.cfg': '/etc/xen/gone.cfg'}
    hosts[1]['autostart_links'] = {}
    fixes = f.autostart_fixes(hosts)
    # a runs on xen2: its entry leaves xen1 and comes to xen2; b's stays; gone runs nowhere: left alone
    assert fixes == [
        {'host': 'xen1', 'action': 'remove', 'path': '/etc/xen/auto/a.cfg', 'src': None, 'guest': 'a'},
        {'host': 'xen2', 'action': 'add', 'path': '/etc/xen/auto/a.cfg', 'src': '/etc/xen/a.cfg', 'guest': 'a'}]
    hosts[1]['autostart_links'] = {'/etc/xen/auto/a': '/etc/xen/a.cfg'}
    assert f.autostart_fixes(hosts) == fixes[:1]


def test_unreachable_or_failed_host_is_not_reachable():
    assert f.host_record('xen1', {'unreachable': True})['reachable'] is False
    assert f.host_record('xen1', {'failed': True, 'msg': 'x'})['reachable'] is False
    assert f.host_record('xen1', {'is_xen': False, 'reason': 'no Xen'})['is_xen'] is False
    # a host whose guests cannot be read is neither emptied nor filled
    record = f.host_record('xen1', {'is_xen': True}, {'failed': True, 'msg': 'xl: lock held'})
    assert record['reachable'] is False and 'lock held' in record['reason']
    assert 'lock held' in f.plan_drain([record, host('xen2')], ['xen1'], OPTS)['errors'][0]
    # the last read of a host whose migration did not settle in time keeps its guests (the planner refuses them)
    record = f.host_record('xen1', {'is_xen': True}, {'failed': True, 'domains': [{'name': 'a--incoming'}]})
    assert record['reachable'] and record['guests'][0]['name'] == 'a--incoming'


# --------------------------------------------------------------------------- options and movability

def test_options_are_checked():
    with pytest.raises(f.FleetError, match='unknown option'):
        f.options({'paralel': 2})
    with pytest.raises(f.FleetError, match='policy'):
        f.options({'policy': 'migrate'})
    with pytest.raises(f.FleetError, match='parallel must be at least 1'):
        f.options({'parallel': 0})
    with pytest.raises(f.FleetError, match='must be a list'):
        f.options({'prefer': 'xen1'})
    assert f.options({'reserve_mib': None})['reserve_mib'] == f.DEFAULTS['reserve_mib']


def test_shared_disks():
    opts = f.options()
    assert f.disk_is_shared({'target': ISCSI % 'a'}, opts)
    assert f.disk_is_shared({'target': 'iqn=iqn.x:a,portal=10.0.0.1', 'script': '/etc/xen/scripts/block-iscsi'}, opts)
    assert f.disk_is_shared({'target': None, 'devtype': 'cdrom'}, opts)
    assert not f.disk_is_shared({'target': '/dev/xenvg/a-root'}, opts)
    assert not f.disk_is_shared({'target': '/var/lib/xen/images/a.img'}, dict(opts, shared_prefixes=['/srv/']))


# The disks the guests role gives its guests (roles/guests: tasks/present.yml), by guests_disk_backend: a shared disk
# is the shared_storage role's device path of the guest's volume (the default iqn prefix), a local one its LV
GUESTS_ROLE_DISKS = [
    ('shared', '/dev/disk/by-path/ip-192.168.250.13:3260-iscsi-iqn.2025-11.net.xenfleet.storage:fleet-d-lun-1', True),
    ('local', '/dev/xenvg/fleet-d-disk', False),
]


@pytest.mark.parametrize('backend,target,movable', GUESTS_ROLE_DISKS, ids=[d[0] for d in GUESTS_ROLE_DISKS])
def test_guests_role_disks(backend, target, movable):
    opts = f.options()
    assert f.disk_is_shared({'target': target, 'vdev': 'xvda'}, opts) is movable
    ok, why = f.movability({'state': 'running', 'type': 'pvh', 'disks': [{'target': target, 'vdev': 'xvda'}]},
                           {'shadow': False}, opts)
    assert ok is movable and (why is None) is movable


@pytest.mark.parametrize('g,h,why', [
    (guest('a'), host('xen1'), None),
    (guest('a', disks=[]), host('xen1'), None),
    (guest('a', state='shutdown'), host('xen1'), 'not running'),
    (guest('a', disks=[{'target': '/dev/xenvg/a'}]), host('xen1'), 'local disk /dev/xenvg/a'),
    (guest('a', type_='pv'), host('xen1'), 'no shadow paging'),
    (guest('a', type_='pv'), host('xen1', shadow=True), None),
])
def test_movability(g, h, why):
    ok, reason = f.movability(g, h, f.options())
    assert ok is (why is None)
    if why:
        assert why in reason


# --------------------------------------------------------------------------- drain

def test_drain_spreads_and_never_overfills():
    hosts = [host('xen1', guests=[guest('a', 300), guest('b', 200), guest('c', 100)]),
             host('xen2', free=600), host('xen3', free=500)]
    plan = f.plan_drain(hosts, ['xen1'], OPTS)
    assert plan['ok'], plan['table']
    where = dict((m['guest'], m['target']) for m in plan['moves'])
    # room after the reserve: xen2 500, xen3 400; a(300)->xen2 (200 left), b(200)->xen3 (200), c(100)->xen2 (tie, name)
    assert where == {'a': 'xen2', 'b': 'xen3', 'c': 'xen2'}
    for target in ('xen2', 'xen3'):
        room = [h for h in hosts if h['name'] == target][0]['free_mib'] - 100
        assert sum(m['need_mib'] for m in plan['moves'] if m['target'] == target) <= room
    # rounds: 2 in parallel at most, one per target per round
    assert [sorted(m['target'] for m in r) for r in plan['rounds']] == [['xen2', 'xen3'], ['xen2']]
    assert all(m['owner'] == 'xen1' for m in plan['moves'])
    assert 'ROUND' in plan['table']


def test_drain_that_does_not_fit_moves_nothing():
    hosts = [host('xen1', guests=[guest('a', 300), guest('b', 300)]), host('xen2', free=600)]
    plan = f.plan_drain(hosts, ['xen1'], OPTS)
    assert not plan['ok']
    assert plan['moves'] == [] and plan['rounds'] == []
    assert any('does not fit on any peer' in e and 'b (300 MiB' in e for e in plan['errors'])
    assert 'REFUSED, nothing was moved' in plan['table']


def test_drain_counts_overhead_and_vcpus():
    hosts = [host('xen1', guests=[guest('a', 100, vcpus=2), guest('b', 100, vcpus=2)]),
             host('xen2', free=1000, cpus=1, guests=[guest('x', 100, vcpus=1)])]
    plan = f.plan_drain(hosts, ['xen1'], dict(OPTS, vcpu_ratio=4, overhead_mib=8))
    assert not plan['ok']
    assert any('vCPU' in e for e in plan['errors'])
    assert f.plan_drain(hosts, ['xen1'], dict(OPTS, vcpu_ratio=8))['ok']
    assert [m['need_mib'] for m in f.plan_drain(hosts, ['xen1'], dict(OPTS, overhead_mib=8))['moves']] == [108, 108]


def test_drain_skips_drained_unreachable_and_incompatible_targets():
    hosts = [host('xen1', guests=[guest('a')]), host('xen2', drained=True), host('xen3', reachable=False),
             host('xen4', version='4.15.1'), host('xen5', version='4.19.0')]
    plan = f.plan_drain(hosts, ['xen1'], OPTS)
    assert not plan['ok']
    assert any('does not fit' in e for e in plan['errors'])
    hosts.append(host('xen6', version='4.18.2', free=300))
    plan = f.plan_drain(hosts, ['xen1'], OPTS)
    assert plan['ok'] and plan['moves'][0]['target'] == 'xen6'
    assert f.plan_drain(hosts[:4], ['xen1'], dict(OPTS, check_version=False))['moves'][0]['target'] == 'xen4'


def test_drain_without_any_target():
    plan = f.plan_drain([host('xen1', guests=[guest('a')]), host('xen2', drained=True)], ['xen1'], OPTS)
    assert not plan['ok'] and 'no host can take guests' in plan['errors'][0] and 'xen2 is drained' in plan['errors'][0]


def test_drain_of_an_empty_host_is_ok():
    plan = f.plan_drain([host('xen1'), host('xen2')], ['xen1'], OPTS)
    assert plan['ok'] and plan['moves'] == [] and plan['rounds'] == []


@pytest.mark.parametrize('policy', f.POLICIES)
def test_local_guest_policy(policy):
    hosts = [host('xen1', guests=[guest('a'), guest('db', disks=[{'target': '/dev/xenvg/db'}]),
                                  guest('old', state='shutdown')]), host('xen2')]
    plan = f.plan_drain(hosts, ['xen1'], dict(OPTS, policy=policy))
    stays = dict((s['guest'], s['action']) for s in plan['stay'])
    assert stays == {'db': policy, 'old': 'leave'}
    if policy == 'fail':
        assert not plan['ok'] and plan['moves'] == []
        assert 'policy is "fail"' in plan['errors'][0]
    else:
        assert plan['ok'] and [m['guest'] for m in plan['moves']] == ['a']


def test_drain_refuses_remnants_of_interrupted_migrations():
    hosts = [host('xen1', guests=[guest('a'), guest('a--migratedaway', state='paused')]), host('xen2')]
    plan = f.plan_drain(hosts, ['xen1'], OPTS)
    assert not plan['ok'] and any('interrupted migration' in e for e in plan['errors'])
    hosts = [host('xen1', guests=[guest('a')]), host('xen2', guests=[guest('a', state='paused')])]
    plan = f.plan_drain(hosts, ['xen1'], OPTS)
    assert not plan['ok'] and any('exists on 2 hosts' in e for e in plan['errors'])


def test_drain_prefers_given_hosts():
    hosts = [host('xen1', guests=[guest('a', 100), guest('b', 100)]), host('xen2', free=300), host('xen3', free=900)]
    plan = f.plan_drain(hosts, ['xen1'], dict(OPTS, prefer=['xen2']))
    where = dict((m['guest'], m['target']) for m in plan['moves'])
    # xen2 has 200 after the reserve: both fit there, although xen3 has more room
    assert where == {'a': 'xen2', 'b': 'xen2'}
    plan = f.plan_drain(hosts, ['xen1'], dict(OPTS, prefer=['xen2'], reserve_mib=150))
    assert sorted(m['target'] for m in plan['moves']) == ['xen2', 'xen3']


def test_drain_of_several_sources_and_owners():
    hosts = [host('xen1', guests=[guest('a')]), host('xen2', guests=[guest('b')]), host('xen3')]
    plan = f.plan_drain(hosts, ['xen1', 'xen2'], dict(OPTS, play_hosts=['xen1', 'xen2']))
    assert plan['ok'] and all(m['target'] == 'xen3' for m in plan['moves'])
    # both go to xen3: one at a time
    assert [len(r) for r in plan['rounds']] == [1, 1]
    assert dict((m['guest'], m['owner']) for m in plan['moves']) == {'a': 'xen1', 'b': 'xen2'}
    assert [len(r) for r in f.plan_drain(hosts, ['xen1', 'xen2'], dict(OPTS, per_target=2))['rounds']] == [2]


def test_config_sync_only_when_the_target_differs():
    cfg = 'name = "a"\n'
    hosts = [host('xen1', guests=[guest('a', config=cfg), guest('b', config=cfg.replace('a', 'b'))]),
             host('xen2', configs={'a': cfg, 'b': 'old'})]
    moves = dict((m['guest'], m) for m in f.plan_drain(hosts, ['xen1'], OPTS)['moves'])
    assert moves['a']['config_sync'] is False and moves['b']['config_sync'] is True


def test_unknown_or_unreachable_source():
    assert 'is not one of' in f.plan_drain([host('xen1')], ['xen9'], OPTS)['errors'][0]
    assert 'unreachable' in f.plan_drain([host('xen1', reachable=False)], ['xen1'], OPTS)['errors'][0]
    with pytest.raises(f.FleetError, match='listed twice'):
        f.plan_drain([host('xen1'), host('xen1')], ['xen1'], OPTS)


# --------------------------------------------------------------------------- named moves

def test_moves_to_a_named_target_and_by_capacity():
    # xen1 loses a, but its room only counts what is free now (900): xen3 has more
    hosts = [host('xen1', guests=[guest('a'), guest('b')]), host('xen2', guests=[guest('c')], free=400),
             host('xen3', free=1000)]
    plan = f.plan_moves(hosts, [{'guest': 'a', 'target': 'xen2'}, 'c', {'guest': 'b', 'target': 'xen1'}], OPTS)
    assert plan['ok'], plan['table']
    assert dict((m['guest'], m['target']) for m in plan['moves']) == {'a': 'xen2', 'c': 'xen3'}
    assert plan['stay'] == [{'guest': 'b', 'host': 'xen1', 'reason': 'already on xen1', 'action': 'none'}]
    # a (xen1 -> xen2) and c (xen2 -> xen3) go to different targets: one round, in parallel
    assert len(plan['rounds']) == 1


def test_moves_refused():
    hosts = [host('xen1', guests=[guest('a', 400), guest('l', disks=[{'target': '/dev/xenvg/l'}])]),
             host('xen2', free=300), host('xen3', drained=True)]
    plan = f.plan_moves(hosts, [{'guest': 'a', 'target': 'xen2'}], OPTS)
    assert not plan['ok'] and 'does not fit on xen2' in plan['errors'][0]
    assert 'is drained' in f.plan_moves(hosts, [{'guest': 'a', 'target': 'xen3'}], OPTS)['errors'][0]
    assert 'does not run on any host' in f.plan_moves(hosts, ['zz'], OPTS)['errors'][0]
    assert 'local disk' in f.plan_moves(hosts, ['l'], OPTS)['errors'][0]
    assert 'not one of the fleet' in f.plan_moves(hosts, [{'guest': 'a', 'target': 'xen9'}], OPTS)['errors'][0]
    hosts[1]['xen_version'] = '4.16.0'
    assert 'older than source' in f.plan_moves(
        [hosts[0], host('xen2', version='4.16.0')], [{'guest': 'a', 'target': 'xen2'}], OPTS)['errors'][0]


def test_two_named_moves_to_one_target_are_charged_together():
    hosts = [host('xen1', guests=[guest('a', 300), guest('b', 300)]), host('xen2', free=800)]
    plan = f.plan_moves(hosts, [{'guest': 'a', 'target': 'xen2'}, {'guest': 'b', 'target': 'xen2'}],
                        dict(OPTS, reserve_mib=300))
    assert not plan['ok'] and 'b (300 MiB' in plan['errors'][0]


# --------------------------------------------------------------------------- rebalance

def test_rebalance_narrows_the_gap():
    hosts = [host('xen1', free=200, guests=[guest('a', 100), guest('b', 200), guest('c', 300)]),
             host('xen2', free=900)]
    plan = f.plan_rebalance(hosts, dict(OPTS, threshold_mib=100))
    assert plan['ok']
    # room: xen1 100, xen2 800 (gap 700): b (200) is closest to half the gap (350) among those < 700... c (300) is
    moved = [(m['guest'], m['source'], m['target']) for m in plan['moves']]
    assert moved[0] == ('c', 'xen1', 'xen2')
    assert len(moved) <= 2
    before = 700
    after = abs((100 + sum(m['need_mib'] for m in plan['moves'])) - (800 - sum(m['need_mib'] for m in plan['moves'])))
    assert after < before


def test_rebalance_respects_threshold_targets_and_local_disks():
    hosts = [host('xen1', free=700, guests=[guest('a', 100)]), host('xen2', free=750)]
    assert f.plan_rebalance(hosts, OPTS)['moves'] == []
    hosts = [host('xen1', free=100, guests=[guest('l', 300, disks=[{'target': '/dev/xenvg/l'}])]),
             host('xen2', free=900)]
    assert f.plan_rebalance(hosts, OPTS)['moves'] == []
    hosts = [host('xen1', free=100, guests=[guest('a', 200)]), host('xen2', free=500, guests=[guest('b', 200)]),
             host('xen3', free=900)]
    # only onto xen2 (room 400): a (200) from xen1 (room 0) leaves both with 200
    plan = f.plan_rebalance(hosts, dict(OPTS, targets=['xen2'], threshold_mib=50))
    assert [(m['guest'], m['target']) for m in plan['moves']] == [('a', 'xen2')]
    # a move that would not narrow the gap is not made
    hosts[1]['free_mib'] = 300
    assert f.plan_rebalance(hosts, dict(OPTS, targets=['xen2'], threshold_mib=50))['moves'] == []


def test_rebalance_rounds_wait_for_departures():
    """A move into a host that only has room once another guest left it waits for the next round."""
    hosts = [host('xen1', free=150, guests=[guest('big', 300)]), host('xen2', free=350, guests=[guest('s', 100)])]
    moves = [f._move(guest('s', 100), hosts[1], 'xen1', dict((h['name'], h) for h in hosts), f.options(OPTS)),
             f._move(guest('big', 300), hosts[0], 'xen2', dict((h['name'], h) for h in hosts), f.options(OPTS))]
    rounds, errors = f.plan_rounds(moves, hosts, f.options(dict(OPTS, reserve_mib=0)))
    # xen2 has 350: big (300) fits at once; s (100) into xen1 (150) fits at once too
    assert errors == [] and len(rounds) == 1
    hosts[0]['free_mib'] = 50
    hosts[1]['free_mib'] = 250
    rounds, errors = f.plan_rounds(moves, hosts, f.options(dict(OPTS, reserve_mib=0)))
    # s cannot go to xen1 (50) until big has left; big cannot go to xen2 (250) until s has left: deadlock
    assert rounds == [] and len(errors) == 2
    hosts[1]['free_mib'] = 300
    rounds, errors = f.plan_rounds(moves, hosts, f.options(dict(OPTS, reserve_mib=0)))
    assert errors == [] and [[m['guest'] for m in r] for r in rounds] == [['big'], ['s']]


# --------------------------------------------------------------------------- results, model, census, summary

def _moves():
    hosts = [host('xen1', guests=[guest('a', autostart=True), guest('b'), guest('c')]), host('xen2'), host('xen3')]
    plan = f.plan_drain(hosts, ['xen1'], dict(OPTS, parallel=3, per_target=2))
    return hosts, plan


def test_round_results_from_registered_loops():
    hosts, plan = _moves()
    mine = plan['rounds'][0]
    assert len(mine) == 3
    probes = [{'target_facts': {}}, {'target_facts': {}}, {'failed': True, 'msg': 'unreachable'}]
    jobs = [{'ansible_job_id': 'j1', 'started': 1, 'finished': 0},
            {'ansible_job_id': 'j2', 'started': 1, 'finished': 0},
            {'skipped': True, 'skip_reason': 'Conditional result was False'}]
    waited = [{'ansible_job_id': 'j1', 'finished': 1, 'changed': True, 'migrated': True, 'total_seconds': 30.5,
               'downtime_seconds': 5.2, 'downtime': {'method': 'ping'}, 'module_seconds': 33.0},
              {'ansible_job_id': 'j2', 'finished': 1, 'failed': True, 'msg': 'xl migrate failed', 'guest_on_source': True,
               'total_seconds': 12.0}]
    records = f.round_results(mine, probes, jobs, waited)
    assert [r['status'] for r in records] == ['migrated', 'failed', 'failed']
    assert records[0]['downtime_method'] == 'ping' and records[0]['total_seconds'] == 30.5
    assert records[1]['guest_on_source'] is True
    assert 'probe of' in records[2]['msg']


def test_round_results_foreground_and_precheck_refusal():
    hosts, plan = _moves()
    mine = plan['rounds'][0][:2]
    jobs = [{'changed': False, 'migrated': False, 'msg': 'a is not here and is running on the target'},
            {'failed': True, 'msg': 'pre-checks failed', 'checks': [{'name': 'memory', 'ok': False, 'detail': 'no room'}]}]
    records = f.round_results(mine, [{'target_facts': {}}] * 2, jobs)
    assert records[0]['ok'] and records[0]['status'] == 'already there'
    assert not records[1]['ok'] and 'memory: no room' in records[1]['msg'] and records[1]['guest_on_source']


def test_model_census_and_summary():
    hosts, plan = _moves()
    records = [{'guest': m['guest'], 'source': m['source'], 'target': m['target'], 'round': 0, 'ok': True,
                'migrated': True, 'status': 'migrated', 'msg': None, 'total_seconds': 30.0, 'downtime_seconds': 5.0,
                'downtime_method': 'xenstore', 'module_seconds': 31.0, 'guest_on_source': None,
                'autostart': m['autostart'], 'autostart_link': m['autostart_link']} for m in plan['moves'][:2]]
    model = f.apply_results(hosts, records, putback=['xen1'])
    by = dict((h['name'], h) for h in model)
    moved = set(r['guest'] for r in records)
    assert not moved & set(g['name'] for g in by['xen1']['guests'])
    assert by['xen1']['free_mib'] == 900 + 64 * 2
    check = f.census(model, expected=dict((r['guest'], r['target']) for r in records), allowed=['xen2', 'xen3'])
    assert check['ok'], check['problems']
    report = f.summary([plan], records, hosts_after=model)
    assert report['totals']['migrations'] == 2 and report['totals']['migration_seconds'] == 60.0
    assert report['totals']['max_downtime_seconds'] == 5.0
    text = '\n'.join(report['lines'])
    assert 'xen1' in text and 'migrated' in text and 'not started' in text
    assert 'census: every guest runs exactly once' in text
    assert report['ok'] is True
    json.dumps(report)


def test_census_finds_duplicates_misplacements_and_remnants():
    hosts = [host('xen1', guests=[guest('a'), guest('b--migratedaway', state='paused')]),
             host('xen2', guests=[guest('a'), guest('b')])]
    check = f.census(hosts, expected={'b': 'xen1', 'c': 'xen2'}, allowed=['xen1'])
    text = '; '.join(check['problems'])
    assert not check['ok']
    assert 'a runs 2 times' in text and 'b runs on xen2, expected on xen1' in text
    assert 'c runs nowhere' in text and 'interrupted migration' in text and 'not allowed' in text


def test_summary_reports_stays_and_phases():
    hosts = [host('xen1', guests=[guest('a'), guest('db', disks=[{'target': '/dev/xenvg/db'}])]), host('xen2')]
    plan = f.plan_drain(hosts, ['xen1'], dict(OPTS, policy='shutdown'))
    report = f.summary([plan], [], stays=[{'guest': 'db', 'host': 'xen1', 'status': 'shut down, started again',
                                           'ok': True}],
                       phases=[{'host': 'xen1', 'drain': 40.0, 'reboot': 120.0, 'verify': 20.0, 'total': 200.0}])
    text = '\n'.join(report['lines'])
    assert 'shut down, started again' in text and 'not started' in text
    assert 'rolling upgrade, per host' in text and '120.0' in text
