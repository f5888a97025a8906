# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed errors of the ``xl`` client and the table that maps xl's stderr onto them.

Every error raised by the client is an :class:`XlError`.  Errors raised after ``xl``
ran carry the exact argument vector (``argv``), the exit code (``rc``) and what xl wrote
(``stdout``/``stderr``), so a module can hand them to ``fail_json`` unchanged.

The stderr patterns below come from reading the Xen source of 4.17 and 4.20
(``tools/xl/*.c``, ``tools/libs/light/*.c``, ``tools/libs/util/libxlu_cfg.c``) and
Debian's ``xen-utils-common`` wrapper.  :func:`classify_failure` is a pure function
so that the mapping is tested case by case against captured error output.
"""

from __future__ import annotations

import re
import shlex


def _join(argv):
    if not argv:
        return ''
    return ' '.join(shlex.quote(str(a)) for a in argv)


def stderr_excerpt(text, max_lines=12):
    """The lines of xl's error output that say something, newest last.

    xl prints progress and chatter ("Parsing config from ...", "Shutting down domain 3")
    next to the real error; the chatter is dropped so the message stays readable.
    """
    if not text:
        return ''
    noise = (
        re.compile(r'^Parsing config from '),
        re.compile(r'^Shutting down domain \d+$'),
        re.compile(r'^Rebooting domain \d+$'),
        re.compile(r'^Waiting for \d+ domains$'),
    )
    lines = []
    for line in text.splitlines():
        line = line.rstrip()
        if not line or any(p.search(line) for p in noise):
            continue
        lines.append(line)
    return '\n'.join(lines[-max_lines:])


class XlError(Exception):
    """Base class of every error of the xl client."""

    #: A short human summary of the class of failure, used to build the message.
    summary = 'xl failed'

    def __init__(self, message=None, argv=None, rc=None, stdout='', stderr='', **details):
        self.argv = list(argv) if argv is not None else None
        self.rc = rc
        self.stdout = stdout or ''
        self.stderr = stderr or ''
        self.details = details
        self.message = message or self._build_message()
        super(XlError, self).__init__(self.message)

    def _build_message(self):
        parts = [self.summary]
        if self.argv is not None:
            parts.append('(`%s` exited %s)' % (_join(self.argv), self.rc))
        msg = ' '.join(parts)
        excerpt = stderr_excerpt(self.stderr)
        if excerpt:
            msg += ': ' + excerpt
        return msg

    @property
    def cmd(self):
        """The command as one display string (never executed through a shell)."""
        return _join(self.argv)

    def to_dict(self):
        """What a module passes to ``fail_json`` next to ``msg``."""
        return {
            'error': type(self).__name__,
            'cmd': self.argv,
            'rc': self.rc,
            'stdout': self.stdout,
            'stderr': self.stderr,
        }


class XlValidationError(XlError, ValueError):
    """An argument was refused before anything ran."""

    summary = 'invalid argument'


class XlCommandError(XlError):
    """xl ran and failed, and its error output matched no more precise class."""

    summary = 'xl command failed'


class XenNotAvailableError(XlCommandError):
    """No ``xl`` binary, or the host is not running the Xen hypervisor (or we are not dom0)."""

    summary = 'Xen is not available on this host (no xl, or not booted into Xen, or not root in dom0)'


class XlDomainNotFoundError(XlCommandError):
    """The named domain does not exist."""

    summary = 'domain not found'


class XlDomainExistsError(XlCommandError):
    """A domain of that name already exists."""

    summary = 'a domain of that name already exists'


class XlOutOfMemoryError(XlCommandError):
    """Xen could not find the memory the domain needs."""

    summary = 'not enough free memory on the host'


class XlConfigError(XlCommandError):
    """xl refused a domain configuration (syntax or value)."""

    summary = 'the domain configuration was refused'


class XlGuestTooSmallError(XlConfigError):
    """The domain's own memory cannot hold its kernel and ramdisk (the guest is too small, not the host).

    libxc's xc_dom_chk_alloc_pages() says "segment kernel too large (... pages): Out of memory", which
    reads like the host; raising the domain's memory is the fix.
    """

    summary = ("the domain's memory is too small to load its kernel and ramdisk (raise the domain's memory; "
               "the host is not short of memory)")


class XlDeviceError(XlCommandError):
    """A virtual device could not be attached: a hotplug script failed (e.g. the bridge is missing)."""

    summary = 'a virtual device could not be attached (hotplug script failed)'


class XlHotplugTimeoutError(XlDeviceError):
    """A hotplug script (vif-bridge, block) ran past libxl's fixed deadline and was killed.

    Nothing is wrong with the device itself: Domain-0 was too busy (seen in the lab under QEMU/TCG with two
    guests created at once on one Domain-0).  libxl tears the half-built domain down; creating it again can work.
    """

    summary = 'a hotplug script timed out (Domain-0 too busy); the device itself may be fine'


class XlLockError(XlCommandError):
    """Another xl holds a lock (``/var/lock/xl`` or a domain's userdata lock)."""

    summary = 'an xl lock is held by another process'


class XlTimeoutError(XlCommandError):
    """xl did not finish, or a domain did not reach a state, within the time allowed."""

    summary = 'timed out'


class XlMigrationError(XlCommandError):
    """``xl migrate`` failed.  ``resumed_at_source`` says whether xl resumed the guest."""

    summary = 'migration failed'

    @property
    def cause(self):
        """Name of the more precise error class xl's output matched (or None)."""
        return self.details.get('cause')

    @property
    def resumed_at_source(self):
        """True when xl reported that the guest was resumed (or never left) on the source."""
        text = self.stderr
        if re.search(r'migration sender: Resumed OK\.', text):
            return True
        if re.search(r'Migration failed, failed to suspend at sender\.', text):
            return True
        # Failures before the stream started leave the guest untouched.
        if not re.search(r'migration sender: Target has acknowledged transfer\.', text) and \
                not re.search(r'migration sender: Trying to resume', text):
            return True
        return False


class XlParseError(XlError):
    """xl's output could not be understood."""

    summary = 'could not parse the output of xl'


class XlCfgSyntaxError(XlError, ValueError):
    """An xl.cfg file is malformed.  ``lineno`` is 1-based."""

    summary = 'xl.cfg syntax error'

    def __init__(self, reason, lineno=None, source='<string>', near=None):
        self.reason = reason
        self.lineno = lineno
        self.source = source
        self.near = near
        where = source if lineno is None else '%s:%d' % (source, lineno)
        msg = '%s: %s' % (where, reason)
        if near:
            msg += ' (near `%s`)' % near
        super(XlCfgSyntaxError, self).__init__(msg)


# Ordered: the first matching row wins.  Each row is (class, pattern on stderr).
FAILURE_TABLE = (
    # Debian's /usr/sbin/xl wrapper when not booted into Xen.
    (XenNotAvailableError, re.compile(r"Can't find hypervisor information in sysfs")),
    # libxl could not open the hypervisor interface (no Xen, no privcmd, not root).
    (XenNotAvailableError, re.compile(r'Could not obtain handle on privileged command interface')),
    (XenNotAvailableError, re.compile(r'cannot open libxc handle')),
    (XenNotAvailableError, re.compile(r'cannot connect to xenstore')),
    (XenNotAvailableError, re.compile(r'^cannot init xl context', re.M)),
    # Domain lookups: find_domain(), libxl_domain_info(), xl domid, vcpu-set.
    (XlDomainNotFoundError, re.compile(r'is an invalid domain identifier')),
    (XlDomainNotFoundError, re.compile(r"^Error: Domain '[^']*' does not exist\.", re.M)),
    (XlDomainNotFoundError, re.compile(r'^Domain \d+ does not exist\.', re.M)),
    (XlDomainNotFoundError, re.compile(r'maybe this domain does not exist')),
    # Name clash (create, rename, migrate receive).
    (XlDomainExistsError, re.compile(r'Domain with name ".*" already exists')),
    # Locks: xl's global lock and libxl's per-domain userdata lock.
    (XlLockError, re.compile(r'cannot acquire lock')),
    (XlLockError, re.compile(r'Failed to grab lock for')),
    # Memory. First the guest's own: its memory cannot hold its kernel or ramdisk ("Out of memory" too).
    (XlGuestTooSmallError, re.compile(r'xc_dom_chk_alloc_pages: segment \S+ too large')),
    (XlOutOfMemoryError, re.compile(r'failed to free memory for the domain')),
    (XlOutOfMemoryError, re.compile(r'[Oo]ut of memory')),
    (XlOutOfMemoryError, re.compile(r'Cannot allocate memory')),
    (XlOutOfMemoryError, re.compile(r"can't allocate low memory for domain")),
    (XlOutOfMemoryError, re.compile(r'insufficient memory|not enough memory', re.I)),
    # Devices: hotplug scripts (vif-bridge, block) failed; libxl then tears the domain down. A script killed at
    # libxl's deadline first (libxl_aoutils.c async_exec_timeout): a busy Domain-0, not a broken device.
    (XlHotplugTimeoutError, re.compile(r'killing execution of \S+ .*because of timeout')),
    (XlDeviceError, re.compile(r'Could not find bridge device')),
    (XlDeviceError, re.compile(r'device_hotplug_child_death_cb: script:')),
    (XlDeviceError, re.compile(r'unable to add \w+ devices')),
    # Configuration: libxlu syntax errors, xl_parse.c value errors, unreadable files.
    (XlConfigError, re.compile(r'config parsing error near')),
    (XlConfigError, re.compile(r'^Failed to parse config', re.M)),
    (XlConfigError, re.compile(r'^Failed to read config file', re.M)),
    (XlConfigError, re.compile(r': warning: parameter `[^\']*\' is (a list|a single value|not a valid number)')),
    (XlConfigError, re.compile(r'^Invalid parameter', re.M)),
    (XlConfigError, re.compile(r'^ERROR: invalid value', re.M)),
    (XlConfigError, re.compile(r'^Invalid domain type', re.M)),
    (XlConfigError, re.compile(r'^xlu_disk_parse failed', re.M)),
    (XlConfigError, re.compile(r'^xl: maxvcpus < vcpus', re.M)),
    (XlConfigError, re.compile(r'^unrecognized argument', re.M)),
    (XlConfigError, re.compile(r'^Unknown string', re.M)),
    (XlConfigError, re.compile(r'^Config file not specified', re.M)),
    (XlConfigError, re.compile(r'^invalid memory size:', re.M)),
)

# Return codes of coreutils timeout(1): 124 when the command timed out, 137 when it
# had to be killed with SIGKILL after the grace period.
TIMEOUT_RCS = (124, 137)


def xl_subcommand(argv):
    """The xl subcommand in an argument vector (``list`` in ``timeout 30 /usr/sbin/xl list -l``)."""
    argv = [str(a) for a in (argv or [])]
    for i, arg in enumerate(argv):
        if arg.rsplit('/', 1)[-1] == 'xl':
            rest = [a for a in argv[i + 1:] if not a.startswith('-')]
            return rest[0] if rest else None
    return None


def classify_failure(argv, rc, stdout='', stderr='', timed_out=False):
    """Build the typed exception for a failed xl run (a pure function of its arguments).

    ``timed_out`` is set by the runner when it wrapped xl in timeout(1) and that fired.
    Every failure of ``xl migrate`` is an :class:`XlMigrationError`; ``cause`` then names the
    more precise class that matched, if any.
    """
    stderr = stderr or ''
    if timed_out:
        return XlTimeoutError(argv=argv, rc=rc, stdout=stdout, stderr=stderr)
    matched = None
    for cls, pattern in FAILURE_TABLE:
        if pattern.search(stderr):
            matched = cls
            break
    if xl_subcommand(argv) == 'migrate':
        return XlMigrationError(argv=argv, rc=rc, stdout=stdout, stderr=stderr,
                                cause=matched.__name__ if matched else None)
    if matched is not None:
        return matched(argv=argv, rc=rc, stdout=stdout, stderr=stderr)
    return XlCommandError(argv=argv, rc=rc, stdout=stdout, stderr=stderr)
