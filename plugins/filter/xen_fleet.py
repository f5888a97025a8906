# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters xenfleet.xen.fleet_*: plans, results and reports of the fleet playbooks (playbooks/).

The logic lives in plugins/module_utils/xen_fleet.py (pure Python, unit-tested), which places guests
with the guests role's xen_placement; this is the Ansible face of it. Documentation: the fleet_*.yml
files next to this one.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.xenfleet.xen.plugins.module_utils import xen_fleet as f


def _call(name, func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except f.FleetError as exc:
        raise AnsibleFilterError('%s: %s' % (name, exc))


def _list(name, value, what):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    raise AnsibleFilterError('%s: %s must be a list, got %s' % (name, what, type(value).__name__))


UNSET = '__fleet_unset__'


def fleet_options(spec, given=None):
    """The fleet playbooks' options: each given value (not None, not UNSET), else the spec's default (or None)."""
    if not isinstance(spec, dict):
        raise AnsibleFilterError('fleet_options: the spec must be a dict of option name to its specification')
    given = given or {}
    out = {}
    for name in sorted(spec):
        value = given.get(name)
        out[name] = value if value is not None and value != UNSET else (spec[name] or {}).get('default')
    return out


def fleet_host(host_info, domain_info=None, files='', name=None, address=None):
    """A host record (see xen_fleet.host_record) from the results of xen_host_info, xen_domain_info and the file read."""
    if not name:
        raise AnsibleFilterError('fleet_host: the host name is required')
    if isinstance(files, dict):
        files = files.get('stdout') or ''
    return _call('fleet_host', f.host_record, name, host_info or {}, domain_info or {}, files or '', address,
                 not (host_info or {}).get('unreachable'))


def fleet_plan_drain(hosts, sources, options=None):
    """Plan the evacuation of ``sources``."""
    return _call('fleet_plan_drain', f.plan_drain, _list('fleet_plan_drain', hosts, 'the hosts'),
                 _list('fleet_plan_drain', sources, 'the sources'), options or {})


def fleet_plan_moves(hosts, requests, options=None, default_target=None):
    """Plan the migration of named guests (each a name, or {guest, target})."""
    return _call('fleet_plan_moves', f.plan_moves, _list('fleet_plan_moves', hosts, 'the hosts'),
                 _list('fleet_plan_moves', requests, 'the requests'), options or {}, default_target or None)


def fleet_plan_rebalance(hosts, options=None):
    """Plan moves that spread the guests by capacity."""
    return _call('fleet_plan_rebalance', f.plan_rebalance, _list('fleet_plan_rebalance', hosts, 'the hosts'),
                 options or {})


def fleet_round_results(mine, probes=None, jobs=None, waited=None):
    """Records of a round's migrations from the registered probe, launch and wait results."""
    return _call('fleet_round_results', f.round_results, _list('fleet_round_results', mine, 'the moves'),
                 _list('fleet_round_results', probes, 'the probes'), _list('fleet_round_results', jobs, 'the jobs'),
                 _list('fleet_round_results', waited, 'the waits'))


def fleet_stays(results, host, status):
    """Records of what was done to the guests that stayed (a registered xen_domain loop over guest names)."""
    return _call('fleet_stays', f.stay_records, _list('fleet_stays', results, 'the results'), host, status)


def fleet_apply_results(hosts, results=None, fresh=None, putback=None):
    """The fleet model after the successful moves of ``results`` (``fresh`` records replace, ``putback`` undrains)."""
    return _call('fleet_apply_results', f.apply_results, _list('fleet_apply_results', hosts, 'the hosts'),
                 _list('fleet_apply_results', results, 'the results'), _list('fleet_apply_results', fresh, 'fresh'),
                 _list('fleet_apply_results', putback, 'putback'))


def fleet_census(hosts, expected=None, allowed=None):
    """Where every guest runs, and whether each runs exactly once (where expected)."""
    return _call('fleet_census', f.census, _list('fleet_census', hosts, 'the hosts'), expected or {},
                 None if allowed is None else _list('fleet_census', allowed, 'allowed'))


def fleet_autostart_fixes(hosts):
    """The autostart entries to add and remove so that each follows its guest."""
    return _call('fleet_autostart_fixes', f.autostart_fixes, _list('fleet_autostart_fixes', hosts, 'the hosts'))


def fleet_summary(plans, results=None, stays=None, hosts_after=None, phases=None):
    """The per-host, per-guest report of an operation."""
    if isinstance(plans, dict):
        plans = [plans]
    return _call('fleet_summary', f.summary, _list('fleet_summary', plans, 'the plans'),
                 _list('fleet_summary', results, 'the results'), _list('fleet_summary', stays, 'the stays'),
                 None if hosts_after is None else _list('fleet_summary', hosts_after, 'hosts_after'),
                 _list('fleet_summary', phases, 'the phases'))


class FilterModule(object):
    """xenfleet.xen fleet filters."""

    def filters(self):
        return {
            'fleet_options': fleet_options,
            'fleet_host': fleet_host,
            'fleet_plan_drain': fleet_plan_drain,
            'fleet_plan_moves': fleet_plan_moves,
            'fleet_plan_rebalance': fleet_plan_rebalance,
            'fleet_round_results': fleet_round_results,
            'fleet_stays': fleet_stays,
            'fleet_apply_results': fleet_apply_results,
            'fleet_census': fleet_census,
            'fleet_autostart_fixes': fleet_autostart_fixes,
            'fleet_summary': fleet_summary,
        }
