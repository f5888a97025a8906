# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""xen_host_info end to end in-process, over captured xl output."""

from __future__ import annotations

import pytest

from ansible_collections.xenfleet.xen.plugins.modules import xen_host_info
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import (
    TIMEOUT,
    VERSIONS,
    XL,
    stdout_of,
    write,
)
from ansible_collections.xenfleet.xen.tests.unit.plugins.modules.xen_module_helpers import run_module


def test_host_without_xen(monkeypatch, tmp_path):
    result, failed, replay = run_module(monkeypatch, xen_host_info.main, {}, {}, tmp_path)
    assert not failed
    assert result['changed'] is False
    assert result['is_xen'] is False
    assert result['reason']
    assert replay.calls == []


def test_host_without_xl(monkeypatch, tmp_path):
    write(tmp_path, '/proc/xen/capabilities', 'control_d\n')
    result, failed, dummy = run_module(monkeypatch, xen_host_info.main, {}, {}, tmp_path, paths={})
    assert not failed
    assert result['is_xen'] is False
    assert 'xl command was not found' in result['reason']
    assert result['is_dom0'] is True


@pytest.mark.parametrize('version', VERSIONS)
def test_xen_host(monkeypatch, tmp_path, version):
    write(tmp_path, '/proc/xen/capabilities', 'control_d\n')
    listing = stdout_of(version, 'xl_list').splitlines()
    table = {
        ('info',): (0, stdout_of(version, 'xl_info'), ''),
        ('list', 'Domain-0'): (0, '\n'.join(listing[:2]) + '\n', ''),
    }
    result, failed, replay = run_module(monkeypatch, xen_host_info.main, {'timeout': 12}, table, tmp_path)
    assert not failed, result
    assert result['is_xen'] is True
    assert result['xen_minor'] == {'xen-4.17': 17, 'xen-4.20': 20}[version]
    assert set(result['capabilities']) == {'pv', 'hvm', 'pvh', 'hap', 'shadow', 'iommu'}
    assert result['dom0']['vcpus'] >= 1
    assert replay.calls[0][0] == [TIMEOUT, '-k', '10', '12', XL, 'info']


def test_bad_timeout(monkeypatch, tmp_path):
    result, failed, dummy = run_module(monkeypatch, xen_host_info.main, {'timeout': 0}, {}, tmp_path)
    assert failed
    assert 'timeout' in result['msg']


def test_xl_failure_is_reported_not_raised(monkeypatch, tmp_path):
    write(tmp_path, '/proc/xen/capabilities', 'control_d\n')
    table = {('info',): (1, '', 'libxl: error: libxl.c:1: something unexpected\n')}
    result, failed, dummy = run_module(monkeypatch, xen_host_info.main, {}, table, tmp_path)
    assert failed
    assert result['error'] == 'XlCommandError'
    assert result['cmd'][-2:] == [XL, 'info']
    assert result['rc'] == 1
