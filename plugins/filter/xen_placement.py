# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter xenfleet.xen.xen_placement: capacity placement of guests on Xen hosts.

The logic lives in plugins/module_utils/xen_placement.py (pure Python, unit-tested); this is the
Ansible face of it. Documentation: xen_placement.yml next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.xenfleet.xen.plugins.module_utils.xen_placement import PlacementError, place


def _hosts(value):
    """A list of host dicts, or a dict of host name -> {memory_mib, vcpus}."""
    if isinstance(value, dict):
        out = []
        for name in sorted(value):
            data = value[name]
            if not isinstance(data, dict):
                raise AnsibleFilterError('xen_placement: host %s must be a dict, got %r' % (name, data))
            item = dict(data)
            item['name'] = name
            out.append(item)
        return out
    if isinstance(value, (list, tuple)):
        return list(value)
    raise AnsibleFilterError('xen_placement: the hosts must be a list or a dict, got %s' % type(value).__name__)


def xen_placement(hosts, guests, strategy='spread'):
    """Place guests on hosts by capacity; see the documentation."""
    if not isinstance(guests, (list, tuple)):
        raise AnsibleFilterError('xen_placement: the guests must be a list, got %s' % type(guests).__name__)
    try:
        return place(_hosts(hosts), list(guests), strategy=strategy).to_dict()
    except PlacementError as exc:
        raise AnsibleFilterError('xen_placement: %s' % exc)


class FilterModule(object):
    """xenfleet.xen filters."""

    def filters(self):
        return {'xen_placement': xen_placement}
