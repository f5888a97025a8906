# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers of what ``xl`` prints, as Xen 4.17 (Debian 12) and 4.20 (Debian 13) print it.

The formats were read from Xen's ``tools/xl/xl_info.c``, ``xl_sched.c``, ``xl_vcpu.c`` and
``tools/libs/light/libxl_types.idl`` (the JSON of ``xl list -l``) of both releases; the
unit tests replay output captured on the lab's Xen hosts.  Every function is pure.
"""

from __future__ import annotations

import json
import re

from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlParseError

# --------------------------------------------------------------------------- xl info

# A key line of `xl info`: the key is padded with spaces to a colon ("xen_major      : 4").
# Lines that do not look like that continue the previous value (the tables of `xl info -n`,
# or a value that wraps).  "virt_caps" is printed with no space after the colon.
_INFO_KEY_RE = re.compile(r'^([A-Za-z_][A-Za-z0-9_ ]*?)\s+:(?: ?(.*))?$')

_INT_KEYS = (
    'xen_major', 'xen_minor', 'xen_pagesize', 'nr_cpus', 'max_cpu_id', 'nr_nodes',
    'cores_per_socket', 'threads_per_core', 'total_memory', 'free_memory',
    'sharing_freed_memory', 'sharing_used_memory', 'outstanding_claims', 'free_cpus',
    'xend_config_format',
)


def parse_xl_info(text):
    """``xl info`` as an ordered dict of key -> value (str); continuation lines are kept."""
    if not text or not text.strip():
        raise XlParseError('xl info printed nothing', stdout=text)
    result = {}
    key = None
    for line in text.splitlines():
        m = _INFO_KEY_RE.match(line)
        if m:
            key = m.group(1).strip()
            result[key] = (m.group(2) or '').strip()
        elif key is not None:
            if line.strip():
                result[key] = (result[key] + '\n' + line.rstrip()).strip('\n')
        elif line.strip():
            raise XlParseError('xl info: unexpected first line %r' % line, stdout=text)
    if 'xen_major' not in result or 'xen_minor' not in result:
        raise XlParseError('xl info: no xen_major/xen_minor in the output', stdout=text)
    return result


def _to_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_size_kib(text, default_unit='k'):
    """A Xen command-line size (``1024M``, ``4G``, ``512k``, ``123``) in KiB, or None.

    Xen's parse_size_and_unit() takes B, K, M, G, T (any case) and defaults to KiB.
    """
    m = re.match(r'^(\d+)([bBkKmMgGtT]?)$', text or '')
    if not m:
        return None
    number, unit = int(m.group(1)), (m.group(2) or default_unit).lower()
    if unit == 'b':
        return number // 1024
    return number * {'k': 1, 'm': 1024, 'g': 1024 ** 2, 't': 1024 ** 3}[unit]


def parse_cmdline(cmdline):
    """Xen's command line as a dict: ``key=value`` -> str, bare words -> True (last one wins)."""
    result = {}
    for word in (cmdline or '').split():
        key, sep, value = word.partition('=')
        result[key] = value if sep else True
    return result


def parse_dom0_mem(value):
    """``dom0_mem=[min:S,][max:S,][S]`` -> dict(target_mib, min_mib, max_mib), None where absent."""
    out = {'target_mib': None, 'min_mib': None, 'max_mib': None}
    if not isinstance(value, str):
        return out
    for item in value.split(','):
        which, sep, size = item.partition(':')
        if not sep:
            which, size = 'target', item
        kib = parse_size_kib(size)
        if which in ('target', 'min', 'max') and kib is not None:
            out[which + '_mib'] = kib // 1024
    return out


