# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter xenfleet.xen.xl_host_survey: a Xen host's capacity and domains from the raw output of ``xl info`` and
``xl list``, as a command on the host captured them (the guests role's survey runs both in the one helper run it
makes per Domain-0). Parsing is the collection's one xl parser, plugins/module_utils/xl_parse.py, the same as
xen_host_info's. Documentation: xl_host_survey.yml next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_parse
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlError


def _command(value, key):
    item = value.get(key)
    if not isinstance(item, dict) or 'rc' not in item:
        raise AnsibleFilterError('xl_host_survey: %s must be a dict with rc, stdout and stderr, got %r' % (key, item))
    return item


def xl_host_survey(value):
    """{info: {rc, stdout, stderr}, list: {rc, stdout, stderr}} -> capacity facts; see the documentation."""
    if not isinstance(value, dict):
        raise AnsibleFilterError('xl_host_survey: the input must be a dict, got %s' % type(value).__name__)
    info, listing = _command(value, 'info'), _command(value, 'list')
    for what, item in (('xl info', info), ('xl list', listing)):
        if item['rc'] != 0:
            reason = (item.get('stderr') or item.get('stdout') or '').strip()
            return {'is_xen': False, 'reason': '%s failed (rc=%s): %s' % (what, item['rc'], reason)}
    try:
        facts = xl_parse.xen_facts(xl_parse.parse_xl_info(info.get('stdout')))
        domains = xl_parse.parse_xl_list(listing.get('stdout'))
    except XlError as exc:
        raise AnsibleFilterError('xl_host_survey: %s' % exc.message)
    return {
        'is_xen': True,
        'reason': None,
        'xen_version': facts.get('xen_version'),
        'nr_cpus': facts.get('nr_cpus'),
        'total_memory_mib': facts.get('total_memory'),
        'free_memory_mib': facts.get('free_memory'),
        'domains': domains,
    }


class FilterModule(object):
    """xenfleet.xen filters."""

    def filters(self):
        return {'xl_host_survey': xl_host_survey}
