# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers of xl's output, over the captures of the lab's Xen 4.17 and 4.20 hosts."""

from __future__ import annotations

import pytest

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_parse as p
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlParseError
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import VERSIONS, stdout_of

MINOR = {'xen-4.17': 17, 'xen-4.20': 20}

# --------------------------------------------------------------------------- xl info


@pytest.mark.parametrize('version', VERSIONS)
def test_xl_info_capture(version):
    raw = p.parse_xl_info(stdout_of(version, 'xl_info'))
    # Every key xl_info.c prints on x86, in both releases.
    for key in ('host', 'release', 'version', 'machine', 'nr_cpus', 'max_cpu_id', 'nr_nodes', 'cores_per_socket',
                'threads_per_core', 'cpu_mhz', 'hw_caps', 'virt_caps', 'total_memory', 'free_memory',
                'sharing_freed_memory', 'sharing_used_memory', 'outstanding_claims', 'free_cpus', 'xen_major',
                'xen_minor', 'xen_extra', 'xen_version', 'xen_caps', 'xen_scheduler', 'xen_pagesize',
                'platform_params', 'xen_changeset', 'xen_commandline', 'cc_compiler', 'cc_compile_by',
                'cc_compile_domain', 'cc_compile_date', 'build_id', 'xend_config_format'):
        assert key in raw, key
    facts = p.xen_facts(raw)
    assert facts['xen_major'] == 4
    assert facts['xen_minor'] == MINOR[version]
    assert facts['xen_version'].startswith('4.%d' % MINOR[version])
    assert facts['xen_version'] == '4.%d%s' % (MINOR[version], facts['xen_extra'])
    assert facts['nr_cpus'] >= 1
    assert 0 < facts['free_memory'] <= facts['total_memory']
    assert facts['xen_scheduler'] in ('credit', 'credit2', 'null', 'rtds', 'arinc653')
    assert facts['capabilities']['pv'] is ('pv' in facts['virt_caps'])
    assert facts['xen_caps'] and all(' ' not in c for c in facts['xen_caps'])
    assert '\n' not in facts['xen_commandline']
    assert facts['xend_config_format'] == 4


@pytest.mark.parametrize('version', VERSIONS)
def test_xl_info_lab_virt_caps(version):
    """The lab's hosts (QEMU TCG, -cpu max,-smap) can run PV, HVM and PVH guests with HAP.

    (Debian 12's Xen 4.17.7 printed `virt_caps : pv hvm hap gnttab-v1 gnttab-v2`: no shadow.)
    """
    facts = p.xen_facts(p.parse_xl_info(stdout_of(version, 'xl_info')))
    caps = facts['capabilities']
    assert caps['pv'] and caps['hvm'] and caps['hap'] and caps['pvh']
    assert caps['shadow'] is ('shadow' in facts['virt_caps'])


def test_xl_info_virt_caps_without_space_after_colon():
    # xl_info.c prints "virt_caps              :%s%s..." with each word carrying its own space.
    raw = p.parse_xl_info('xen_major              : 4\nxen_minor              : 17\n'
                          'virt_caps              : pv hvm hap shadow\nvirt_caps2             :\n')
    assert raw['virt_caps'] == 'pv hvm hap shadow'
    assert raw['virt_caps2'] == ''


def test_xl_info_continuation_lines_join_the_previous_key():
    # `xl info -n` prints tables under "cpu_topology" and "numa_info" (xl_info.c output_topologyinfo()).
    text = ('xen_major              : 4\nxen_minor              : 20\n'
            'cpu_topology           :\ncpu:    core    socket     node\n  0:       0        0        0\n'
            'numa_info              :\nnode:    memsize    memfree    distances\n'
            '   0:      2048        891      10\n')
    raw = p.parse_xl_info(text)
    assert raw['cpu_topology'] == 'cpu:    core    socket     node\n  0:       0        0        0'
    assert raw['numa_info'].splitlines()[1].split() == ['0:', '2048', '891', '10']


@pytest.mark.parametrize('text', ['', '   \n', 'garbage\n', 'host                   : x\n'])
def test_xl_info_refuses_garbage(text):
    with pytest.raises(XlParseError):
        p.parse_xl_info(text)


