# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest of lab/tinyguest/capture-xl.sh, as xl showed it through its life.

The guest "capture-pv" was made from this config (see the capture script):
name "capture-pv", type "pv", memory 128, maxmem 256, vcpus 1, the dom0 kernel and
/root/tiny.cpio.gz, extra "console=hvc0 xenfleet_name=capture-pv", one vif with
mac 00:16:3e:00:00:01, on_crash "destroy".  Then: mem-set 96m, pause, unpause, shutdown -w.
"""

from __future__ import annotations

import pytest

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_parse as p
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import (
    VERSIONS,
    capture,
    guest_stdout,
    stdout_of,
)

GUEST = 'capture-pv'


def guest_row(rows):
    found = [r for r in rows if r['name'] == GUEST]
    assert len(found) == 1, rows
    return found[0]


@pytest.mark.parametrize('version', VERSIONS)
def test_created_guest_in_the_list(version):
    guest_stdout(version, 'create_pv')
    row = guest_row(p.parse_xl_list(stdout_of(version, 'xl_list_guest')))
    assert row['domid'] > 0
    assert row['memory_mib'] == 128
    assert row['vcpus'] == 1
    assert row['active']


@pytest.mark.parametrize('version', VERSIONS)
@pytest.mark.parametrize('name', ['xl_list_l_one', 'xl_list_l_guest'])
def test_guest_configuration(version, name):
    guest_stdout(version, 'create_pv')
    entries = [e for e in p.parse_xl_list_long(guest_stdout(version, name)) if e['domid'] != 0]
    facts = p.domain_config_facts(entries[0])
    assert facts['name'] == GUEST
    assert facts['type'] == 'pv'
    assert facts['memory_mib'] == 128
    assert facts['maxmem_mib'] == 256
    assert facts['vcpus'] == 1 and facts['maxvcpus'] == 1
    assert facts['kernel'].startswith('/boot/vmlinuz-')
    assert facts['ramdisk'] == '/root/tiny.cpio.gz'
    assert 'xenfleet_name=capture-pv' in facts['cmdline']
    assert [v['mac'] for v in facts['vifs']] == ['00:16:3e:00:00:01']
    assert facts['disks'] == []
    # on_crash "destroy" is libxl's default, which the JSON leaves out; xl sets on_reboot "restart".
    assert (facts['on_poweroff'], facts['on_reboot'], facts['on_crash']) == ('destroy', 'restart', 'destroy')
    assert len(facts['uuid']) == 36


@pytest.mark.parametrize('version', VERSIONS)
def test_guest_after_mem_set(version):
    assert guest_stdout(version, 'xl_memset') == ''
    row = guest_row(p.parse_xl_list(guest_stdout(version, 'xl_list_after_memset')))
    assert row['memory_mib'] == 96


@pytest.mark.parametrize('version', VERSIONS)
def test_guest_paused(version):
    guest_stdout(version, 'xl_pause')
    row = guest_row(p.parse_xl_list(guest_stdout(version, 'xl_list_paused')))
    assert row['state'] == 'paused'
    assert row['paused'] and not row['shutdown']


@pytest.mark.parametrize('version', VERSIONS)
def test_guest_scheduler(version):
    rows = p.parse_sched(guest_stdout(version, 'xl_sched_credit2_guest'))
    assert rows == [{'name': GUEST, 'domid': rows[0]['domid'], 'weight': 256, 'cap': 0}]


@pytest.mark.parametrize('version', VERSIONS)
def test_guest_vcpus(version):
    rows = p.parse_vcpu_list(guest_stdout(version, 'xl_vcpu_list_guest'))
    assert [(r['name'], r['vcpu']) for r in rows] == [(GUEST, 0)]


@pytest.mark.parametrize('version', VERSIONS)
def test_guest_after_shutdown_wait(version):
    """`xl shutdown -w` returns once the guest has shut down, not once the domain is gone.

    Right after it, `xl list` still shows the domain, paused and shut down (reason poweroff):
    this is why the client waits until `xl list NAME` says the domain does not exist.
    """
    guest_stdout(version, 'xl_shutdown_wait')
    row = guest_row(p.parse_xl_list(stdout_of(version, 'xl_list_after_shutdown')))
    assert row['state_flags'] == '--ps--'
    assert row['state'] == 'shutdown' and row['shutdown_reason'] == 'poweroff' and not row['active']


@pytest.mark.parametrize('version', VERSIONS)
def test_sched_credit_on_a_credit2_host_prints_nothing(version):
    rc, out, err = capture(version, 'xl_sched_credit')
    info = p.xen_facts(p.parse_xl_info(stdout_of(version, 'xl_info')))
    if info['xen_scheduler'] != 'credit2':
        pytest.skip('the host does not run credit2')
    assert (rc, p.parse_sched(out), err) == (0, [], '')


@pytest.mark.parametrize('version', VERSIONS)
def test_dom0_vcpu_list(version):
    rows = p.parse_vcpu_list(stdout_of(version, 'xl_vcpu_list'))
    assert rows[0]['name'] == 'Domain-0'
    assert rows[0]['hard_affinity'] == 'all' and rows[0]['soft_affinity'] == 'all'