def xen_facts(raw):
    """Typed facts from a parsed ``xl info`` (``raw`` is what parse_xl_info returned)."""
    facts = {}
    for key in _INT_KEYS:
        if key in raw:
            facts[key] = _to_int(raw[key])
    virt_caps = raw.get('virt_caps', '').split()
    cmdline = raw.get('xen_commandline', '')
    options = parse_cmdline(cmdline)
    dom0_mem = options.get('dom0_mem')
    facts.update({
        'host': raw.get('host'),
        'release': raw.get('release'),
        'machine': raw.get('machine'),
        'xen_version': raw.get('xen_version'),
        'xen_extra': raw.get('xen_extra'),
        'xen_caps': raw.get('xen_caps', '').split(),
        'xen_scheduler': raw.get('xen_scheduler'),
        'xen_commandline': cmdline,
        'xen_changeset': raw.get('xen_changeset'),
        'cc_compiler': raw.get('cc_compiler'),
        'cpu_mhz': raw.get('cpu_mhz'),
        'hw_caps': raw.get('hw_caps'),
        'virt_caps': virt_caps,
        'capabilities': {
            'pv': 'pv' in virt_caps,
            'hvm': 'hvm' in virt_caps,
            # PVH runs in an HVM container: it needs HVM support and paging (HAP or shadow).
            'pvh': 'hvm' in virt_caps and ('hap' in virt_caps or 'shadow' in virt_caps),
            'hap': 'hap' in virt_caps,
            'shadow': 'shadow' in virt_caps,
            'iommu': 'hvm_directio' in virt_caps or 'pv_directio' in virt_caps,
        },
        'dom0_mem': dom0_mem if isinstance(dom0_mem, str) else None,
        'dom0_max_vcpus': options.get('dom0_max_vcpus') if isinstance(options.get('dom0_max_vcpus'), str) else None,
    })
    facts['dom0_mem_parsed'] = parse_dom0_mem(facts['dom0_mem'])
    return facts


def parse_version(text):
    """``4.17.5`` / ``4.20.1-pre`` / ``4.17`` -> (major, minor)."""
    m = re.match(r'^\s*(\d+)\.(\d+)', text or '')
    if not m:
        raise XlParseError('not a Xen version: %r' % (text,))
    return int(m.group(1)), int(m.group(2))


def migration_compatible(source_version, target_version):
    """Ganeti's rule for live migration: same major, target minor equal or one higher.

    Returns (ok, reason).  Versions are strings such as ``4.17.5`` or (major, minor) tuples.
    """
    src = parse_version(source_version) if isinstance(source_version, str) else tuple(source_version)
    dst = parse_version(target_version) if isinstance(target_version, str) else tuple(target_version)
    if src[0] != dst[0]:
        return False, 'Xen major versions differ (source %d.%d, target %d.%d)' % (src + dst)
    if dst[1] == src[1]:
        return True, 'same Xen version %d.%d' % src
    if dst[1] == src[1] + 1:
        return True, 'target Xen %d.%d is one minor release newer than source %d.%d' % (dst + src)
    if dst[1] < src[1]:
        return False, 'target Xen %d.%d is older than source %d.%d' % (dst + src)
    return False, 'target Xen %d.%d is more than one minor release newer than source %d.%d' % (dst + src)


# --------------------------------------------------------------------------- xl list

# "%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f" (xl_info.c, list_domains()).
_LIST_ROW_RE = re.compile(
    r'^(?P<name>.+?)\s+(?P<domid>\d+)\s+(?P<mem>\d+)\s+(?P<vcpus>\d+)\s+'
    r'(?P<flags>[-r][-b][-p][-s][-rscwS?][-d])\s+(?P<time>\d+(?:\.\d+)?)\s*$')

# xl_info.c: shutdown_reason_letters[] = "-rscwS", indexed by libxl_shutdown_reason.
SHUTDOWN_REASONS = {
    '-': 'poweroff', 'r': 'reboot', 's': 'suspend', 'c': 'crash', 'w': 'watchdog',
    'S': 'soft_reset', '?': 'unknown',
}

#: Every value decode_state() can give as ``state``.
STATES = ('running', 'blocked', 'runnable', 'paused', 'shutdown', 'crashed', 'dying')


def decode_state(flags):
    """Decode the 6-character State column of ``xl list`` (``r-----``, ``-b----``, ``---sc-``).

    ``state`` is the one word that matters most: dying > crashed > shutdown > paused >
    running > blocked > runnable (no flag set: the domain waits for a pCPU).
    """
    if not isinstance(flags, str) or len(flags) != 6:
        raise XlParseError('xl list: bad state flags %r' % (flags,))
    running, blocked, paused, shutdown, reason, dying = (
        flags[0] == 'r', flags[1] == 'b', flags[2] == 'p', flags[3] == 's', flags[4], flags[5] == 'd')
    shutdown_reason = SHUTDOWN_REASONS.get(reason) if shutdown else None
    if dying:
        state = 'dying'
    elif shutdown and shutdown_reason == 'crash':
        state = 'crashed'
    elif shutdown:
        state = 'shutdown'
    elif paused:
        state = 'paused'
    elif running:
        state = 'running'
    elif blocked:
        state = 'blocked'
    else:
        state = 'runnable'
    return {
        'state': state,
        'state_flags': flags,
        'active': state in ('running', 'blocked', 'runnable'),
        'running': running,
        'blocked': blocked,
        'paused': paused,
        'shutdown': shutdown,
        'shutdown_reason': shutdown_reason,
        'dying': dying,
    }