@pytest.mark.parametrize('cmdline, dom0_mem, parsed', [
    ('placeholder dom0_mem=1024M,max:1024M console=com1', '1024M,max:1024M',
     {'target_mib': 1024, 'min_mib': None, 'max_mib': 1024}),
    ('dom0_mem=2G', '2G', {'target_mib': 2048, 'min_mib': None, 'max_mib': None}),
    ('dom0_mem=min:512M,max:4G,1G', 'min:512M,max:4G,1G', {'target_mib': 1024, 'min_mib': 512, 'max_mib': 4096}),
    ('dom0_mem=524288', '524288', {'target_mib': 512, 'min_mib': None, 'max_mib': None}),
    ('dom0_mem=-1G', '-1G', {'target_mib': None, 'min_mib': None, 'max_mib': None}),
    ('console=com1', None, {'target_mib': None, 'min_mib': None, 'max_mib': None}),
])
def test_dom0_mem(cmdline, dom0_mem, parsed):
    raw = {'xen_major': '4', 'xen_minor': '17', 'xen_commandline': cmdline}
    facts = p.xen_facts(raw)
    assert facts['dom0_mem'] == dom0_mem
    assert facts['dom0_mem_parsed'] == parsed


def test_parse_cmdline():
    assert p.parse_cmdline('placeholder a=1 b a=2 c=') == {'placeholder': True, 'a': '2', 'b': True, 'c': ''}


@pytest.mark.parametrize('src, dst, ok', [
    ('4.17.5', '4.17.3', True),
    ('4.17.5', '4.18.0', True),
    ('4.17.5', '4.20.1', False),
    ('4.20.0', '4.17.5', False),
    ('4.17', '5.0', False),
    ((4, 19), (4, 20), True),
])
def test_migration_compatible(src, dst, ok):
    result, reason = p.migration_compatible(src, dst)
    assert result is ok
    assert reason


def test_parse_version_refuses():
    with pytest.raises(XlParseError):
        p.parse_version('unknown')


# --------------------------------------------------------------------------- xl list

STATE_CASES = [
    # (flags, state, shutdown_reason) -- the six flags of xl(1) STATES.
    ('r-----', 'running', None),
    ('-b----', 'blocked', None),
    ('------', 'runnable', None),
    ('--p---', 'paused', None),
    ('-bp---', 'paused', None),
    ('---s--', 'shutdown', 'poweroff'),
    ('---sr-', 'shutdown', 'reboot'),
    ('---ss-', 'shutdown', 'suspend'),
    ('---sc-', 'crashed', 'crash'),
    ('---sw-', 'shutdown', 'watchdog'),
    ('---sS-', 'shutdown', 'soft_reset'),
    ('---s-d', 'dying', 'poweroff'),
    ('-----d', 'dying', None),
]


@pytest.mark.parametrize('flags, state, reason', STATE_CASES)
def test_decode_state(flags, state, reason):
    decoded = p.decode_state(flags)
    assert decoded['state'] == state
    assert decoded['shutdown_reason'] == reason
    assert decoded['state_flags'] == flags
    assert decoded['active'] is (state in ('running', 'blocked', 'runnable'))
    assert state in p.STATES


@pytest.mark.parametrize('flags', ['', 'r----', 'r------', None])
def test_decode_state_refuses(flags):
    with pytest.raises(XlParseError):
        p.decode_state(flags)


@pytest.mark.parametrize('version', VERSIONS)
def test_xl_list_capture(version):
    rows = p.parse_xl_list(stdout_of(version, 'xl_list'))
    dom0 = rows[0]
    assert dom0['name'] == 'Domain-0'
    assert dom0['domid'] == 0
    assert dom0['memory_mib'] > 0 and dom0['vcpus'] >= 1
    assert dom0['active']
    assert len({r['domid'] for r in rows}) == len(rows)


def test_xl_list_long_names_push_the_columns():
    # "%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f": a name longer than 40 characters shifts the rest.
    name = 'a-very-long-guest-name-that-is-longer-than-forty-chars'
    text = ('Name                                        ID   Mem VCPUs\tState\tTime(s)\n'
            '%-40s %5d %5lu %5d     %s  %8.1f\n' % (name, 12, 128, 1, '-b----', 3.5))
    rows = p.parse_xl_list(text)
    assert rows[0]['name'] == name
    assert rows[0]['domid'] == 12
    assert rows[0]['state'] == 'blocked'


@pytest.mark.parametrize('text', ['', 'Domain-0 0 1024 1 r----- 1.0\n',
                                  'Name ID Mem VCPUs State Time(s)\nDomain-0 zero 1024\n'])
def test_xl_list_refuses_garbage(text):
    with pytest.raises(XlParseError):
        p.parse_xl_list(text)


@pytest.mark.parametrize('version', VERSIONS)
def test_xl_list_long_capture(version):
    entries = p.parse_xl_list_long(stdout_of(version, 'xl_list_l'))
    assert entries
    for entry in entries:
        facts = p.domain_config_facts(entry)
        assert facts['name']
        assert isinstance(facts['disks'], list) and isinstance(facts['vifs'], list)


