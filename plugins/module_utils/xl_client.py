# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one ``xl`` client of the collection.

Layers (kubernetes.core style):

* :class:`XlRunner` runs ``xl`` with an argument list through ``AnsibleModule.run_command``
  (never a shell), under coreutils ``timeout(1)`` when a deadline is given, with ``LC_ALL=C``,
  and turns failures into the typed errors of :mod:`xl_errors`;
* :class:`XlClient` has one method per xl operation; argument vectors come from the pure
  functions of :mod:`xl_argv` and output is read by the pure parsers of :mod:`xl_parse`;
* :mod:`xl_service` combines calls into host and domain facts, :mod:`xl_waiter` polls.

Modules build a client with :meth:`XlClient.from_module`.
"""

from __future__ import annotations

import time

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_argv
from ansible_collections.xenfleet.xen.plugins.module_utils import xl_parse
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import (
    XenNotAvailableError,
    XlCommandError,
    XlDomainNotFoundError,
    XlTimeoutError,
    XlValidationError,
    TIMEOUT_RCS,
    classify_failure,
)
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_waiter import Waiter

#: Directories searched for xl besides PATH (Debian installs /usr/sbin/xl, a wrapper that
#: picks /usr/lib/xen-<version>/bin/xl for the running hypervisor).
XL_SEARCH_DIRS = ['/usr/sbin', '/sbin', '/usr/local/sbin']

DEFAULT_TIMEOUT = 120
#: Seconds timeout(1) waits after SIGTERM before SIGKILL.
KILL_AFTER = 10


class XlResult(object):
    """What one xl run gave: argv (as executed), rc, stdout, stderr and the wall time."""

    __slots__ = ('argv', 'rc', 'stdout', 'stderr', 'elapsed')

    def __init__(self, argv, rc, stdout, stderr, elapsed):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed

    def to_dict(self):
        return {'cmd': self.argv, 'rc': self.rc, 'stdout': self.stdout, 'stderr': self.stderr,
                'elapsed': round(self.elapsed, 3)}


class XlRunner(object):
    """Runs xl.  ``run_command`` is ``AnsibleModule.run_command`` or anything with its signature."""

    def __init__(self, run_command, xl_path, timeout_path=None, default_timeout=DEFAULT_TIMEOUT,
                 clock=time.monotonic):
        self.run_command = run_command
        self.xl_path = xl_path
        self.timeout_path = timeout_path
        self.default_timeout = default_timeout
        self.clock = clock
        #: Every run, in order (a module may return it for debugging).
        self.history = []

    def build(self, args, timeout=None):
        """The full argv: ``[timeout -k 10 T] xl ARGS``.

        ``timeout`` None means the runner's default; 0 means no deadline.  Without coreutils
        timeout(1) on the host, xl runs without a deadline.
        """
        if timeout is None:
            timeout = self.default_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise XlValidationError('timeout must be a number of seconds >= 0, got %r' % (timeout,))
        argv = [self.xl_path] + list(args)
        if timeout and self.timeout_path:
            argv = [self.timeout_path, '-k', str(KILL_AFTER), _seconds(timeout)] + argv
        return argv

    def run(self, args, timeout=None, check=True):
        """Run ``xl ARGS``; raise the typed error on failure when ``check``."""
        argv = self.build(args, timeout)
        start = self.clock()
        rc, out, err = self.run_command(
            argv, check_rc=False, environ_update={'LC_ALL': 'C', 'LANG': 'C'},
            expand_user_and_vars=False)
        result = XlResult(argv, rc, out or '', err or '', self.clock() - start)
        self.history.append(result)
        if check and rc != 0:
            timed_out = bool(self.timeout_path) and argv[0] == self.timeout_path and rc in TIMEOUT_RCS
            raise classify_failure(argv, rc, result.stdout, result.stderr, timed_out=timed_out)
        return result


def _is_gone(row):
    return row is None


def _is_down(row):
    return row is None or row['state'] in ('shutdown', 'crashed')


def _seconds(timeout):
    if float(timeout).is_integer():
        return '%d' % int(timeout)
    return '%.3f' % timeout


class XlClient(object):
    """One method per xl operation.  Names are validated before anything runs."""

    def __init__(self, runner, waiter=None):
        self.runner = runner
        self.waiter = waiter or Waiter()
        self._info = None

    @classmethod
    def from_module(cls, module, timeout=DEFAULT_TIMEOUT, xl_path=None):
        """A client for an AnsibleModule; raises XenNotAvailableError when there is no xl."""
        xl = xl_path or module.get_bin_path('xl', required=False, opt_dirs=XL_SEARCH_DIRS)
        if not xl:
            raise XenNotAvailableError('the xl command was not found (is the xen-utils package installed?)')
        timeout_path = module.get_bin_path('timeout', required=False)
        return cls(XlRunner(module.run_command, xl, timeout_path, timeout))

    def run(self, args, timeout=None, check=True):
        return self.runner.run(args, timeout=timeout, check=check)

    # ------------------------------------------------------------------ host

    def info_raw(self):
        """``xl info`` as a dict of str (cached for the life of the client)."""
        if self._info is None:
            self._info = xl_parse.parse_xl_info(self.run(xl_argv.info()).stdout)
        return self._info

    def info(self):
        """Typed host facts from ``xl info`` (see xl_parse.xen_facts)."""
        return xl_parse.xen_facts(self.info_raw())

    def xl_version(self):
        """Xen version and capabilities summary: version, major, minor, extra, virt_caps, scheduler."""
        facts = self.info()
        return {
            'version': facts['xen_version'],
            'major': facts['xen_major'],
            'minor': facts['xen_minor'],
            'extra': facts['xen_extra'],
            'virt_caps': facts['virt_caps'],
            'capabilities': facts['capabilities'],
            'scheduler': facts['xen_scheduler'],
        }

    def scheduler(self):
        return self.info_raw().get('xen_scheduler')

    # ------------------------------------------------------------------ domains

    def list_states(self):
        """``xl list``: every domain with name, domid, memory_mib, vcpus, cpu_time and state."""
        return xl_parse.parse_xl_list(self.run(xl_argv.list_domains()).stdout)

    def list_domains(self):
        """``xl list -l``: the configuration facts of every domain (xl_parse.domain_config_facts)."""
        entries = xl_parse.parse_xl_list_long(self.run(xl_argv.list_domains(long=True)).stdout)
        return [xl_parse.domain_config_facts(e) for e in entries]

    def list_all(self):
        """Every domain: its ``xl list`` row (live state, which wins) merged with its ``xl list -l`` facts."""
        states = self.list_states()
        configs = {c['domid']: c for c in self.list_domains()}
        rows = []
        for state in states:
            row = dict(configs.get(state['domid'], {}))
            row.update(state)
            rows.append(row)
        return rows

    def list_domains_raw(self):
        """``xl list -l`` as xl printed it (a list of {'domid', 'config'})."""
        return xl_parse.parse_xl_list_long(self.run(xl_argv.list_domains(long=True)).stdout)

    def state(self, name):
        """The ``xl list NAME`` row of a domain, or None when it does not exist."""
        try:
            rows = xl_parse.parse_xl_list(self.run(xl_argv.list_domains(name)).stdout)
        except XlDomainNotFoundError:
            return None
        return rows[0] if rows else None

    def domain(self, name):
        """State and configuration of one domain, or None when it does not exist.

        The state row (``xl list NAME``) and the configuration (``xl list -l NAME``) are merged;
        the state wins where both say something (memory_mib and vcpus are live values).
        """
        row = self.state(name)
        if row is None:
            return None
        try:
            entries = xl_parse.parse_xl_list_long(self.run(xl_argv.list_domains(name, long=True)).stdout)
        except XlDomainNotFoundError:
            return None
        facts = xl_parse.domain_config_facts(entries[0]) if entries else {}
        facts.update(row)
        return facts

    def domain_config(self, name):
        """The configuration facts of one domain (``xl list -l NAME``, not merged), or None.

        Unlike :meth:`domain`, ``memory_mib`` here is the balloon *target* libxl reports, not the
        memory the domain holds right now (the two differ while a guest balloons).
        """
        try:
            entries = xl_parse.parse_xl_list_long(self.run(xl_argv.list_domains(name, long=True)).stdout)
        except XlDomainNotFoundError:
            return None
        return xl_parse.domain_config_facts(entries[0]) if entries else None

    def exists(self, name):
        return self.state(name) is not None

    def uptime(self, name=None):
        """``xl uptime [NAME]`` -> {name: {'domid', 'uptime'}} (seconds)."""
        return xl_parse.parse_xl_uptime(self.run(xl_argv.uptime(name)).stdout)

    def vcpu_list(self, name=None):
        return xl_parse.parse_vcpu_list(self.run(xl_argv.vcpu_list(name)).stdout)

    # ------------------------------------------------------------------ lifecycle

    def create(self, cfg_path, paused=False, timeout=None):
        return self.run(xl_argv.create(cfg_path, paused=paused), timeout=timeout)

    def shutdown(self, name, wait=True, timeout=60, acpi_fallback=False, interval=1.0, until='gone'):
        """Ask the guest to shut down; with ``wait``, poll ``xl list NAME`` until it is done.

        ``until='gone'`` (default) waits until the domain no longer exists, which is when a new
        domain of that name can be created; ``until='shutdown'`` also accepts a domain left in the
        shutdown or crashed state (``on_poweroff = "preserve"``).  Returns the seconds waited.
        Raises XlTimeoutError after ``timeout`` seconds (the caller may then destroy the domain);
        its ``details['last']`` is the last ``xl list`` row seen.
        """
        if until not in ('gone', 'shutdown'):
            raise XlValidationError("until must be 'gone' or 'shutdown', got %r" % (until,))
        self.run(xl_argv.shutdown(name, acpi_fallback=acpi_fallback))
        if not wait:
            return 0.0
        if until == 'gone':
            done = _is_gone
        else:
            done = _is_down
        dummy, elapsed = self.waiter.until(
            lambda: self.state(name), done, timeout=timeout, interval=interval,
            what='domain %s to shut down' % name)
        return elapsed

    def reboot(self, name, acpi_fallback=False):
        return self.run(xl_argv.reboot(name, acpi_fallback=acpi_fallback))

    def destroy(self, name, wait=True, timeout=30, interval=0.5):
        """Destroy a domain; with ``wait``, poll until it no longer exists (dying domains linger)."""
        self.run(xl_argv.destroy(name))
        if not wait:
            return 0.0
        dummy, elapsed = self.waiter.until(
            lambda: self.state(name), _is_gone,
            timeout=timeout, interval=interval, what='domain %s to be destroyed' % name)
        return elapsed

    def pause(self, name):
        return self.run(xl_argv.pause(name))

    def unpause(self, name):
        return self.run(xl_argv.unpause(name))

    def save(self, name, path, keep_running=False, leave_paused=False, cfg_path=None, timeout=None):
        return self.run(xl_argv.save(name, path, keep_running=keep_running, leave_paused=leave_paused,
                                     cfg_path=cfg_path), timeout=timeout)

    def restore(self, path, paused=False, cfg_path=None, timeout=None):
        return self.run(xl_argv.restore(path, paused=paused, cfg_path=cfg_path), timeout=timeout)

    # ------------------------------------------------------------------ live changes

    def mem_set(self, name, size):
        return self.run(xl_argv.mem_set(name, size))

    def mem_max(self, name, size):
        return self.run(xl_argv.mem_max(name, size))

    def vcpu_set(self, name, count, ignore_host=False):
        return self.run(xl_argv.vcpu_set(name, count, ignore_host=ignore_host))

    def vcpu_pin(self, name, vcpu, hard, soft=None, force=False):
        return self.run(xl_argv.vcpu_pin(name, vcpu, hard, soft=soft, force=force))

    def sched_credit(self, name, weight=None, cap=None, scheduler=None):
        """Get (no weight/cap) or set the credit/credit2 weight and cap of a domain.

        ``scheduler`` defaults to the host's (``xl info`` xen_scheduler).  Returns
        {'name', 'domid', 'weight', 'cap'} as read back from xl.
        """
        scheduler = scheduler or self.scheduler()
        if weight is not None or cap is not None:
            self.run(xl_argv.sched_set(name, scheduler, weight=weight, cap=cap))
        result = self.run(xl_argv.sched_get(name, scheduler))
        rows = xl_parse.parse_sched(result.stdout)
        if not rows:
            raise XlCommandError('xl sched-%s printed no row for %s: is %s the scheduler of its CPU pool?'
                                 % (scheduler, name, scheduler), argv=result.argv, rc=result.rc,
                                 stdout=result.stdout, stderr=result.stderr)
        return rows[0]

    def migrate(self, name, host=None, ssh_command=None, receiver_command=None, paused=False,
                preserve_domid=False, debug=False, cfg_path=None, no_daemon=False, timeout=None):
        """``xl migrate``; returns the XlResult (``elapsed`` is the wall time of xl migrate).

        Failures raise XlMigrationError (``resumed_at_source``, ``cause``) or XlTimeoutError.
        """
        args = xl_argv.migrate(name, host=host, ssh_command=ssh_command, receiver_command=receiver_command,
                               paused=paused, preserve_domid=preserve_domid, debug=debug,
                               cfg_path=cfg_path, no_daemon=no_daemon)
        return self.run(args, timeout=timeout)


__all__ = ['XlClient', 'XlRunner', 'XlResult', 'XlTimeoutError', 'DEFAULT_TIMEOUT']
