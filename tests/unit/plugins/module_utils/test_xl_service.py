# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host and domain facts: xl's captured output plus dom0's files, under a temporary root."""

from __future__ import annotations

import os

import pytest

from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XenNotAvailableError
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_service import XenHostService
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import (
    VERSIONS,
    client_for,
    stdout_of,
    write,
)


def refuse():
    raise AssertionError('xl must not run on a host without Xen')


def test_bare_metal_linux_is_not_xen(tmp_path):
    facts = XenHostService(refuse, root=str(tmp_path)).host_facts()
    assert facts['is_xen'] is False
    assert facts['is_dom0'] is False
    assert 'does not run on Xen' in facts['reason']


def test_domu_without_xl_is_not_xen(tmp_path):
    write(tmp_path, '/sys/hypervisor/type', 'xen\n')
    write(tmp_path, '/proc/xen/capabilities', '')

    def no_xl():
        raise XenNotAvailableError('the xl command was not found (is the xen-utils package installed?)')

    facts = XenHostService(no_xl, root=str(tmp_path)).host_facts()
    assert facts['is_xen'] is False
    assert facts['hypervisor_type'] == 'xen'
    assert facts['is_dom0'] is False
    assert 'xl command was not found' in facts['reason']


def test_xl_that_cannot_reach_xen_is_not_xen(tmp_path):
    # Debian's xl wrapper when the host was not booted into Xen (xen-utils-common).
    write(tmp_path, '/proc/xen/capabilities', 'control_d\n')
    client, dummy = client_for({('info',): (127, '', "ERROR:  Can't find hypervisor information in sysfs!\n")})
    facts = XenHostService(lambda: client, root=str(tmp_path)).host_facts()
    assert facts['is_xen'] is False
    assert "Can't find hypervisor information" in facts['reason']


@pytest.mark.parametrize('version', VERSIONS)
def test_dom0_host_facts(tmp_path, version):
    write(tmp_path, '/proc/xen/capabilities', 'control_d\n')
    write(tmp_path, '/sys/hypervisor/type', 'xen\n')
    listing = stdout_of(version, 'xl_list').splitlines()
    client, replay = client_for({
        ('info',): (0, stdout_of(version, 'xl_info'), ''),
        ('list', 'Domain-0'): (0, '\n'.join(listing[:2]) + '\n', ''),
    })
    facts = XenHostService(lambda: client, root=str(tmp_path)).host_facts()
    assert facts['is_xen'] is True and facts['is_dom0'] is True
    assert facts['xen_major'] == 4
    assert facts['dom0']['memory_mib'] > 0 and facts['dom0']['vcpus'] >= 1
    assert facts['free_memory_mib'] <= facts['total_memory_mib']
    assert facts['info']['xen_major'] == '4'
    assert replay.commands == [('info',), ('list', 'Domain-0')]


def test_config_path_and_autostart(tmp_path):
    service = XenHostService(refuse, root=str(tmp_path))
    assert service.config_path('web1') is None
    assert service.autostart_link('web1') is None
    cfg = write(tmp_path, '/etc/xen/web1.cfg', 'name = "web1"\n')
    write(tmp_path, '/etc/xen/db1', 'name = "db1"\n')
    os.makedirs(os.path.join(str(tmp_path), 'etc/xen/auto'))
    assert service.config_path('web1') == '/etc/xen/web1.cfg'
    assert service.config_path('db1') == '/etc/xen/db1'
    assert service.autostart_link('web1', '/etc/xen/web1.cfg') is None
    os.symlink(cfg, os.path.join(str(tmp_path), 'etc/xen/auto/10-web'))
    assert service.autostart_link('web1', '/etc/xen/web1.cfg') == '/etc/xen/auto/10-web'
    os.symlink('../web1.cfg', os.path.join(str(tmp_path), 'etc/xen/auto/web1'))
    assert service.autostart_link('web1', '/etc/xen/web1.cfg') == '/etc/xen/auto/web1'
    # A dangling link still starts (or fails to start) the domain at boot: it counts.
    os.symlink('/nowhere.cfg', os.path.join(str(tmp_path), 'etc/xen/auto/db1.cfg'))
    assert service.autostart_link('db1') == '/etc/xen/auto/db1.cfg'


@pytest.mark.parametrize('version', VERSIONS)
def test_all_domain_facts(tmp_path, version):
    client, replay = client_for({
        ('list',): (0, stdout_of(version, 'xl_list'), ''),
        ('list', '-l'): (0, stdout_of(version, 'xl_list_l'), ''),
        ('uptime',): (0, stdout_of(version, 'xl_uptime'), ''),
    })
    service = XenHostService(lambda: client, root=str(tmp_path))
    everything = service.domain_facts(include_dom0=True)
    assert everything[0]['name'] == 'Domain-0'
    assert everything[0]['uptime'] > 0
    assert everything[0]['config_path'] is None and everything[0]['autostart'] is False
    guests = service.domain_facts()
    assert all(d['name'] != 'Domain-0' for d in guests)
    assert replay.commands[:3] == [('list',), ('list', '-l'), ('uptime',)]


def test_missing_domain_gives_an_empty_list(tmp_path):
    client, replay = client_for({('list', 'web1'): (1, '', 'web1 is an invalid domain identifier (rc=-6)\n')})
    assert XenHostService(lambda: client, root=str(tmp_path)).domain_facts('web1') == []
    assert replay.commands == [('list', 'web1')]


@pytest.mark.parametrize('version', VERSIONS)
def test_host_facts_with_domains_run_one_xl_list(tmp_path, version):
    # a capacity survey: xl info and ONE xl list (every domain), Domain-0's figures taken from that list
    write(tmp_path, '/proc/xen/capabilities', 'control_d\n')
    listing = stdout_of(version, 'xl_list')
    client, replay = client_for({
        ('info',): (0, stdout_of(version, 'xl_info'), ''),
        ('list',): (0, listing, ''),
    })
    facts = XenHostService(lambda: client, root=str(tmp_path)).host_facts(domains=True)
    assert replay.commands == [('info',), ('list',)]
    names = [row['name'] for row in facts['domains']]
    assert names[0] == 'Domain-0' and len(names) == len(listing.strip().splitlines()) - 1
    assert facts['dom0']['memory_mib'] == facts['domains'][0]['memory_mib'] > 0
    assert facts['dom0']['vcpus'] == facts['domains'][0]['vcpus'] >= 1
    assert all(row['state'] and row['vcpus'] >= 0 for row in facts['domains'])
