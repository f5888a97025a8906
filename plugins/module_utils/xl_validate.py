# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of everything that ends up on an ``xl`` command line or in an xl.cfg file.

Each function returns the normalised value or raises :class:`XlValidationError` with a
message that names the offending value and says what is allowed.  Nothing here runs a
command.
"""

from __future__ import annotations

import os
import re

from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlValidationError

# Letters, digits, '_', '.', '-'; starts with a letter, digit or '_'; at most 64 characters.
# xl resolves an all-digit argument as a domain *id* (libxl_domain_qualifier_to_domid), so an
# all-digit name could never be addressed by name: it is refused.  The name is also used as
# /etc/xen/<name>.cfg, hence no '/' and no leading '.'.
DOMAIN_NAME_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z')

_MEM_RE = re.compile(r'^\s*(\d+)\s*([kKmMgGtT]?)(?:[iI]?[bB])?\s*\Z')
_MEM_FACTOR_KIB = {'k': 1, 'm': 1024, 'g': 1024 ** 2, 't': 1024 ** 3}

# A cpulist as parse_cpurange() in xl_utils.c takes it: "all", or comma-separated items,
# each an optional '^' (exclude), an optional "node:"/"nodes:" prefix and N or N-M.
_CPU_ITEM = r'\^?(?:nodes?:)?\d+(?:-\d+)?'
CPULIST_RE = re.compile(r'^(?:all|%s(?:,%s)*)\Z' % (_CPU_ITEM, _CPU_ITEM))

_HOSTNAME_RE = re.compile(
    r'^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
    r'(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?\Z')
_IPV6_RE = re.compile(r'^\[?[0-9A-Fa-f:.]{2,45}\]?\Z')
_USER_RE = re.compile(r'^[a-z_][a-z0-9_.-]{0,31}\Z')
MAC_RE = re.compile(r'^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}\Z')


def domain_name(name, what='domain name'):
    """A domain name usable on xl's command line and as a file name."""
    if not isinstance(name, str):
        raise XlValidationError('%s must be a string, got %r' % (what, name))
    if not DOMAIN_NAME_RE.match(name):
        raise XlValidationError(
            '%s %r is not valid: use 1 to 64 letters, digits, "_", "." or "-", '
            'starting with a letter, digit or "_"' % (what, name))
    if name.isdigit():
        raise XlValidationError(
            '%s %r is not valid: an all-digit name would be taken by xl as a domain id' % (what, name))
    return name


def memory_kib(value, what='memory'):
    """A memory size in KiB.

    Accepts an int (MiB, like xl.cfg's ``memory``) or a string with an optional binary unit:
    ``512``, ``512m``, ``512M``, ``512MiB``, ``2g``, ``1t``, ``1048576k``.  No unit means MiB
    (this is what xl's parse_mem_size_kb() does, whatever xl(1) says).
    """
    if isinstance(value, bool):
        raise XlValidationError('%s must be a size, got %r' % (what, value))
    if isinstance(value, int):
        mib = value
        if mib <= 0:
            raise XlValidationError('%s must be positive, got %r' % (what, value))
        return mib * 1024
    if isinstance(value, str):
        m = _MEM_RE.match(value)
        if m:
            number, unit = int(m.group(1)), (m.group(2) or 'm').lower()
            kib = number * _MEM_FACTOR_KIB[unit]
            if kib <= 0:
                raise XlValidationError('%s must be positive, got %r' % (what, value))
            return kib
    raise XlValidationError(
        '%s %r is not a size: use a number of MiB or a number with a unit k, m, g or t '
        '(e.g. 512, "512m", "2g")' % (what, value))


def memory_mib(value, what='memory'):
    """A memory size in whole MiB (xl.cfg's ``memory``/``maxmem`` unit)."""
    kib = memory_kib(value, what)
    if kib % 1024:
        raise XlValidationError('%s %r is not a whole number of MiB' % (what, value))
    return kib // 1024


