# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the fleet playbooks against the sum of their parts, measured in the same run.

Runs against a fleet of two (or more) Xen hosts whose guests can live-migrate (the fleet scenario's shape: its
converge, or at least its guests.yml, has run on the lab):

1. **Evacuation against single migrations.** All the guests are gathered on the first host (not timed). Then
   each guest is moved alone to the second host with ``playbooks/migrate.yml`` (timed, one run per guest), and
   moved back (not timed). Then ``playbooks/evacuate.yml`` drains the first host (timed), and ``undrain.yml``
   puts it back (not timed). Printed: the evacuation's wall time E, the sum S of the single runs' wall times,
   and E / S (the goal is <= 1.1), with xl migrate's own seconds on both sides.
2. **Rollout against drain + reboot + verify.** ``playbooks/rolling_upgrade.yml`` rolls a Xen command line
   change across every host (an argument is added, or removed when the fleet already has it, so that each run
   really reboots). Printed: its wall time R, the drain, reboot and verify phases of each host as the rollout
   timed them, their sum P, and R / P (the goal is <= 1.2).

Speed is checked here, by ratios measured side by side, not by timed tests. Everything is also written to
``--out`` as JSON.

usage: python3 tests/bench/fleet.py -i INVENTORY [--skip-evacuation] [--skip-rollout] [--out FILE]
example: .venv/bin/python tests/bench/fleet.py -i /tmp/fleet-inventory/inventory.yml
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import yaml
from progress import call_logged

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
ROLLOUT_ARG = 'guest_loglvl=all'
LAB_HYPERVISOR_VARS = os.path.join(ROOT, 'inventories', 'lab', 'group_vars', 'xen_hosts', 'hypervisor.yml')


def run(inventory, playbook, extra, label, workdir, check=True):
    """ansible-playbook on playbooks/<playbook> with extra vars (a dict); returns (seconds, report or None)."""
    report = os.path.join(workdir, '%s.json' % label)
    if os.path.exists(report):
        os.unlink(report)
    variables = dict(extra, fleet_report_file=report)
    argv = [PLAYBOOK, '-i', inventory, os.path.join(ROOT, 'playbooks', playbook), '-e', json.dumps(variables)]
    log = os.path.join(workdir, '%s.log' % label)
    print('[bench] %s: %s (log %s)' % (label, playbook, log), flush=True)
    start = time.monotonic()
    rc = call_logged(argv, log, label, ROOT, lambda msg: print('[bench]' + msg, flush=True))
    seconds = time.monotonic() - start
    print('[bench] %s: rc %d in %.1f s' % (label, rc, seconds), flush=True)
    if check and rc != 0:
        with open(log) as f:
            sys.exit('[bench] %s failed (rc %d):\n%s' % (label, rc, f.read()[-4000:]))
    data = None
    if os.path.exists(report):
        with open(report) as f:
            data = json.load(f)
    return seconds, data


def xl_seconds(report):
    return sum(r.get('total_seconds') or 0 for r in (report or {}).get('rows', []) if r.get('action') == 'migrated')


def hosts_and_guests(inventory, workdir):
    """The fleet's hosts and where each guest runs: rebalance.yml with no move allowed is a census."""
    dummy, report = run(inventory, 'rebalance.yml', {'fleet_rebalance_max_moves': 0}, 'census', workdir)
    where = report['census']['where']
    hosts = sorted(set(h for p in report.get('plans', []) for h in p.get('hosts', {}))
                   | set(h for hs in where.values() for h in hs))
    return hosts, where


def evacuation(inventory, workdir, hosts, guests):
    first, second = hosts[0], hosts[1]
    run(inventory, 'migrate.yml', {'fleet_guests': guests, 'fleet_target': first}, 'gather', workdir)
    singles = []
    for guest in guests:
        seconds, report = run(inventory, 'migrate.yml', {'fleet_guests': [guest], 'fleet_target': second},
                              'single-%s' % guest, workdir)
        singles.append({'guest': guest, 'seconds': round(seconds, 1), 'xl_seconds': round(xl_seconds(report), 1)})
        run(inventory, 'migrate.yml', {'fleet_guests': [guest], 'fleet_target': first}, 'back-%s' % guest, workdir)
    seconds, report = run(inventory, 'evacuate.yml', {'fleet_host': first}, 'evacuate', workdir)
    evac = {'seconds': round(seconds, 1), 'xl_seconds': round(xl_seconds(report), 1),
            'rounds': len(report['plans'][0]['rounds']) if report and report.get('plans') else None,
            'lines': report['lines'] if report else []}
    run(inventory, 'undrain.yml', {'fleet_host': first}, 'undrain', workdir)
    total = sum(s['seconds'] for s in singles)
    total_xl = sum(s['xl_seconds'] for s in singles)
    return {'singles': singles, 'sum_seconds': round(total, 1), 'sum_xl_seconds': round(total_xl, 1),
            'evacuation': evac, 'ratio': round(evac['seconds'] / total, 3) if total else None,
            'ratio_xl': round(evac['xl_seconds'] / total_xl, 3) if total_xl else None}


