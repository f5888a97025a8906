# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""xen_domain_info end to end in-process, over captured xl output."""

from __future__ import annotations

import pytest

from ansible_collections.xenfleet.xen.plugins.modules import xen_domain_info
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import (
    VERSIONS,
    guest_stdout,
    stdout_of,
    write,
)
from ansible_collections.xenfleet.xen.tests.unit.plugins.modules.xen_module_helpers import run_module

NOT_FOUND = (1, '', 'web1 is an invalid domain identifier (rc=-6)\n')


def all_domains_table(version):
    return {
        ('list',): (0, stdout_of(version, 'xl_list'), ''),
        ('list', '-l'): (0, stdout_of(version, 'xl_list_l'), ''),
        ('uptime',): (0, stdout_of(version, 'xl_uptime'), ''),
    }


@pytest.mark.parametrize('version', VERSIONS)
def test_all_domains(monkeypatch, tmp_path, version):
    result, failed, replay = run_module(monkeypatch, xen_domain_info.main, {}, all_domains_table(version), tmp_path)
    assert not failed, result
    assert result['changed'] is False
    assert all(d['name'] != 'Domain-0' for d in result['domains'])
    assert replay.commands == [('list',), ('list', '-l'), ('uptime',)]


@pytest.mark.parametrize('version', VERSIONS)
def test_include_dom0_and_state_filter(monkeypatch, tmp_path, version):
    args = {'include_dom0': True, 'states': ['running', 'blocked', 'runnable']}
    result, failed, dummy = run_module(monkeypatch, xen_domain_info.main, args, all_domains_table(version), tmp_path)
    assert not failed, result
    assert result['domains'][0]['name'] == 'Domain-0'
    assert all(d['active'] for d in result['domains'])


def test_missing_domain(monkeypatch, tmp_path):
    result, failed, replay = run_module(monkeypatch, xen_domain_info.main, {'name': 'web1'},
                                        {('list', 'web1'): NOT_FOUND}, tmp_path)
    assert not failed
    assert result['domains'] == []
    assert replay.commands == [('list', 'web1')]


def test_invalid_name_fails_before_running(monkeypatch, tmp_path):
    result, failed, replay = run_module(monkeypatch, xen_domain_info.main, {'name': 'web1; reboot'}, {}, tmp_path)
    assert failed
    assert result['error'] == 'XlValidationError'
    assert replay.calls == []


def test_invalid_state_choice(monkeypatch, tmp_path):
    result, failed, dummy = run_module(monkeypatch, xen_domain_info.main, {'states': ['asleep']}, {}, tmp_path)
    assert failed
    assert 'asleep' in result['msg']


def test_no_xl(monkeypatch, tmp_path):
    result, failed, dummy = run_module(monkeypatch, xen_domain_info.main, {}, {}, tmp_path, paths={})
    assert failed
    assert result['error'] == 'XenNotAvailableError'


@pytest.mark.parametrize('version', VERSIONS)
def test_one_domain(monkeypatch, tmp_path, version):
    write(tmp_path, '/etc/xen/capture-pv.cfg', 'name = "capture-pv"\n')
    write(tmp_path, '/etc/xen/auto/.keep')
    table = {
        ('list', 'capture-pv'): (0, guest_stdout(version, 'xl_list_after_memset'), ''),
        ('list', '-l', 'capture-pv'): (0, guest_stdout(version, 'xl_list_l_one'), ''),
        ('uptime', 'capture-pv'): (0, stdout_of(version, 'xl_uptime_guest'), ''),
    }
    result, failed, replay = run_module(monkeypatch, xen_domain_info.main, {'name': 'capture-pv'}, table, tmp_path)
    assert not failed, result
    (guest,) = result['domains']
    assert guest['name'] == 'capture-pv' and guest['type'] == 'pv'
    assert guest['memory_mib'] == 96 and guest['maxmem_mib'] == 256
    assert guest['vifs'][0]['mac'] == '00:16:3e:00:00:01'
    assert guest['config_path'] == '/etc/xen/capture-pv.cfg'
    assert guest['autostart'] is False
    assert guest['uptime'] >= 0
    assert replay.commands == [('list', 'capture-pv'), ('list', '-l', 'capture-pv'), ('uptime', 'capture-pv')]
