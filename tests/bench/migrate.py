# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: xen_migrate against raw `xl migrate`, for the same guest, in the same run.

Runs tests/bench/migrate.yml against two Xen hosts (group xen_hosts, set up by site.yml), which moves a tiny
guest back and forth: each round does raw A->B, module B->A, module A->B, raw B->A. Then it prints each
migration and the ratios of the medians:

* xl: the wall time of `xl migrate` itself (raw: the command module's delta; module: what xen_migrate
  measured around its xl migrate);
* module: xen_migrate's wall time on the source, pre-checks (xl list, xl info, the ssh trust probe) included;
* task: the wall time of the Ansible task(s) on the control node. For the module, this is the probe on the
  target plus the migration on the source, Ansible's connection and module transfer included.

The goal is module / raw <= 1.1. Speed is checked here, by ratios measured side by side, not by timed tests.

usage: python3 tests/bench/migrate.py -i INVENTORY [-i INVENTORY...] [--rounds N]
example: .venv/bin/python tests/bench/migrate.py -i .lab/mods/inventory.yml --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def seconds(value):
    """A float, or the "H:MM:SS.ffffff" delta of the command module."""
    if isinstance(value, (int, float)):
        return float(value)
    h, m, s = str(value).split(':')
    return int(h) * 3600 + int(m) * 60 + float(s)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def table(results):
    lines = ['%-5s %-6s %-12s %8s %8s %8s %10s' % ('round', 'tool', 'direction', 'xl s', 'module s', 'task s',
                                                   'downtime s')]
    for r in results:
        lines.append('%-5s %-6s %-12s %8.2f %8s %8.2f %10s' % (
            r['round'], r['tool'], '%s->%s' % (r['src'], r['dst']), seconds(r['xl_seconds']),
            '%.2f' % r['module_seconds'] if r['module_seconds'] is not None else '-', r['task_seconds'],
            '%.2f' % r['downtime_seconds'] if r['downtime_seconds'] is not None else '-'))
    return '\n'.join(lines)


def ratios(results):
    raw = [r for r in results if r['tool'] == 'raw']
    mod = [r for r in results if r['tool'] == 'module']
    raw_xl = median(seconds(r['xl_seconds']) for r in raw)
    raw_task = median(r['task_seconds'] for r in raw)
    return {
        'raw xl migrate (median s)': raw_xl,
        'xen_migrate, its xl migrate (median s)': median(seconds(r['xl_seconds']) for r in mod),
        'xen_migrate on the source, pre-checks included (median s)': median(r['module_seconds'] for r in mod),
        'ratio module / raw xl migrate': median(r['module_seconds'] for r in mod) / raw_xl,
        'ratio task(probe + migrate) / task(raw command)': median(r['task_seconds'] for r in mod) / raw_task,
        'ratio task(migrate only) / task(raw command)': median(r['migrate_task_seconds'] for r in mod) / raw_task,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('-i', '--inventory', action='append', required=True)
    parser.add_argument('--rounds', type=int, default=1)
    parser.add_argument('--out', default='/tmp/xenfleet-bench-migrate.json')
    args = parser.parse_args(argv)
    playbook = [os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook')]
    if not os.path.exists(playbook[0]):
        playbook = ['ansible-playbook']
    cmd = playbook + sum((['-i', i] for i in args.inventory), []) + [
        os.path.join(ROOT, 'tests', 'bench', 'migrate.yml'),
        '-e', 'bench_rounds=%d' % args.rounds, '-e', 'bench_out=%s' % args.out]
    print('[bench] %s' % ' '.join(cmd), flush=True)
    start = time.monotonic()
    rc = subprocess.call(cmd, cwd=ROOT)
    print('[bench] playbook rc=%d in %.0f s' % (rc, time.monotonic() - start), flush=True)
    if rc != 0:
        return rc
    with open(args.out) as f:
        results = json.load(f)
    print(table(results))
    for key, value in ratios(results).items():
        print('%-60s %.3f' % (key, value))
    return 0


if __name__ == '__main__':
    sys.exit(main())