def parse_xl_list(text):
    """``xl list`` (table) -> list of dicts: name, domid, memory_mib, vcpus, cpu_time and the state."""
    rows = []
    lines = [line for line in (text or '').splitlines() if line.strip()]
    if not lines or not lines[0].startswith('Name'):
        raise XlParseError('xl list: the header line is missing', stdout=text)
    for line in lines[1:]:
        m = _LIST_ROW_RE.match(line)
        if not m:
            raise XlParseError('xl list: cannot parse the line %r' % line, stdout=text)
        row = {
            'name': m.group('name').strip(),
            'domid': int(m.group('domid')),
            'memory_mib': int(m.group('mem')),
            'vcpus': int(m.group('vcpus')),
            'cpu_time': float(m.group('time')),
        }
        row.update(decode_state(m.group('flags')))
        rows.append(row)
    return rows


def parse_xl_list_long(text):
    """``xl list -l`` (JSON) -> list of {'domid': int, 'config': dict}."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise XlParseError('xl list -l did not print JSON (%s); is output_format="sxp" set '
                           'in /etc/xen/xl.conf?' % exc, stdout=text)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(d, dict) and 'config' in d for d in data):
        raise XlParseError('xl list -l: expected a list of {"domid", "config"} objects', stdout=text)
    return data


def _mib(kib):
    return None if kib is None else int(kib) // 1024


def _disk_summary(disk):
    devtype = 'cdrom' if disk.get('is_cdrom') else 'disk'
    return {
        'target': disk.get('pdev_path'),
        'vdev': disk.get('vdev'),
        'format': disk.get('format'),
        'access': 'rw' if disk.get('readwrite') else 'ro',
        'devtype': devtype,
        'backend': disk.get('backend'),
        'backend_domain': disk.get('backend_domname'),
        'script': disk.get('script'),
    }


def _nic_summary(nic):
    return {
        'devid': nic.get('devid'),
        'mac': nic.get('mac'),
        'bridge': nic.get('bridge'),
        'ip': nic.get('ip'),
        'script': nic.get('script'),
        'vifname': nic.get('ifname'),
        'model': nic.get('model'),
        'type': nic.get('nictype'),
        'backend_domain': nic.get('backend_domname'),
        'mtu': nic.get('mtu'),
    }


def domain_config_facts(entry):
    """Facts from one element of ``xl list -l``: type, memory, vcpus, kernel, disks, vifs, actions."""
    config = entry.get('config') or {}
    c_info = config.get('c_info') or {}
    b_info = config.get('b_info') or {}
    pv = b_info.get('type.pv') or {}
    sched = b_info.get('sched_params') or {}
    avail = b_info.get('avail_vcpus')
    max_vcpus = b_info.get('max_vcpus')
    return {
        'domid': entry.get('domid'),
        'name': c_info.get('name'),
        'uuid': c_info.get('uuid'),
        'type': c_info.get('type'),
        'memory_mib': _mib(b_info.get('target_memkb')),
        'maxmem_mib': _mib(b_info.get('max_memkb')),
        'vcpus': len(avail) if isinstance(avail, list) else max_vcpus,
        'maxvcpus': max_vcpus,
        'kernel': b_info.get('kernel') or pv.get('kernel'),
        'ramdisk': b_info.get('ramdisk') or pv.get('ramdisk'),
        'cmdline': b_info.get('cmdline') or pv.get('cmdline'),
        'bootloader': b_info.get('bootloader') or pv.get('bootloader'),
        'scheduler': {
            'sched': sched.get('sched'),
            'weight': sched.get('weight'),
            'cap': sched.get('cap'),
        },
        'vcpu_hard_affinity': b_info.get('vcpu_hard_affinity'),
        'disks': [_disk_summary(d) for d in config.get('disks') or []],
        'vifs': [_nic_summary(n) for n in config.get('nics') or []],
        # libxl leaves out of the JSON every field at its default; the default action is "destroy"
        # (init_val of libxl_action_on_shutdown in libxl_types.idl).
        'on_poweroff': config.get('on_poweroff', 'destroy'),
        'on_reboot': config.get('on_reboot', 'destroy'),
        'on_watchdog': config.get('on_watchdog', 'destroy'),
        'on_crash': config.get('on_crash', 'destroy'),
    }


# --------------------------------------------------------------------------- xl uptime

# "%-33s %4d %s" with "D days, HH:MM:SS", "1 day, HH:MM:SS" or "HH:MM:SS" (hour is %2d).
_UPTIME_ROW_RE = re.compile(
    r'^(?P<name>.+?)\s+(?P<domid>\d+)\s+(?:(?P<days>\d+) days?,\s+)?'
    r'(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d)\s*$')


def parse_xl_uptime(text):
    """``xl uptime`` -> {name: {'domid': int, 'uptime': seconds}}."""
    lines = [line for line in (text or '').splitlines() if line.strip()]
    if not lines or not lines[0].startswith('Name'):
        raise XlParseError('xl uptime: the header line is missing', stdout=text)
    result = {}
    for line in lines[1:]:
        m = _UPTIME_ROW_RE.match(line)
        if not m:
            raise XlParseError('xl uptime: cannot parse the line %r' % line, stdout=text)
        seconds = (int(m.group('days') or 0) * 86400 + int(m.group('h')) * 3600
                   + int(m.group('m')) * 60 + int(m.group('s')))
        result[m.group('name').strip()] = {'domid': int(m.group('domid')), 'uptime': seconds}
    return result


# --------------------------------------------------------------------------- sched-credit(2)

_SCHED_ROW_RE = re.compile(r'^(?P<name>.+?)\s+(?P<domid>\d+)\s+(?P<weight>\d+)\s+(?P<cap>\d+)\s*$')


def parse_sched(text):
    """``xl sched-credit[2] -d NAME`` -> list of {'name', 'domid', 'weight', 'cap'}.

    Pool lines ("Cpupool Pool-0: ...") printed when listing every domain are skipped.
    """
    rows = []
    for line in (text or '').splitlines():
        if not line.strip() or line.startswith('Name') or line.startswith('Cpupool'):
            continue
        m = _SCHED_ROW_RE.match(line)
        if not m:
            raise XlParseError('xl sched: cannot parse the line %r' % line, stdout=text)
        rows.append({'name': m.group('name').strip(), 'domid': int(m.group('domid')),
                     'weight': int(m.group('weight')), 'cap': int(m.group('cap'))})
    return rows


# --------------------------------------------------------------------------- vcpu-list

# "%-32s %5u %5u" then "%5u %3c%c- " (online) or "%5c %3c%cp " (offline), "%9.1f  ",
# then the hard and soft affinity bitmaps separated by " / ".
_VCPU_ROW_RE = re.compile(
    r'^(?P<name>.+?)\s+(?P<domid>\d+)\s+(?P<vcpu>\d+)\s+(?P<cpu>\d+|-)\s+'
    r'(?P<state>[-r][-b][-p])\s+(?P<time>\d+(?:\.\d+)?)\s+(?P<hard>\S+) / (?P<soft>\S+)\s*$')


def parse_vcpu_list(text):
    """``xl vcpu-list [NAME]`` -> list of dicts (one per vCPU)."""
    rows = []
    lines = [line for line in (text or '').splitlines() if line.strip()]
    if not lines or not lines[0].startswith('Name'):
        raise XlParseError('xl vcpu-list: the header line is missing', stdout=text)
    for line in lines[1:]:
        m = _VCPU_ROW_RE.match(line)
        if not m:
            raise XlParseError('xl vcpu-list: cannot parse the line %r' % line, stdout=text)
        state = m.group('state')
        rows.append({
            'name': m.group('name').strip(),
            'domid': int(m.group('domid')),
            'vcpu': int(m.group('vcpu')),
            'cpu': None if m.group('cpu') == '-' else int(m.group('cpu')),
            'online': state[2] != 'p',
            'running': state[0] == 'r',
            'blocked': state[1] == 'b',
            'cpu_time': float(m.group('time')),
            'hard_affinity': m.group('hard'),
            'soft_affinity': m.group('soft'),
        })
    return rows
