# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The xl_host_survey filter, over xl output captured on the lab's Xen 4.17 and 4.20 hosts (tests/unit/plugins/
module_utils/fixtures): the same figures as xen_host_info gets from the same output."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.xenfleet.xen.plugins.filter.xl_host_survey import FilterModule, xl_host_survey
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_service import XenHostService
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import (
    VERSIONS,
    client_for,
    stdout_of,
    write,
)


def ok(stdout):
    return {'rc': 0, 'stdout': stdout, 'stderr': ''}


def test_registered():
    assert FilterModule().filters()['xl_host_survey'] is xl_host_survey


@pytest.mark.parametrize('version', VERSIONS)
def test_same_figures_as_xen_host_info(tmp_path, version):
    info, listing = stdout_of(version, 'xl_info'), stdout_of(version, 'xl_list')
    got = xl_host_survey({'info': ok(info), 'list': ok(listing)})
    write(tmp_path, '/proc/xen/capabilities', 'control_d\n')
    client, dummy = client_for({('info',): (0, info, ''), ('list',): (0, listing, '')})
    module = XenHostService(lambda: client, root=str(tmp_path)).host_facts(domains=True)
    assert got['is_xen'] is True and got['reason'] is None
    for key in ('xen_version', 'nr_cpus', 'total_memory_mib', 'free_memory_mib', 'domains'):
        assert got[key] == module[key], key
    assert got['domains'][0]['name'] == 'Domain-0' and got['free_memory_mib'] > 0


def test_a_failed_xl_is_not_xen():
    # Debian's xl wrapper on a host that was not booted into Xen
    got = xl_host_survey({'info': {'rc': 127, 'stdout': '',
                                   'stderr': "ERROR:  Can't find hypervisor information in sysfs!\n"},
                          'list': {'rc': 127, 'stdout': '', 'stderr': ''}})
    assert got == {'is_xen': False,
                   'reason': "xl info failed (rc=127): ERROR:  Can't find hypervisor information in sysfs!"}


@pytest.mark.parametrize('value,message', [
    ('text', 'must be a dict'),
    ({'info': ok('x')}, 'list must be a dict'),
    ({'info': ok('garbage\n'), 'list': ok('Name ID\n')}, 'xl info'),
], ids=['not a dict', 'no list', 'garbage'])
def test_errors(value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        xl_host_survey(value)
