# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""xl's error output -> typed exceptions.

Two tables: ``CAPTURED_EXPECTED`` replays the error output captured on the lab hosts (``err_*``);
``FROM_SOURCE`` holds single lines written from the printf formats of the Xen source (file and
function named on each row) for failures the lab cannot easily provoke (a lock held, ENOMEM
from the hypervisor).
"""

from __future__ import annotations

import pytest

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_errors as e
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import (
    VERSIONS,
    capture,
    fixtures_matching,
)

ARGV = ['/usr/sbin/xl', 'list', 'nosuch']

FROM_SOURCE = [
    # (id, stderr, class) -- the stderr is one line made from the named format string.
    ('wrapper-no-xen', "ERROR:  Can't find hypervisor information in sysfs!\n", e.XenNotAvailableError),  # debian wrapper
    ('xencall', 'xencall: error: Could not obtain handle on privileged command interface: '
     'No such file or directory\n', e.XenNotAvailableError),  # tools/libs/call/linux.c
    ('libxc-handle', 'libxl: error: libxl.c:102:libxl_ctx_alloc: cannot open libxc handle: '
     'No such file or directory\n', e.XenNotAvailableError),  # tools/libs/light/libxl.c
    ('ctx', 'cannot init xl context\n', e.XenNotAvailableError),  # tools/xl/xl.c xl_ctx_alloc()
    ('find-domain', 'nosuch is an invalid domain identifier (rc=-6)\n', e.XlDomainNotFoundError),  # xl_utils.c
    ('list-one', "Error: Domain 'nosuch' does not exist.\n", e.XlDomainNotFoundError),  # xl_info.c main_list
    ('vcpu-set', 'Domain 7 does not exist.\n', e.XlDomainNotFoundError),  # xl_vcpu.c vcpuset()
    ('domid', "Can't get domid of domain name 'nosuch', maybe this domain does not exist.\n",
     e.XlDomainNotFoundError),  # xl_info.c main_domid
    ('name-exists', 'libxl: error: libxl_domain.c:81:libxl__domain_rename: Domain 5:Domain with name "web1" '
     'already exists.\n', e.XlDomainExistsError),  # libxl_domain.c
    ('xl-lock', 'cannot acquire lock /var/lock/xl errno=11\n', e.XlLockError),  # xl_vmcontrol.c acquire_lock()
    ('userdata-lock', 'libxl: error: libxl_internal.c:765:libxl__lock_domain_userdata: Domain 3:'
     'Failed to grab lock for /var/lib/xen/userdata-l.3.uuid.libxl-json\n', e.XlLockError),  # libxl_internal.c
    ('freemem', 'Parsing config from /etc/xen/big.cfg\nfailed to free memory for the domain\n',
     e.XlOutOfMemoryError),  # xl_vmcontrol.c create_domain()
    ('xc-oom', 'xc: error: panic: xg_dom_boot.c:119: xc_dom_boot_mem_init: can\'t allocate low memory for '
     'domain: Out of memory\n', e.XlOutOfMemoryError),  # tools/libs/guest/xg_dom_boot.c
    ('cfg-syntax', 'Parsing config from /etc/xen/bad.cfg\n/etc/xen/bad.cfg:3: config parsing error near `-1\': '
     'lexical error\nFailed to parse config: Invalid argument\n', e.XlConfigError),  # libxlu_cfg.c
    ('cfg-read', 'Failed to read config file: /etc/xen/none.cfg: No such file or directory\n',
     e.XlConfigError),  # xl_vmcontrol.c
    ('cfg-type', 'Parsing config from /etc/xen/x.cfg\nInvalid domain type xen.\n', e.XlConfigError),  # xl_parse.c
    ('cfg-maxvcpus', 'xl: maxvcpus < vcpus\n', e.XlConfigError),  # xl_parse.c
    ('mem-size', 'invalid memory size: 12q\n', e.XlConfigError),  # xl_mem.c
    ('hotplug', 'libxl: error: libxl_device.c:1337:device_hotplug_child_death_cb: script: /etc/xen/scripts/block '
     'failed; error detected.\n', e.XlDeviceError),  # libxl_device.c
    ('hotplug-timeout', 'libxl: error: libxl_aoutils.c:539:async_exec_timeout: killing execution of '
     '/etc/xen/scripts/vif-bridge online because of timeout\nlibxl: error: libxl_create.c:1921:'
     'domcreate_attach_devices: Domain 2:unable to add vif devices\n', e.XlHotplugTimeoutError),  # seen in the lab
    ('generic', 'libxl: error: libxl_domain.c:1000:something: it broke\n', e.XlCommandError),
]


@pytest.mark.parametrize('stderr, cls', [c[1:] for c in FROM_SOURCE], ids=[c[0] for c in FROM_SOURCE])
def test_classify_from_source(stderr, cls):
    exc = e.classify_failure(ARGV, 1, '', stderr)
    assert exc.__class__ is cls
    assert exc.argv == ARGV
    assert exc.rc == 1
    assert exc.stderr == stderr
    assert "`/usr/sbin/xl list nosuch` exited 1" in exc.message


# Expected class of each captured failure (lab/tinyguest/capture-xl.sh), with the command that
# produced it.  Where what a capture holds depends on the state of the lab host when it was taken,
# CAPTURED_OVERRIDE says what that particular capture is.  A failed capture without a row fails
# test_classify_captured, so that a new capture gets looked at.
CAPTURED_EXPECTED = {
    'err_list_missing': (['xl', 'list', 'nosuch'], e.XlDomainNotFoundError),
    'err_destroy_missing': (['xl', 'destroy', 'nosuch'], e.XlDomainNotFoundError),
    'err_shutdown_missing': (['xl', 'shutdown', 'nosuch'], e.XlDomainNotFoundError),
    'err_memset_missing': (['xl', 'mem-set', 'nosuch', '64m'], e.XlDomainNotFoundError),
    'err_create_nofile': (['xl', 'create', '/etc/xen/nosuch.cfg'], e.XlConfigError),
    'err_create_syntax': (['xl', 'create', '/tmp/bad.cfg'], e.XlConfigError),
    'err_create_nomem': (['xl', 'create', '/tmp/big.cfg'], e.XlOutOfMemoryError),
    # A pvh guest of 32 MiB: its kernel does not fit in its own memory ("segment kernel too large ... Out of memory")
    'err_create_kernel_too_big': (['xl', 'create', '/tmp/small.cfg'], e.XlGuestTooSmallError),
    'err_create_duplicate': (['xl', 'create', '/etc/xen/capture-pv.cfg'], e.XlDomainExistsError),
    # A vif on bridge xenbr0 before the dom0 role made xenbr0 (vif-bridge: "Could not find bridge device").
    'err_create_nobridge': (['xl', 'create', '/etc/xen/capture-pv.cfg'], e.XlDeviceError),
}
CAPTURED_OVERRIDE = {
    # (version, name): class, for a capture whose content depends on the state of the lab host.
}
# Captures of commands on the guest, which fail with "not found" when the guest does not exist.
GUEST_COMMANDS = {
    'create_pv': ['xl', 'create', '/etc/xen/capture-pv.cfg'],
    'xl_list_l_one': ['xl', 'list', '-l', 'capture-pv'],
    'xl_vcpu_list_guest': ['xl', 'vcpu-list', 'capture-pv'],
    'xl_memset': ['xl', 'mem-set', 'capture-pv', '96m'],
    'xl_list_after_memset': ['xl', 'list', 'capture-pv'],
    'xl_pause': ['xl', 'pause', 'capture-pv'],
    'xl_list_paused': ['xl', 'list', 'capture-pv'],
    'xl_unpause': ['xl', 'unpause', 'capture-pv'],
    'xl_sched_credit2_guest': ['xl', 'sched-credit2', '-d', 'capture-pv'],
    'xl_shutdown_wait': ['xl', 'shutdown', '-w', 'capture-pv'],
}


def _failed_captures():
    found = []
    for version, name in fixtures_matching(''):
        if name in CAPTURED_EXPECTED or name in GUEST_COMMANDS:
            if capture(version, name)[0] != 0:
                found.append((version, name))
    return found


@pytest.mark.parametrize('version, name', _failed_captures())
def test_classify_captured(version, name):
    rc, out, err = capture(version, name)
    if (version, name) in CAPTURED_OVERRIDE:
        cls = CAPTURED_OVERRIDE[(version, name)]
        argv = (CAPTURED_EXPECTED.get(name) or (GUEST_COMMANDS[name], None))[0]
    elif name in CAPTURED_EXPECTED:
        argv, cls = CAPTURED_EXPECTED[name]
    else:
        argv, cls = GUEST_COMMANDS[name], e.XlDomainNotFoundError
    exc = e.classify_failure(argv, rc, out, err)
    assert exc.__class__ is cls, exc.message
    assert exc.stderr == err and exc.rc == rc


@pytest.mark.parametrize('version', VERSIONS)
@pytest.mark.parametrize('name', sorted(CAPTURED_EXPECTED))
def test_every_expected_error_was_captured(version, name):
    """Each row above has its capture on both Xen versions (a missing one is skipped loudly)."""
    rc = capture(version, name)[0]
    assert rc != 0


def test_timeout_wins():
    exc = e.classify_failure(['timeout', '-k', '10', '5', '/usr/sbin/xl', 'shutdown', '-w', 'web1'], 124, '', '',
                             timed_out=True)
    assert isinstance(exc, e.XlTimeoutError)


@pytest.mark.parametrize('argv, sub', [
    (['/usr/sbin/xl', 'list', '-l'], 'list'),
    (['timeout', '-k', '10', '30', '/usr/lib/xen-4.17/bin/xl', 'migrate', 'web1', 'xen2'], 'migrate'),
    (['/usr/sbin/xl', '-v', 'info'], 'info'),
    (['/bin/true'], None),
    (None, None),
])
def test_xl_subcommand(argv, sub):
    assert e.xl_subcommand(argv) == sub


MIGRATE = ['/usr/sbin/xl', 'migrate', 'web1', 'xen2']


@pytest.mark.parametrize('stderr, resumed, cause', [
    # xl_migrate.c migrate_domain(): failure after the target acknowledged, resume worked.
    ('migration sender: Target has acknowledged transfer.\nmigration sender: Giving target permission to start.\n'
     'migration sender: Target reports startup failure (rc=-3).\nmigration sender: Trying to resume at our end.\n'
     'migration sender: Resumed OK.\nMigration failed due to problems at target.\n', True, None),
    # the stream failed while sending: "Migration failed, resuming at sender."
    ('migration sender: libxl_domain_suspend failed (rc=-3)\nMigration failed, resuming at sender.\n', True, None),
    # failed before any data: ssh refused, the domain never left.
    ('ssh: connect to host xen2 port 22: Connection refused\n', True, None),
    # target said its copy started but the resume at our end failed.
    ('migration sender: Target has acknowledged transfer.\nmigration sender: Trying to resume at our end.\n'
     'Migration failed due to problems at target.\n', False, None),
    # a precise cause is kept
    ('libxl: error: libxl_domain.c:81:libxl__domain_rename: Domain 5:Domain with name "web1" already exists.\n'
     'Migration failed, resuming at sender.\n', True, 'XlDomainExistsError'),
])
def test_migration_failures(stderr, resumed, cause):
    exc = e.classify_failure(MIGRATE, 1, '', stderr)
    assert isinstance(exc, e.XlMigrationError)
    assert exc.resumed_at_source is resumed
    assert exc.cause == cause


def test_message_drops_chatter_and_keeps_the_error():
    stderr = 'Parsing config from /etc/xen/big.cfg\nfailed to free memory for the domain\n'
    exc = e.classify_failure(['/usr/sbin/xl', 'create', '/etc/xen/big.cfg'], 3, '', stderr)
    assert exc.message == ('not enough free memory on the host (`/usr/sbin/xl create /etc/xen/big.cfg` exited 3): '
                           'failed to free memory for the domain')


def test_to_dict_for_fail_json():
    exc = e.classify_failure(ARGV, 1, 'out', 'nosuch is an invalid domain identifier (rc=-6)\n')
    assert exc.to_dict() == {'error': 'XlDomainNotFoundError', 'cmd': ARGV, 'rc': 1, 'stdout': 'out',
                             'stderr': 'nosuch is an invalid domain identifier (rc=-6)\n'}


def test_cmd_is_quoted_for_display():
    exc = e.XlCommandError(argv=['/usr/sbin/xl', 'migrate', '-s', 'ssh -p 2222', 'web1', 'xen2'], rc=1)
    assert exc.cmd == "/usr/sbin/xl migrate -s 'ssh -p 2222' web1 xen2"


def test_cfg_syntax_error_message():
    err = e.XlCfgSyntaxError('unterminated string', 3, '/etc/xen/web1.cfg', '"abc')
    assert str(err) == '/etc/xen/web1.cfg:3: unterminated string (near `"abc`)'
    assert isinstance(err, ValueError)


def test_validation_error_is_a_value_error():
    assert isinstance(e.XlValidationError('x'), ValueError)
    assert isinstance(e.XlValidationError('x'), e.XlError)