def memory_arg(kib):
    """The argument xl mem-set/mem-max take, always with an explicit unit."""
    if kib % 1024 == 0:
        return '%dm' % (kib // 1024)
    return '%dk' % kib


def abs_path(path, what='path'):
    """An absolute, normalised path without NUL or newline."""
    if not isinstance(path, str) or not path:
        raise XlValidationError('%s must be a non-empty string, got %r' % (what, path))
    if '\0' in path or '\n' in path or '\r' in path:
        raise XlValidationError('%s %r contains a NUL or newline character' % (what, path))
    if not path.startswith('/'):
        raise XlValidationError('%s %r must be an absolute path' % (what, path))
    if os.path.normpath(path) != path or path.startswith('//'):
        raise XlValidationError(
            '%s %r is not normalised (no "..", ".", "//" or trailing "/"): use %r'
            % (what, path, os.path.normpath(path)))
    if len(path) > 4096:
        raise XlValidationError('%s is longer than 4096 characters' % what)
    return path


def positive_int(value, what, minimum=1, maximum=None):
    """An int in [minimum, maximum]; bools and strings of digits are not ints."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise XlValidationError('%s must be an integer, got %r' % (what, value))
    if value < minimum or (maximum is not None and value > maximum):
        if maximum is None:
            raise XlValidationError('%s must be at least %d, got %d' % (what, minimum, value))
        raise XlValidationError('%s must be between %d and %d, got %d' % (what, minimum, maximum, value))
    return value


def vcpus(value, what='vcpus'):
    return positive_int(value, what, 1, 4096)


def sched_weight(value):
    """Credit/credit2 weight: 1..65535 (xl(1) sched-credit)."""
    return positive_int(value, 'scheduler weight', 1, 65535)


def sched_cap(value):
    """Credit/credit2 cap in percent of one pCPU; 0 means no cap."""
    return positive_int(value, 'scheduler cap', 0, 65535)


def cpulist(value, what='cpus', allow_keep=False):
    """A cpulist as ``xl vcpu-pin`` and xl.cfg's ``cpus`` take it (``all``, ``0-3,^2``, ``nodes:0``).

    ``allow_keep`` also accepts ``-`` (vcpu-pin: leave this affinity alone).
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str):
        raise XlValidationError('%s must be a cpulist string, got %r' % (what, value))
    if allow_keep and value == '-':
        return value
    compact = value.replace(' ', '')
    if not CPULIST_RE.match(compact):
        raise XlValidationError(
            '%s %r is not a cpulist: use "all" or items like "0", "2-5", "^3", "nodes:0" '
            'separated by commas' % (what, value))
    return compact


def vcpu_index(value):
    """A vCPU number for vcpu-pin, or ``all``."""
    if value == 'all':
        return value
    return str(positive_int(value, 'vcpu', 0, 4095))


def migration_host(host):
    """A migration target as xl migrate takes it: ``host``, ``user@host``, ``10.0.0.2``, ``[fe80::1]``.

    xl puts the host into a shell command line (``exec ssh HOST xl migrate-receive``), so only
    hostname/IP characters are accepted.
    """
    if not isinstance(host, str) or not host:
        raise XlValidationError('migration host must be a non-empty string, got %r' % (host,))
    user, sep, name = host.rpartition('@')
    if sep and not _USER_RE.match(user):
        raise XlValidationError('migration host %r has an invalid user part %r' % (host, user))
    if not (_HOSTNAME_RE.match(name) or (':' in name and _IPV6_RE.match(name))):
        raise XlValidationError(
            'migration host %r is not a host name or IP address (xl passes it to a shell, so '
            'only letters, digits, ".", "-" and ":" are allowed)' % (host,))
    return host


def mac_address(mac):
    """A unicast MAC written as six colon-separated hex pairs, returned in lower case."""
    if not isinstance(mac, str) or not MAC_RE.match(mac):
        raise XlValidationError('MAC address %r is not six colon-separated hex pairs' % (mac,))
    if int(mac[:2], 16) & 1:
        raise XlValidationError('MAC address %r is a multicast address' % (mac,))
    return mac.lower()
