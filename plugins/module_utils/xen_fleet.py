# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet operations: which guests can move, where to (by capacity), in which rounds, and what happened.

Pure Python over plain data, no I/O, deterministic: the playbooks of ``playbooks/`` (migrate, evacuate,
rebalance, rolling upgrade) read each Domain-0 with the modules, turn what they read into a *host record*
(:func:`host_record`), and ask the ``xenfleet.xen.fleet_*`` filters, which call this file, for a plan.

Capacity placement is the ``guests`` role's :func:`xen_placement.place` (spread: each guest goes to the host
with the most memory left), so that a guest is placed the same way whether it is created or moved.  This
file adds what moving needs:

* **movable or not**: a guest can live-migrate when it runs, every disk is on shared storage (a path under
  ``shared_prefixes`` or a ``shared_scripts`` block script; a path that only exists on its host cannot
  follow it), and its Xen can track its dirty pages (a pv guest needs shadow paging, which Debian 12's
  Xen 4.17.7 lacks).  The others follow an explicit ``policy``: ``fail`` (refuse the operation before
  anything moves), ``leave`` (stay on the host) or ``shutdown`` (shut down before, started again on the same
  host when it is put back);
* **where**: targets are reachable Xen hosts, not drained, not sources, allowed, with a compatible Xen
  (Ganeti's rule, :func:`xl_parse.migration_compatible`); capacity is what ``xl info`` calls free memory
  less ``reserve_mib``, and ``vcpu_ratio`` guest vCPUs per physical CPU.  A guest needs its memory plus
  ``overhead_mib``.  Hosts that Ansible already preferred (``prefer``: in a rolling upgrade, the hosts
  already upgraded) are filled first, so that a guest moves once;
* **rounds**: at most ``parallel`` migrations at once, and at most ``per_target`` into one target (xl holds
  its lock, ``/var/lock/xl``, for the whole of a ``migrate-receive``, so a second stream into the same
  target only waits).  A migration joins a round only if its target still has room with what arrives in
  that round and what left in earlier rounds, so a peer is never overfilled, not even for a moment;
* **results and summary**: every migration's figures (migration time, downtime and how it was measured)
  per host and per guest, and a census that checks that every guest runs exactly once, where it should.
"""

from __future__ import annotations

import json
import posixpath

from ansible_collections.xenfleet.xen.plugins.module_utils import xen_placement
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_parse import migration_compatible

ACTIVE = ('running', 'blocked', 'runnable', 'paused')
POLICIES = ('fail', 'leave', 'shutdown')
#: Names xl gives a domain in the middle of a migration: the source renames its copy "<name>--migratedaway"
#: before it lets the target start, and the target builds "<name>--incoming" until it has the whole stream.
TRANSIENT_SUFFIXES = ('--migratedaway', '--incoming')


def split_transient(name):
    """(the guest's own name, the TRANSIENT_SUFFIXES suffix or None) of a domain name."""
    for suffix in TRANSIENT_SUFFIXES:
        if name.endswith(suffix):
            return name[:-len(suffix)], suffix
    return name, None


#: The local facts (/etc/ansible/facts.d/<name>.fact) that the playbooks write on a Domain-0.
DRAIN_FACT = 'xenfleet_drain'
ROLLOUT_FACT = 'xenfleet_rollout'
#: Written by the shared_storage role's client side: the portal and the volumes' paths.
STORAGE_FACT = 'xenfleet_storage'

DEFAULTS = {
    'reserve_mib': 128,
    'overhead_mib': 16,
    'vcpu_ratio': 4,
    'policy': 'fail',
    'shared_prefixes': ['/dev/disk/by-path/ip-'],
    'shared_scripts': ['block-iscsi', 'block-drbd'],
    'parallel': 2,
    'per_target': 1,
    'allowed_targets': [],
    'prefer': [],
    'probe_addresses': {},
    'play_hosts': None,
    'check_version': True,
    'max_moves': 10,
    'threshold_mib': 256,
    'targets': [],
}


class FleetError(ValueError):
    """Input that cannot be planned with (not "does not fit": that is a plan with ok=false)."""


# --------------------------------------------------------------------------- options

def options(values=None):
    """The planner's options: DEFAULTS overridden by ``values``, checked."""
    opts = dict(DEFAULTS)
    for key, value in (values or {}).items():
        if key not in DEFAULTS:
            raise FleetError('unknown option %s (known: %s)' % (key, ', '.join(sorted(DEFAULTS))))
        if value is not None or key == 'play_hosts':
            opts[key] = value
    for key in ('reserve_mib', 'overhead_mib', 'threshold_mib', 'max_moves'):
        opts[key] = _count(opts[key], key)
    for key in ('parallel', 'per_target'):
        opts[key] = _count(opts[key], key)
        if opts[key] < 1:
            raise FleetError('%s must be at least 1, got %d' % (key, opts[key]))
    try:
        opts['vcpu_ratio'] = float(opts['vcpu_ratio'])
    except (TypeError, ValueError):
        raise FleetError('vcpu_ratio must be a number, got %r' % (opts['vcpu_ratio'],))
    if opts['vcpu_ratio'] < 0:
        raise FleetError('vcpu_ratio must not be negative')
    if opts['policy'] not in POLICIES:
        raise FleetError('policy must be one of %s, got %r' % (', '.join(POLICIES), opts['policy']))
    for key in ('shared_prefixes', 'shared_scripts', 'allowed_targets', 'prefer', 'targets'):
        if isinstance(opts[key], str) or not isinstance(opts[key], (list, tuple)):
            raise FleetError('%s must be a list, got %r' % (key, opts[key]))
        opts[key] = list(opts[key])
    if not isinstance(opts['probe_addresses'], dict):
        raise FleetError('probe_addresses must be a dict of guest name to address')
    return opts


def _count(value, what):
    try:
        return xen_placement.whole_number(value, what)
    except xen_placement.PlacementError as exc:
        raise FleetError(str(exc)) from exc


# --------------------------------------------------------------------------- host records

def parse_files(text):
    """The read playbook's ``find /etc/xen /etc/ansible/facts.d ...`` -> (configs, facts, autostart).

    ``configs`` maps a config's name (``web1`` for /etc/xen/web1.cfg) to its text (``grep -H ''`` lines);
    ``facts`` maps a local fact's name (``xenfleet_drain``) to its JSON value (or to None when it does not
    parse); ``autostart`` maps each entry of /etc/xen/auto (``%p:->%l``) to where it points.
    """
    lines = {}
    order = []
    autostart = {}
    for line in (text or '').splitlines():
        path, sep, rest = line.partition(':')
        if not sep:
            continue
        if path.startswith('/etc/xen/auto/') and rest.startswith('->'):
            autostart[path] = rest[2:]
            continue
        if path not in lines:
            lines[path] = []
            order.append(path)
        lines[path].append(rest)
    configs, facts = {}, {}
    for path in order:
        base = posixpath.basename(path)
        body = '\n'.join(lines[path]) + '\n'
        if path.startswith('/etc/xen/') and base.endswith('.cfg'):
            configs[base[:-len('.cfg')]] = body
        elif base.endswith('.fact'):
            try:
                facts[base[:-len('.fact')]] = json.loads(body)
            except ValueError:
                facts[base[:-len('.fact')]] = None
    return configs, facts, autostart


def host_record(name, host_info, domain_info=None, files='', address=None, reachable=True):
    """One Domain-0 as the planner sees it, from what xen_host_info, xen_domain_info and the file read gave."""
    host_info = host_info or {}
    configs, facts, autostart = parse_files(files)
    drain = facts.get(DRAIN_FACT)
    record = {
        'name': name,
        'address': address,
        'reachable': bool(reachable) and not host_info.get('unreachable') and not host_info.get('failed'),
        'is_xen': bool(host_info.get('is_xen')),
        'reason': host_info.get('reason'),
        'xen_version': host_info.get('xen_version'),
        'free_mib': int(host_info.get('free_memory_mib') or 0),
        'total_mib': int(host_info.get('total_memory_mib') or 0),
        'cpus': int(host_info.get('nr_cpus') or 0),
        'shadow': bool((host_info.get('capabilities') or {}).get('shadow')),
        'hap': bool((host_info.get('capabilities') or {}).get('hap')),
        'drained': bool(isinstance(drain, dict) and drain.get('drained')),
        'drain': drain if isinstance(drain, dict) else None,
        'rollout': facts.get(ROLLOUT_FACT) if isinstance(facts.get(ROLLOUT_FACT), dict) else None,
        'storage': facts.get(STORAGE_FACT) if isinstance(facts.get(STORAGE_FACT), dict) else None,
        'configs': configs,
        'autostart_links': autostart,
        'guests': [],
    }
    if (domain_info or {}).get('failed') and 'domains' not in domain_info:
        # without the list of its guests, a host can be neither emptied nor filled
        record['reachable'] = False
        record['reason'] = 'its guests could not be read: %s' % domain_info.get('msg')
    for dom in (domain_info or {}).get('domains') or []:
        if dom.get('name') == 'Domain-0' or dom.get('domid') == 0:
            continue
        gname = dom.get('name')
        record['guests'].append({
            'name': gname,
            'type': dom.get('type'),
            'state': dom.get('state'),
            'memory_mib': int(dom.get('memory_mib') or 0),
            'maxmem_mib': int(dom.get('maxmem_mib') or dom.get('memory_mib') or 0),
            'vcpus': int(dom.get('vcpus') or 1),
            'disks': [dict((k, d.get(k)) for k in ('target', 'vdev', 'devtype', 'script', 'backend'))
                      for d in dom.get('disks') or []],
            'autostart': bool(dom.get('autostart')),
            'autostart_link': dom.get('autostart_link'),
            'config': configs.get(gname),
        })
    record['guests'].sort(key=lambda g: g['name'])
    return record


def _hosts_by_name(hosts):
    out = {}
    for host in hosts or []:
        if not isinstance(host, dict) or not host.get('name'):
            raise FleetError('a host record needs a name, got %r' % (host,))
        if host['name'] in out:
            raise FleetError('host %s is listed twice' % host['name'])
        out[host['name']] = host
    return out


# --------------------------------------------------------------------------- guests: movable or not

def disk_is_shared(disk, opts):
    """Whether a disk is reachable at the same path from every Domain-0 (shared storage)."""
    target = disk.get('target') or ''
    if disk.get('devtype') == 'cdrom' and not target:
        return True
    script = posixpath.basename(disk.get('script') or '')
    if script and script in opts['shared_scripts']:
        return True
    return any(target.startswith(p) for p in opts['shared_prefixes'])


def movability(guest, host, opts):
    """(True, None) when the guest can live-migrate from ``host``, else (False, why)."""
    if guest.get('state') not in ACTIVE:
        return False, 'not running (%s)' % guest.get('state')
    local = [d.get('target') or '?' for d in guest.get('disks') or [] if not disk_is_shared(d, opts)]
    if local:
        return False, 'local disk%s %s' % ('s' if len(local) > 1 else '', ', '.join(local))
    if guest.get('type') == 'pv' and not host.get('shadow'):
        return False, 'pv guest and this Xen has no shadow paging (no live migration)'
    return True, None


def need_mib(guest, opts):
    return int(guest.get('memory_mib') or 0) + opts['overhead_mib']


def _vcpus_free(host, opts):
    """Guest vCPUs the host can still take, or None without a limit (vcpu_ratio 0)."""
    if not opts['vcpu_ratio']:
        return None
    limit = int(host.get('cpus', 0) * opts['vcpu_ratio'])
    used = sum(int(g.get('vcpus') or 0) for g in host.get('guests') or [] if g.get('state') in ACTIVE)
    return max(limit - used, 0)


def anomalies(hosts):
    """Guests that exist more than once, and remnants of interrupted migrations: {guest name: [text]}."""
    seen = {}
    found = {}
    for host in hosts:
        for guest in host.get('guests') or []:
            name = guest['name']
            base, suffix = split_transient(name)
            if suffix:
                found.setdefault(base, []).append(
                    '%s holds %s (%s), left by an interrupted migration of %s: find the copy that runs, '
                    'then destroy the other (xl destroy %s on %s)' % (host['name'], name, guest.get('state'),
                                                                      base, name, host['name']))
            seen.setdefault(name, []).append('%s (%s)' % (host['name'], guest.get('state')))
    for name, where in seen.items():
        if len(where) > 1:
            found.setdefault(name, []).append('%s exists on %d hosts: %s' % (name, len(where), ', '.join(where)))
    return found


# --------------------------------------------------------------------------- targets and capacity

def _eligible_targets(hosts, exclude, opts):
    out = []
    for name in sorted(hosts):
        host = hosts[name]
        if name in exclude or not host.get('reachable', True) or not host.get('is_xen'):
            continue
        if host.get('drained'):
            continue
        if opts['allowed_targets'] and name not in opts['allowed_targets']:
            continue
        out.append(name)
    return out


def _why_not_target(host, opts, exclude):
    if host['name'] in exclude:
        return '%s is a source' % host['name']
    if not host.get('reachable', True):
        return '%s is unreachable' % host['name']
    if not host.get('is_xen'):
        return '%s does not run Xen' % host['name']
    if host.get('drained'):
        return '%s is drained' % host['name']
    if opts['allowed_targets'] and host['name'] not in opts['allowed_targets']:
        return '%s is not an allowed target' % host['name']
    return None


def _capacity(host, opts, pending_in=0, pending_vcpus=0):
    """Memory and vCPUs the host can take for moves, after the reserve and what is already planned."""
    memory = max(int(host.get('free_mib') or 0) - opts['reserve_mib'] - pending_in, 0)
    vcpus = _vcpus_free(host, opts)
    if vcpus is not None:
        vcpus = max(vcpus - pending_vcpus, 0)
    return memory, vcpus


def _version_excludes(source, hosts, targets, opts):
    """Targets a guest from ``source`` may not go to because of the Xen versions (Ganeti's rule)."""
    if not opts['check_version']:
        return []
    out = []
    for name in targets:
        src, dst = source.get('xen_version'), hosts[name].get('xen_version')
        if not src or not dst:
            continue
        ok, dummy = migration_compatible(src, dst)
        if not ok:
            out.append(name)
    return out


def _place(hosts, wanted, targets, opts, pending=None):
    """Assign each wanted move ({guest, source}) a target, with xen_placement.place, preferred hosts first.

    Returns (assignments {guest: target}, unplaced [{guest, reason,...}], tables [text]).
    """
    pending = pending or {}
    prefer = [t for t in targets if t in opts['prefer']]
    passes = [prefer, targets] if prefer and len(prefer) < len(targets) else [targets]
    assignments, tables = {}, []
    remaining = list(wanted)
    charged = dict((t, [0, 0]) for t in targets)
    for name, (mem, vcpus) in pending.items():
        if name in charged:
            charged[name] = [mem, vcpus]
    unplaced = []
    for index, pool in enumerate(passes):
        if not remaining:
            break
        last = index == len(passes) - 1
        room = []
        for name in pool:
            memory, vcpus = _capacity(hosts[name], opts, *charged[name])
            room.append({'name': name, 'memory_mib': memory, 'vcpus': vcpus})
        guests = [{'name': w['guest'], 'memory_mib': w['need_mib'], 'vcpus': w['vcpus'],
                   'exclude': sorted(set(w['exclude']))} for w in remaining]
        try:
            placement = xen_placement.place(room, guests, strategy='spread')
        except xen_placement.PlacementError as exc:
            raise FleetError(str(exc))
        tables.append(placement.table())
        for want in remaining:
            target = placement.assignments.get(want['guest'])
            if target:
                assignments[want['guest']] = target
                charged[target][0] += want['need_mib']
                charged[target][1] += want['vcpus']
        if last:
            unplaced = placement.unplaced
        remaining = [w for w in remaining if w['guest'] not in assignments]
    return assignments, unplaced, tables


def _place_into_plan(plan, hosts, wanted, targets, opts, elsewhere, pending=None):
    """Place ``wanted`` on ``targets`` (see _place) into ``plan``: the placement tables, then an error for each
    guest that fits nowhere (``elsewhere`` names where it was looked for), or else a move for every guest."""
    assignments, unplaced, tables = _place(hosts, wanted, targets, opts, pending)
    plan['placement_tables'] = tables
    for item in unplaced:
        plan['errors'].append('%s (%d MiB with the overhead, %d vCPU) does not fit on %s: %s'
                              % (item['guest'], item['memory_mib'], item['vcpus'], elsewhere, item['reason']))
    if not unplaced:
        for want in wanted:
            plan['moves'].append(_move(want['guest_data'], hosts[want['source']], assignments[want['guest']],
                                       hosts, opts))


# --------------------------------------------------------------------------- moves and rounds

def _move(guest, source, target, hosts, opts):
    config = guest.get('config')
    return {
        'guest': guest['name'],
        'source': source['name'],
        'target': target,
        'source_address': source.get('address'),
        'target_address': hosts[target].get('address'),
        'memory_mib': int(guest.get('memory_mib') or 0),
        'need_mib': need_mib(guest, opts),
        'vcpus': int(guest.get('vcpus') or 1),
        'type': guest.get('type'),
        'disks': [d['target'] for d in guest.get('disks') or [] if (d.get('target') or '').startswith('/')],
        'autostart': bool(guest.get('autostart')),
        'autostart_link': guest.get('autostart_link'),
        'config': config,
        # the target needs the config file to restart the guest; write it unless it already has the same
        'config_sync': config is not None and (hosts[target].get('configs') or {}).get(guest['name']) != config,
        'probe_address': opts['probe_addresses'].get(guest['name']),
        'owner': None,
        'round': None,
    }


def _owner(move, play_hosts):
    if play_hosts is None or move['source'] in play_hosts:
        return move['source']
    if move['target'] in play_hosts:
        return move['target']
    return None


def plan_rounds(moves, hosts, opts):
    """Group moves into rounds: see the module docstring. Returns (rounds, errors)."""
    hosts = _hosts_by_name(hosts) if isinstance(hosts, list) else hosts
    free = {}
    for name, host in hosts.items():
        memory, vcpus = _capacity(host, opts)
        free[name] = [memory, vcpus]
    pool = list(moves)
    rounds, errors = [], []
    while pool:
        current, departed = [], []
        for move in list(pool):
            if len(current) >= opts['parallel']:
                break
            if sum(1 for m in current if m['target'] == move['target']) >= opts['per_target']:
                continue
            if any(m['guest'] == move['guest'] for m in current):
                continue
            room = free.get(move['target'])
            if room is None:
                continue
            if move['need_mib'] > room[0] or (room[1] is not None and move['vcpus'] > room[1]):
                continue
            room[0] -= move['need_mib']
            if room[1] is not None:
                room[1] -= move['vcpus']
            current.append(move)
            departed.append(move)
            pool.remove(move)
        if not current:
            for move in pool:
                errors.append('%s cannot move to %s: no round gives it room there (%d MiB needed, %d MiB left '
                              'after the reserve)' % (move['guest'], move['target'], move['need_mib'],
                                                      free.get(move['target'], [0])[0]))
            break
        for move in departed:
            # what leaves a host in this round is room there from the next round on
            if move['source'] in free:
                free[move['source']][0] += move['need_mib']
                if free[move['source']][1] is not None:
                    free[move['source']][1] += move['vcpus']
        index = len(rounds)
        for move in current:
            move['round'] = index
        rounds.append(current)
    return rounds, errors


def _interleave(moves):
    """Order moves so that consecutive ones go to different targets (fuller rounds)."""
    by_target = {}
    for move in moves:
        by_target.setdefault(move['target'], []).append(move)
    out = []
    depth = max([len(v) for v in by_target.values()] or [0])
    for i in range(depth):
        for target in sorted(by_target):
            if i < len(by_target[target]):
                out.append(by_target[target][i])
    return out


def _finish(plan, hosts, opts):
    """Owners, rounds, errors and the table of a plan."""
    for move in plan['moves']:
        move['owner'] = _owner(move, opts['play_hosts'])
        if move['owner'] is None:
            plan['errors'].append('%s: neither its source %s nor its target %s is in this play'
                                  % (move['guest'], move['source'], move['target']))
    if plan['errors']:
        plan['rounds'] = []
    else:
        ordered = plan['moves'] if plan['operation'] == 'rebalance' else _interleave(plan['moves'])
        plan['rounds'], errors = plan_rounds(ordered, hosts, opts)
        plan['errors'].extend(errors)
        plan['moves'] = [m for r in plan['rounds'] for m in r] + [m for m in ordered if m['round'] is None]
    plan['ok'] = not plan['errors']
    plan['table'] = plan_table(plan)
    return plan


def _new_plan(operation, sources, hosts):
    return {'operation': operation, 'ok': False, 'sources': list(sources), 'moves': [], 'rounds': [],
            'stay': [], 'errors': [], 'warnings': [], 'placement_tables': [], 'table': '',
            'hosts': dict((n, {'free_mib': h.get('free_mib'), 'drained': h.get('drained'),
                               'xen_version': h.get('xen_version')}) for n, h in hosts.items())}


def plan_drain(hosts, sources, values=None):
    """Empty the ``sources``: every guest there moves to a peer, or follows the policy."""
    opts = options(values)
    hosts = _hosts_by_name(hosts)
    sources = list(sources or [])
    plan = _new_plan('drain', sources, hosts)
    for name in sources:
        if name not in hosts:
            plan['errors'].append('%s is not one of the fleet\'s hosts (%s)' % (name, ', '.join(sorted(hosts))))
            continue
        if not hosts[name].get('reachable', True):
            plan['errors'].append('%s is unreachable: it cannot be drained%s' % (
                name, ' (%s)' % hosts[name]['reason'] if hosts[name].get('reason') else ''))
        elif not hosts[name].get('is_xen'):
            plan['errors'].append('%s does not run Xen: %s' % (name, hosts[name].get('reason')))
    if plan['errors']:
        return _finish(plan, hosts, opts)
    odd = anomalies(list(hosts.values()))
    targets = _eligible_targets(hosts, set(sources), opts)
    wanted = []
    for name in sources:
        source = hosts[name]
        version_bad = _version_excludes(source, hosts, targets, opts)
        for guest in source.get('guests') or []:
            base = split_transient(guest['name'])[0]
            if base in odd:
                plan['errors'].extend(odd[base])
                continue
            ok, why = movability(guest, source, opts)
            if not ok:
                if guest.get('state') not in ACTIVE:
                    plan['stay'].append({'guest': guest['name'], 'host': name, 'reason': why, 'action': 'leave'})
                    continue
                plan['stay'].append({'guest': guest['name'], 'host': name, 'reason': why, 'action': opts['policy']})
                if opts['policy'] == 'fail':
                    plan['errors'].append('%s on %s cannot live-migrate (%s), and the policy is "fail": set the '
                                          'local guest policy to leave or shutdown, or move its disks to shared '
                                          'storage' % (guest['name'], name, why))
                continue
            wanted.append({'guest': guest['name'], 'source': name, 'guest_data': guest,
                           'need_mib': need_mib(guest, opts), 'vcpus': int(guest.get('vcpus') or 1),
                           'exclude': version_bad})
    if not targets and wanted:
        reasons = [_why_not_target(h, opts, set(sources)) for n, h in sorted(hosts.items())]
        plan['errors'].append('no host can take guests: %s' % '; '.join(r for r in reasons if r))
    if plan['errors']:
        return _finish(plan, hosts, opts)
    _place_into_plan(plan, hosts, wanted, targets, opts, 'any peer')
    return _finish(plan, hosts, opts)


def plan_moves(hosts, requests, values=None, default_target=None):
    """Move named guests: each request is a name or {guest, target} (no target: ``default_target``, else by
    capacity)."""
    opts = options(values)
    hosts = _hosts_by_name(hosts)
    plan = _new_plan('moves', [], hosts)
    where = {}
    for name, host in hosts.items():
        for guest in host.get('guests') or []:
            where.setdefault(guest['name'], []).append((name, guest))
    odd = anomalies(list(hosts.values()))
    wanted, explicit = [], []
    for req in requests or []:
        if isinstance(req, str):
            req = {'guest': req}
        if not isinstance(req, dict) or not req.get('guest'):
            raise FleetError('a guest to move is a name or {guest, target}, got %r' % (req,))
        gname, target = req.get('guest'), req.get('target') or default_target or None
        if gname in odd:
            plan['errors'].extend(odd[gname])
            continue
        found = [(h, g) for h, g in where.get(gname, []) if g.get('state') in ACTIVE]
        if not found:
            plan['errors'].append('%s does not run on any host of the fleet (%s)' % (gname, ', '.join(sorted(hosts))))
            continue
        source_name, guest = found[0]
        source = hosts[source_name]
        if target is not None and target == source_name:
            plan['stay'].append({'guest': gname, 'host': source_name, 'reason': 'already on %s' % target,
                                 'action': 'none'})
            continue
        ok, why = movability(guest, source, opts)
        if not ok:
            plan['errors'].append('%s on %s cannot live-migrate: %s' % (gname, source_name, why))
            continue
        if source_name not in plan['sources']:
            plan['sources'].append(source_name)
        want = {'guest': gname, 'source': source_name, 'guest_data': guest, 'need_mib': need_mib(guest, opts),
                'vcpus': int(guest.get('vcpus') or 1), 'target': target}
        (explicit if target else wanted).append(want)
    if plan['errors']:
        return _finish(plan, hosts, opts)
    # explicit targets first: checked, and charged against the target's room before the others are placed
    pending = {}
    for want in explicit:
        target = want['target']
        if target not in hosts:
            plan['errors'].append('%s: target %s is not one of the fleet\'s hosts' % (want['guest'], target))
            continue
        why = _why_not_target(hosts[target], dict(opts, allowed_targets=[]), {want['source']})
        if why:
            plan['errors'].append('%s cannot go to %s: %s' % (want['guest'], target, why))
            continue
        if target in _version_excludes(hosts[want['source']], hosts, [target], opts):
            ok, reason = migration_compatible(hosts[want['source']]['xen_version'], hosts[target]['xen_version'])
            plan['errors'].append('%s cannot go from %s to %s: %s' % (want['guest'], want['source'], target, reason))
            continue
        mem, vcpus = _capacity(hosts[target], opts, *pending.get(target, (0, 0)))
        if want['need_mib'] > mem or (vcpus is not None and want['vcpus'] > vcpus):
            plan['errors'].append('%s (%d MiB with the overhead, %d vCPU) does not fit on %s: %d MiB and %s vCPU(s) '
                                  'left after the reserve of %d MiB' % (want['guest'], want['need_mib'], want['vcpus'],
                                                                        target, mem, vcpus, opts['reserve_mib']))
            continue
        pending[target] = (pending.get(target, (0, 0))[0] + want['need_mib'],
                           pending.get(target, (0, 0))[1] + want['vcpus'])
        plan['moves'].append(_move(want['guest_data'], hosts[want['source']], target, hosts, opts))
    if wanted and not plan['errors']:
        targets = _eligible_targets(hosts, set(), opts)
        for want in wanted:
            want['exclude'] = [want['source']] + _version_excludes(hosts[want['source']], hosts, targets, opts)
        _place_into_plan(plan, hosts, wanted, targets, opts, 'any other host', pending)
    return _finish(plan, hosts, opts)


def plan_rebalance(hosts, values=None):
    """Spread guests: move the best-sized guest from the fullest host to the emptiest, while it narrows the gap.

    The gap is the difference of memory left (after the reserve) between the emptiest and the fullest host;
    moving stops when it is at most ``threshold_mib``, after ``max_moves``, or when no move narrows it.
    With ``targets``, guests only move onto those hosts (a host just put back).
    """
    opts = options(values)
    hosts = _hosts_by_name(hosts)
    plan = _new_plan('rebalance', [], hosts)
    odd = anomalies(list(hosts.values()))
    eligible = _eligible_targets(hosts, set(), opts)
    left = dict((n, _capacity(hosts[n], opts)) for n in eligible)
    left = dict((n, [m, v]) for n, (m, v) in left.items())
    placed = dict((n, list(hosts[n].get('guests') or [])) for n in eligible)
    moved = set()
    for dummy in range(opts['max_moves']):
        if len(eligible) < 2:
            break
        receivers = [n for n in eligible if not opts['targets'] or n in opts['targets']]
        if not receivers:
            break
        lo = max(receivers, key=lambda n: (left[n][0], n))
        best = None
        for hi in sorted(eligible, key=lambda n: (left[n][0], n)):
            if hi == lo:
                continue
            gap = left[lo][0] - left[hi][0]
            if gap <= opts['threshold_mib']:
                break
            if lo in _version_excludes(hosts[hi], hosts, [lo], opts):
                continue
            candidates = []
            for guest in placed[hi]:
                if guest['name'] in moved or guest['name'] in odd:
                    continue
                ok, dummy_why = movability(guest, hosts[hi], opts)
                need = need_mib(guest, opts)
                vcpus = int(guest.get('vcpus') or 1)
                if not ok or need >= gap or need > left[lo][0]:
                    continue
                if left[lo][1] is not None and vcpus > left[lo][1]:
                    continue
                candidates.append((abs(gap / 2.0 - need), guest['name'], guest, need, vcpus))
            if candidates:
                dummy_score, dummy_name, guest, need, vcpus = min(candidates, key=lambda c: (c[0], c[1]))
                best = (hi, guest, need, vcpus)
                break
        if best is None:
            break
        hi, guest, need, vcpus = best
        plan['moves'].append(_move(guest, hosts[hi], lo, hosts, opts))
        if hi not in plan['sources']:
            plan['sources'].append(hi)
        moved.add(guest['name'])
        left[hi][0] += need
        left[lo][0] -= need
        if left[lo][1] is not None:
            left[lo][1] -= vcpus
        if left[hi][1] is not None:
            left[hi][1] += vcpus
        placed[hi] = [g for g in placed[hi] if g['name'] != guest['name']]
    return _finish(plan, hosts, opts)


# --------------------------------------------------------------------------- tables

def _columns(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return [('  '.join(str(c).ljust(widths[i]) for i, c in enumerate(r))).rstrip() for r in rows]


def plan_table(plan):
    lines = ['%s plan: %d move(s) in %d round(s)%s' % (
        plan['operation'], len(plan['moves']), len(plan['rounds']),
        ', from %s' % ', '.join(plan['sources']) if plan['sources'] else '')]
    if plan['moves']:
        rows = [('ROUND', 'GUEST', 'FROM', 'TO', 'MEMORY', 'VCPUS', 'DISKS', 'AUTOSTART')]
        for move in plan['moves']:
            rows.append(('-' if move['round'] is None else str(move['round'] + 1), move['guest'], move['source'],
                         move['target'], '%d MiB' % move['memory_mib'], str(move['vcpus']),
                         str(len(move['disks'])), 'yes' if move['autostart'] else 'no'))
        lines.extend('  ' + line for line in _columns(rows))
    if plan['stay']:
        lines.append('not moved:')
        rows = [('GUEST', 'HOST', 'ACTION', 'WHY')]
        for stay in plan['stay']:
            rows.append((stay['guest'], stay['host'], stay['action'], stay['reason']))
        lines.extend('  ' + line for line in _columns(rows))
    if plan['errors']:
        lines.append('REFUSED, nothing was moved:')
        lines.extend('  - ' + e for e in plan['errors'])
    return '\n'.join(lines)


# --------------------------------------------------------------------------- results

def round_results(mine, probes=None, jobs=None, waited=None):
    """One record per move of a round, from the registered probe, launch and wait results.

    ``probes`` are xen_migrate mode=probe results, ``jobs`` the migrate launches (async job ids, or the
    results themselves when the migration ran in the foreground), ``waited`` the async_status results.
    Each list is in the order of ``mine`` (skipped items included), as Ansible registers loops.
    """
    probes = list(probes or [])
    jobs = list(jobs or [])
    waited_by_jid = {}
    for item in waited or []:
        if item.get('ansible_job_id'):
            waited_by_jid[item['ansible_job_id']] = item
    out = []
    for index, move in enumerate(mine):
        probe = probes[index] if index < len(probes) else {}
        job = jobs[index] if index < len(jobs) else {}
        result = job
        if job.get('ansible_job_id') and job.get('started') is not None and not job.get('finished'):
            result = waited_by_jid.get(job['ansible_job_id'], {'failed': True,
                                                               'msg': 'the migration job was not waited for'})
        record = {'guest': move['guest'], 'source': move['source'], 'target': move['target'],
                  'round': move.get('round'), 'autostart': move.get('autostart'),
                  'autostart_link': move.get('autostart_link'),
                  'ok': False, 'migrated': False, 'status': 'failed', 'msg': None,
                  'total_seconds': None, 'downtime_seconds': None, 'downtime_method': None,
                  'module_seconds': None, 'guest_on_source': None}
        if probe.get('failed') or probe.get('unreachable') or ('target_facts' not in probe and probe):
            record['msg'] = 'probe of %s failed: %s' % (move['target'], probe.get('msg'))
            record['guest_on_source'] = True
        elif not probe:
            record['msg'] = 'not probed'
        elif result.get('skipped'):
            record['status'], record['msg'] = 'not started', result.get('skip_reason')
        elif result.get('failed') or result.get('unreachable') or not result:
            record['msg'] = result.get('msg') or 'no result'
            record['guest_on_source'] = result.get('guest_on_source')
            record['total_seconds'] = result.get('total_seconds')
            if result.get('checks'):
                failed = [c for c in result['checks'] if c.get('ok') is False]
                if failed:
                    record['msg'] = 'pre-checks refused it: ' + '; '.join(
                        '%s: %s' % (c.get('name'), c.get('detail')) for c in failed)
                    record['guest_on_source'] = True
        else:
            record['ok'] = True
            record['migrated'] = bool(result.get('migrated'))
            record['status'] = 'migrated' if record['migrated'] else 'already there'
            record['msg'] = result.get('msg')
            record['total_seconds'] = result.get('total_seconds')
            record['downtime_seconds'] = result.get('downtime_seconds')
            record['downtime_method'] = (result.get('downtime') or {}).get('method')
            record['module_seconds'] = result.get('module_seconds')
        out.append(record)
    return out


def stay_records(results, host, status):
    """Records of what was done to guests that stayed, from a registered xen_domain loop (item: the name)."""
    out = []
    for res in results or []:
        if res.get('skipped'):
            continue
        ok = not (res.get('failed') or res.get('unreachable'))
        out.append({'guest': res.get('item'), 'host': host, 'ok': ok,
                    'status': status if ok else '%s failed: %s' % (status, res.get('msg')),
                    'seconds': res.get('shutdown_seconds')})
    return out


def apply_results(hosts, results, fresh=None, putback=None):
    """The fleet model after the moves of ``results``: guests follow their successful moves.

    ``fresh`` host records replace the model's ones (just read); hosts in ``putback`` are no longer drained.
    """
    model = _hosts_by_name([dict(h) for h in hosts or []])
    for host in fresh or []:
        model[host['name']] = dict(host)
    for name in model:
        model[name]['guests'] = [dict(g) for g in model[name].get('guests') or []]
    for res in results or []:
        if not res.get('ok') or not res.get('migrated'):
            continue
        src, dst = model.get(res['source']), model.get(res['target'])
        if src is None or dst is None:
            continue
        moving = [g for g in src['guests'] if g['name'] == res['guest']]
        if not moving:
            continue
        guest = moving[0]
        src['guests'] = [g for g in src['guests'] if g['name'] != res['guest']]
        need = int(guest.get('memory_mib') or 0)
        src['free_mib'] = int(src.get('free_mib') or 0) + need
        if not any(g['name'] == guest['name'] for g in dst['guests']):
            dst['guests'].append(dict(guest, autostart=bool(guest.get('autostart'))))
            dst['guests'].sort(key=lambda g: g['name'])
            dst['free_mib'] = int(dst.get('free_mib') or 0) - need
    for name in putback or []:
        if name in model:
            model[name]['drained'] = False
            model[name]['drain'] = None
    return [model[n] for n in sorted(model)]


# --------------------------------------------------------------------------- autostart entries

def autostart_guest(link, target):
    """The guest an /etc/xen/auto entry starts: its target's name without .cfg (or the entry's, if it has none)."""
    base = posixpath.basename(target or '') or posixpath.basename(link)
    return base[:-len('.cfg')] if base.endswith('.cfg') else base


def autostart_fixes(hosts):
    """Autostart entries follow their guests: [{host, action (add, remove), path, src, guest}].

    An entry on a host for a guest that runs (once) on another host would start a second copy at the next
    boot: it is removed, and the host where the guest runs gets one if it has none (and has the guest's
    config file). Entries of guests that run nowhere are left alone.
    """
    where = census(hosts)['where']
    running = dict((g, h[0]) for g, h in where.items() if len(h) == 1)
    by_name = _hosts_by_name(hosts)
    fixes, wanted = [], {}
    for host in hosts:
        for link, target in sorted((host.get('autostart_links') or {}).items()):
            guest = autostart_guest(link, target)
            if guest not in running:
                continue
            wanted.setdefault(guest, posixpath.basename(link))
            if running[guest] != host['name']:
                fixes.append({'host': host['name'], 'action': 'remove', 'path': link, 'src': None, 'guest': guest})
    for guest, link_name in sorted(wanted.items()):
        home = by_name[running[guest]]
        has = any(autostart_guest(l, t) == guest for l, t in (home.get('autostart_links') or {}).items())
        if not has and guest in (home.get('configs') or {}):
            fixes.append({'host': home['name'], 'action': 'add', 'path': '/etc/xen/auto/' + link_name,
                          'src': '/etc/xen/%s.cfg' % guest, 'guest': guest})
    return fixes


# --------------------------------------------------------------------------- census and summary

def census(hosts, expected=None, allowed=None):
    """Where every guest runs now: {guest: [hosts]}, and the problems (a guest twice, missing, misplaced).

    ``expected`` is {guest: host} (where the plan put each guest), ``allowed`` a list of hosts a guest may
    run on (drained hosts excluded by the caller).
    """
    where = {}
    for host in hosts or []:
        for guest in host.get('guests') or []:
            if guest.get('state') in ACTIVE:
                where.setdefault(guest['name'], []).append(host['name'])
    problems = []
    for name in sorted(where):
        if len(where[name]) > 1:
            problems.append('%s runs %d times: on %s' % (name, len(where[name]), ', '.join(where[name])))
    for guest, host in sorted((expected or {}).items()):
        now = where.get(guest, [])
        if not now:
            problems.append('%s runs nowhere (expected on %s)' % (guest, host))
        elif host not in now:
            problems.append('%s runs on %s, expected on %s' % (guest, ', '.join(now), host))
        if allowed is not None and now and not set(now) <= set(allowed):
            problems.append('%s runs on %s, which is not allowed (allowed: %s)'
                            % (guest, ', '.join(now), ', '.join(allowed)))
    for host in hosts or []:
        for guest in host.get('guests') or []:
            if guest['name'].endswith(TRANSIENT_SUFFIXES):
                problems.append('%s holds %s (%s), left by an interrupted migration'
                                % (host['name'], guest['name'], guest.get('state')))
    return {'where': where, 'problems': problems, 'ok': not problems}


def _fmt(value, unit=' s'):
    return '-' if value is None else ('%.1f%s' % (float(value), unit))


def summary(plans, results, stays=None, hosts_after=None, phases=None):
    """The per-host, per-guest report: where each guest went, migration time, downtime; and the census.

    ``plans`` the plans carried out (their ``stay`` entries are reported), ``results`` every round record,
    ``stays`` what the playbook did with the guests that stayed ({guest, host, action, status}), ``hosts_after``
    host records read at the end (the census), ``phases`` per-host timings of a rolling upgrade.
    """
    rows = []
    done = dict(((r['guest'], r['source']), r) for r in results or [])
    seen = set()
    for plan in plans or []:
        for move in plan.get('moves') or []:
            key = (move['guest'], move['source'])
            if key in seen:
                continue
            seen.add(key)
            res = done.get(key)
            if res is None:
                rows.append({'host': move['source'], 'guest': move['guest'], 'action': 'not started',
                             'to': move['target'], 'total_seconds': None, 'downtime_seconds': None,
                             'downtime_method': None, 'ok': None, 'msg': 'stopped before its round'})
                continue
            rows.append({'host': res['source'], 'guest': res['guest'], 'action': res['status'],
                         'to': res['target'], 'total_seconds': res.get('total_seconds'),
                         'downtime_seconds': res.get('downtime_seconds'),
                         'downtime_method': res.get('downtime_method'), 'ok': res['ok'], 'msg': res.get('msg')})
        for stay in plan.get('stay') or []:
            key = (stay['guest'], stay['host'])
            if key in seen:
                continue
            seen.add(key)
            status = dict(((s['guest'], s['host']), s) for s in stays or []).get(key, {})
            rows.append({'host': stay['host'], 'guest': stay['guest'],
                         'action': status.get('status') or {'leave': 'left in place', 'shutdown': 'to shut down',
                                                            'fail': 'refused', 'none': 'already there'}.get(
                                                                stay['action'], stay['action']),
                         'to': stay['host'] if stay['action'] != 'fail' else None, 'total_seconds': None,
                         'downtime_seconds': status.get('downtime_seconds'), 'downtime_method': None,
                         'ok': status.get('ok', stay['action'] != 'fail'), 'msg': stay['reason']})
    for res in results or []:
        key = (res['guest'], res['source'])
        if key not in seen:
            seen.add(key)
            rows.append({'host': res['source'], 'guest': res['guest'], 'action': res['status'],
                         'to': res['target'], 'total_seconds': res.get('total_seconds'),
                         'downtime_seconds': res.get('downtime_seconds'),
                         'downtime_method': res.get('downtime_method'), 'ok': res['ok'], 'msg': res.get('msg')})
    check = None
    if hosts_after is not None:
        # where the last successful move of each guest put it
        expected = {}
        for res in results or []:
            if res.get('ok'):
                expected[res['guest']] = res['target']
        left = set((st['guest'], st['host']) for plan in plans or [] for st in plan.get('stay') or []
                   if st.get('action') in ('leave', 'none'))
        check = census(hosts_after, expected)
        for host in hosts_after:
            if not host.get('drained'):
                continue
            for guest in host.get('guests') or []:
                if guest.get('state') in ACTIVE and (guest['name'], host['name']) not in left:
                    check['problems'].append('%s runs on %s, which is drained' % (guest['name'], host['name']))
        check['ok'] = not check['problems']
    if check is not None:
        for row in rows:
            row['now_on'] = ', '.join(check['where'].get(row['guest'], [])) or 'nowhere'
    migrated = [r for r in rows if r['action'] == 'migrated']
    failed = [r for r in rows if r['ok'] is False]
    totals = {
        'migrations': len(migrated),
        'failed': len(failed),
        'migration_seconds': round(sum(r['total_seconds'] or 0 for r in migrated), 3),
        'max_downtime_seconds': max([r['downtime_seconds'] for r in migrated if r['downtime_seconds'] is not None]
                                    or [None], key=lambda x: -1 if x is None else x),
    }
    lines = []
    for host in sorted(set(r['host'] for r in rows)):
        lines.append(host)
        table = [('  GUEST', 'WHAT', 'TO', 'MIGRATION', 'DOWNTIME', 'NOW ON' if check else '', 'NOTE')]
        for row in sorted([r for r in rows if r['host'] == host], key=lambda r: r['guest']):
            down = _fmt(row['downtime_seconds'])
            if row['downtime_method']:
                down += ' (%s)' % row['downtime_method']
            table.append(('  ' + row['guest'], row['action'], row['to'] or '-', _fmt(row['total_seconds']), down,
                          row.get('now_on', '') if check else '', (row['msg'] or '') if row['ok'] is not True else ''))
        lines.extend(_columns(table))
    if phases:
        lines.append('rolling upgrade, per host (seconds):')
        table = [('  HOST', 'DRAIN', 'UPGRADE', 'REBOOT', 'VERIFY', 'PUT BACK', 'TOTAL')]
        keys = ('drain', 'upgrade', 'reboot', 'verify', 'putback', 'total')
        for ph in phases:
            table.append(('  ' + ph['host'],) + tuple(_fmt(ph.get(k), '') for k in keys))
        lines.extend(_columns(table))
    lines.append('%d migration(s), %s s in all, longest downtime %s; %d failure(s)' % (
        totals['migrations'], totals['migration_seconds'], _fmt(totals['max_downtime_seconds']), totals['failed']))
    if check is not None:
        lines.append('census: every guest runs exactly once' if check['ok'] else
                     'CENSUS PROBLEMS: ' + '; '.join(check['problems']))
    return {'rows': rows, 'totals': totals, 'lines': lines, 'census': check, 'phases': list(phases or []),
            'ok': not failed and (check is None or check['ok'])}