def rollout(inventory, workdir, args):
    new = [a for a in args if a != ROLLOUT_ARG] if ROLLOUT_ARG in args else args + [ROLLOUT_ARG]
    seconds, report = run(inventory, 'rolling_upgrade.yml', {'hypervisor_extra_args': new}, 'rollout', workdir)
    phases = report.get('phases') or []
    parts = sum(float(p['drain']) + float(p['reboot']) + float(p['verify']) for p in phases)
    return {'hypervisor_extra_args': new, 'seconds': round(seconds, 1), 'phases': phases,
            'sum_drain_reboot_verify': round(parts, 1),
            'ratio': round(seconds / parts, 3) if parts else None, 'lines': report.get('lines', [])}


def lab_xen_args():
    """The Xen arguments every lab host boots with (xenlab_xen_args in the lab's group_vars)."""
    with open(LAB_HYPERVISOR_VARS) as handle:
        return ','.join(yaml.safe_load(handle)['xenlab_xen_args'])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('-i', '--inventory', required=True)
    parser.add_argument('--skip-evacuation', action='store_true')
    parser.add_argument('--skip-rollout', action='store_true')
    parser.add_argument('--hypervisor-extra-args', default=lab_xen_args(),
                        help='the Xen extra arguments the fleet has now, comma-separated (default: the lab\'s, %(default)s)')
    parser.add_argument('--workdir', default='/tmp/xenfleet-bench-fleet')
    parser.add_argument('--out', default=None)
    opts = parser.parse_args()
    # absolute: the playbooks write their reports from another working directory
    opts.workdir = os.path.abspath(opts.workdir)
    os.makedirs(opts.workdir, exist_ok=True)
    result = {'started': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
    hosts, where = hosts_and_guests(opts.inventory, opts.workdir)
    guests = sorted(g for g in where if not g.endswith(('--incoming', '--migratedaway')))
    result.update(hosts=hosts, guests=guests)
    print('[bench] hosts %s, guests %s' % (', '.join(hosts), ', '.join(guests)), flush=True)
    if not opts.skip_evacuation:
        result['evacuation'] = evacuation(opts.inventory, opts.workdir, hosts, guests)
    if not opts.skip_rollout:
        result['rollout'] = rollout(opts.inventory, opts.workdir, opts.hypervisor_extra_args.split(','))
    print()
    if 'evacuation' in result:
        e = result['evacuation']
        print('Evacuation of %s (%d guests) against single migrations of the same guests, same run:' % (
            hosts[0], len(guests)))
        for s in e['singles']:
            print('  migrate.yml %-10s %7.1f s (xl migrate %5.1f s)' % (s['guest'], s['seconds'], s['xl_seconds']))
        print('  sum of single runs      %7.1f s (xl migrate %5.1f s)' % (e['sum_seconds'], e['sum_xl_seconds']))
        print('  evacuate.yml            %7.1f s (xl migrate %5.1f s, %s round(s))' % (
            e['evacuation']['seconds'], e['evacuation']['xl_seconds'], e['evacuation']['rounds']))
        print('  ratio evacuation / sum  %7.3f   (goal <= 1.1); xl migrate seconds %s' % (e['ratio'], e['ratio_xl']))
    if 'rollout' in result:
        r = result['rollout']
        print('Rolling upgrade (Xen command line %s) against its drain + reboot + verify phases, same run:'
              % ' '.join(r['hypervisor_extra_args']))
        for p in r['phases']:
            print('  %-6s drain %6.1f s  reboot %6.1f s  verify %6.1f s  (upgrade %.1f, put back %.1f, total %.1f)' % (
                p['host'], float(p['drain']), float(p['reboot']), float(p['verify']), float(p['upgrade']),
                float(p['putback']), float(p['total'])))
        print('  sum of drain+reboot+verify %7.1f s' % r['sum_drain_reboot_verify'])
        print('  rolling_upgrade.yml        %7.1f s' % r['seconds'])
        print('  ratio rollout / sum        %7.3f   (goal <= 1.2)' % r['ratio'])
    out = opts.out or os.path.join(opts.workdir, 'fleet-bench.json')
    with open(out, 'w') as f:
        json.dump(result, f, indent=2)
    print('[bench] written to %s' % out)


if __name__ == '__main__':
    main()
