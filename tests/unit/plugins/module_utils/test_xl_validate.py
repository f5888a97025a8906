# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of names, sizes, paths, cpulists, hosts and MACs."""

from __future__ import annotations

import pytest

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_validate as v
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlValidationError


@pytest.mark.parametrize('name', ['web1', 'Domain-0', 'a', 'db_2.lab', '_x', '9lives', 'a' * 64, 'web1--incoming'])
def test_domain_name_ok(name):
    assert v.domain_name(name) == name


@pytest.mark.parametrize('name', ['', '0', '123', '-x', '.hidden', 'a/b', 'a b', 'a' * 65, 'é', 'a$', 'a\n', 5])
def test_domain_name_refused(name):
    with pytest.raises(XlValidationError):
        v.domain_name(name)


MEMORY = [
    (512, 512 * 1024),
    ('512', 512 * 1024),
    ('512m', 512 * 1024),
    ('512M', 512 * 1024),
    ('512MB', 512 * 1024),
    ('512MiB', 512 * 1024),
    ('2g', 2 * 1024 * 1024),
    ('2GiB', 2 * 1024 * 1024),
    ('1t', 1024 ** 3),
    ('1048576k', 1048576),
    ('100K', 100),
    (' 64 m ', 64 * 1024),
]


@pytest.mark.parametrize('value, kib', MEMORY)
def test_memory_kib(value, kib):
    assert v.memory_kib(value) == kib


@pytest.mark.parametrize('value', [0, -1, '0m', '', 'm', '1.5g', '1e3', '12 parsecs', True, None, 2.0, '-5m'])
def test_memory_refused(value):
    with pytest.raises(XlValidationError):
        v.memory_kib(value)


@pytest.mark.parametrize('kib, arg', [(1024, '1m'), (524288, '512m'), (1025, '1025k'), (100, '100k')])
def test_memory_arg(kib, arg):
    assert v.memory_arg(kib) == arg


def test_memory_mib_whole():
    assert v.memory_mib('1g') == 1024
    with pytest.raises(XlValidationError, match='whole number of MiB'):
        v.memory_mib('1025k')


@pytest.mark.parametrize('path', ['/etc/xen/web1.cfg', '/srv/save/web 1.chk', '/'])
def test_abs_path_ok(path):
    assert v.abs_path(path) == path


@pytest.mark.parametrize('path', ['', 'rel/x', './x', '/a/../b', '/a/./b', '/a//b', '//a', '/a/', '/a\0b', None, 3])
def test_abs_path_refused(path):
    with pytest.raises(XlValidationError):
        v.abs_path(path)


@pytest.mark.parametrize('value, expected', [
    ('all', 'all'), ('0', '0'), (3, '3'), ('0-3', '0-3'), ('0-3,^2', '0-3,^2'), ('nodes:0', 'nodes:0'),
    ('node:1,4-5', 'node:1,4-5'), ('1, 2', '1,2'),
])
def test_cpulist_ok(value, expected):
    assert v.cpulist(value) == expected


@pytest.mark.parametrize('value', ['', 'none', '0-', '-', 'a', '1;2', '0-3 && ls', -1, None, True])
def test_cpulist_refused(value):
    with pytest.raises(XlValidationError):
        v.cpulist(value)


def test_cpulist_keep_only_when_allowed():
    assert v.cpulist('-', allow_keep=True) == '-'


@pytest.mark.parametrize('host', ['xen2', 'xen2.lab.example', 'root@xen2', '10.0.0.2', 'fd00::2', '[fd00::2]',
                                  'migrate@10.0.0.2'])
def test_migration_host_ok(host):
    assert v.migration_host(host) == host


@pytest.mark.parametrize('host', ['', 'xen2;ls', 'xen2 xen3', '$(id)', '`id`', 'a@b@c', '-oProxyCommand=x',
                                  'xen2|cat', "xen2'", None])
def test_migration_host_refused(host):
    with pytest.raises(XlValidationError):
        v.migration_host(host)


@pytest.mark.parametrize('mac, expected', [('00:16:3E:AA:bb:01', '00:16:3e:aa:bb:01'), ('02:00:00:00:00:01', '02:00:00:00:00:01')])
def test_mac_ok(mac, expected):
    assert v.mac_address(mac) == expected


@pytest.mark.parametrize('mac', ['00:16:3e:aa:bb', '00-16-3e-aa-bb-cc', '01:00:5e:00:00:01', 'zz:16:3e:aa:bb:cc', None])
def test_mac_refused(mac):
    with pytest.raises(XlValidationError):
        v.mac_address(mac)


@pytest.mark.parametrize('value', [True, '1', 1.0, None])
def test_positive_int_refuses_non_ints(value):
    with pytest.raises(XlValidationError, match='integer'):
        v.positive_int(value, 'x')