@pytest.mark.parametrize('version', VERSIONS)
def test_xl_list_long_guest_capture(version):
    entries = p.parse_xl_list_long(stdout_of(version, 'xl_list_l_guest'))
    guests = [p.domain_config_facts(e) for e in entries if e['domid'] != 0]
    if not guests:
        pytest.skip('LAB CAPTURE WITHOUT GUEST %s/xl_list_l_guest: the guest was not created (see create_pv.err)'
                    % version)
    guest = guests[0]
    assert guest['type'] in ('pv', 'pvh', 'hvm')
    assert guest['memory_mib'] >= 16
    assert guest['maxmem_mib'] >= guest['memory_mib']
    assert guest['vcpus'] >= 1
    assert guest['uuid']
    for vif in guest['vifs']:
        assert vif['mac'] is None or vif['mac'].count(':') == 5


@pytest.mark.parametrize('text', ['', 'not json', '{"a": 1}', '[1, 2]', '[{"domid": 0}]'])
def test_xl_list_long_refuses(text):
    with pytest.raises(XlParseError):
        p.parse_xl_list_long(text)


def test_domain_config_facts_of_an_empty_entry():
    facts = p.domain_config_facts({'domid': 3, 'config': {}})
    assert facts['domid'] == 3 and facts['disks'] == [] and facts['vifs'] == [] and facts['memory_mib'] is None


# --------------------------------------------------------------------------- uptime, sched, vcpu-list

@pytest.mark.parametrize('version', VERSIONS)
def test_xl_uptime_capture(version):
    uptimes = p.parse_xl_uptime(stdout_of(version, 'xl_uptime'))
    assert uptimes['Domain-0']['domid'] == 0
    assert uptimes['Domain-0']['uptime'] > 0


@pytest.mark.parametrize('uptime, seconds', [
    # uptime_to_string() in xl_info.c: "%2d:%02d:%02d", "1 day, %2d:%02d:%02d", "%d days, %2d:%02d:%02d".
    (' 0:00:07', 7),
    ('12:34:56', 12 * 3600 + 34 * 60 + 56),
    ('1 day,  2:03:04', 86400 + 2 * 3600 + 3 * 60 + 4),
    ('3 days, 23:59:59', 3 * 86400 + 23 * 3600 + 59 * 60 + 59),
])
def test_xl_uptime_formats(uptime, seconds):
    text = '%-33s %4s %s\n%-33s %4d %s\n' % ('Name', 'ID', 'Uptime', 'web1', 4, uptime)
    assert p.parse_xl_uptime(text) == {'web1': {'domid': 4, 'uptime': seconds}}


@pytest.mark.parametrize('version', VERSIONS)
def test_xl_sched_capture(version):
    rows = p.parse_sched(stdout_of(version, 'xl_sched_credit2'))
    assert rows and all(1 <= r['weight'] <= 65535 and r['cap'] >= 0 for r in rows)


@pytest.mark.parametrize('version', VERSIONS)
def test_xl_vcpu_list_capture(version):
    rows = p.parse_vcpu_list(stdout_of(version, 'xl_vcpu_list'))
    assert rows[0]['name'] == 'Domain-0' and rows[0]['vcpu'] == 0 and rows[0]['online']


def test_vcpu_list_offline_vcpu():
    # print_vcpuinfo() in xl_vcpu.c: an offline vCPU prints "-" as CPU and "--p" as state.
    text = ('%-32s %5s %5s %5s %5s %9s %s\n' % ('Name', 'ID', 'VCPU', 'CPU', 'State', 'Time(s)', 'Affinity (Hard / Soft)')
            + '%-32s %5u %5u' % ('web1', 3, 1) + '%5c %3c%cp ' % ('-', '-', '-') + '%9.1f  ' % 0.0 + 'all / all\n')
    rows = p.parse_vcpu_list(text)
    assert rows == [{'name': 'web1', 'domid': 3, 'vcpu': 1, 'cpu': None, 'online': False, 'running': False,
                     'blocked': False, 'cpu_time': 0.0, 'hard_affinity': 'all', 'soft_affinity': 'all'}]


@pytest.mark.parametrize('parser', [p.parse_xl_uptime, p.parse_vcpu_list])
def test_table_parsers_need_a_header(parser):
    with pytest.raises(XlParseError):
        parser('web1 3 0:00:01\n')


def test_sched_skips_pool_lines():
    # sched_domain_output() prints a "Cpupool <name>: ..." line before the rows of each pool.
    text = ('Cpupool Pool-0: ratelimit=1000us\n%-33s %4s %6s %4s\n%-33s %4d %6d %4d\n'
            % ('Name', 'ID', 'Weight', 'Cap', 'Domain-0', 0, 256, 0))
    assert p.parse_sched(text) == [{'name': 'Domain-0', 'domid': 0, 'weight': 256, 'cap': 0}]
