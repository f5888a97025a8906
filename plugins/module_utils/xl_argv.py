# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions that build the argument vector of each ``xl`` subcommand.

Every function validates its arguments (raising XlValidationError) and returns the list of
arguments that follow the ``xl`` binary.  Nothing here runs anything, so each command line
is tested exactly, case by case.  Options follow xl(1) and ``tools/xl/xl_cmdtable.c`` of
Xen 4.17 and 4.20, which agree on every command used here.
"""

from __future__ import annotations

import shlex

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_validate as v
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlValidationError

SCHEDULERS = ('credit', 'credit2')


def _flags(*options):
    """The flags that are set, in order: ``_flags(('-p', paused), ('-q', quiet))``."""
    return [flag for flag, wanted in options if wanted]


def _optional_name(name):
    """``[NAME]``, validated, or nothing when ``name`` is None (the command then covers every domain)."""
    return [] if name is None else [v.domain_name(name)]


def info():
    return ['info']


def list_domains(name=None, long=False):
    """``xl list [-l] [NAME]`` (``-l`` prints the JSON configuration of each domain)."""
    return ['list'] + _flags(('-l', long)) + _optional_name(name)


def uptime(name=None):
    return ['uptime'] + _optional_name(name)


def vcpu_list(name=None):
    return ['vcpu-list'] + _optional_name(name)


def create(cfg_path, paused=False, quiet=False):
    """``xl create [-p] [-q] CFG``.  Extra key=value overrides are not offered: write the file."""
    return ['create'] + _flags(('-p', paused), ('-q', quiet)) + [v.abs_path(cfg_path, 'configuration file')]


def shutdown(name, wait=False, acpi_fallback=False):
    """``xl shutdown [-w] [-F] NAME``; the client waits with its own deadline instead of ``-w``."""
    return ['shutdown'] + _flags(('-w', wait), ('-F', acpi_fallback)) + [v.domain_name(name)]


def reboot(name, acpi_fallback=False):
    return ['reboot'] + _flags(('-F', acpi_fallback)) + [v.domain_name(name)]


def destroy(name):
    name = v.domain_name(name)
    if name == 'Domain-0':
        raise XlValidationError('refusing to destroy Domain-0')
    return ['destroy', name]


def pause(name):
    return ['pause', v.domain_name(name)]


def unpause(name):
    return ['unpause', v.domain_name(name)]


def save(name, path, keep_running=False, leave_paused=False, cfg_path=None):
    """``xl save [-c] [-p] NAME FILE [CFG]``."""
    argv = ['save'] + _flags(('-c', keep_running), ('-p', leave_paused))
    argv += [v.domain_name(name), v.abs_path(path, 'save file')]
    if cfg_path is not None:
        argv.append(v.abs_path(cfg_path, 'configuration file'))
    return argv


def restore(path, paused=False, cfg_path=None):
    """``xl restore [-p] [CFG] FILE``."""
    argv = ['restore'] + _flags(('-p', paused))
    if cfg_path is not None:
        argv.append(v.abs_path(cfg_path, 'configuration file'))
    argv.append(v.abs_path(path, 'save file'))
    return argv


def mem_set(name, size):
    """``xl mem-set NAME SIZE``; SIZE always carries a unit (``512m``)."""
    return ['mem-set', v.domain_name(name), v.memory_arg(v.memory_kib(size, 'memory target'))]


def mem_max(name, size):
    return ['mem-max', v.domain_name(name), v.memory_arg(v.memory_kib(size, 'maximum memory'))]


def vcpu_set(name, count, ignore_host=False):
    return ['vcpu-set'] + _flags(('--ignore-host', ignore_host)) + [v.domain_name(name), str(v.vcpus(count))]


def vcpu_pin(name, vcpu, hard, soft=None, force=False):
    """``xl vcpu-pin [-f] NAME VCPU HARD [SOFT]``; ``-`` leaves an affinity alone."""
    vcpu = v.vcpu_index(vcpu)
    if force and vcpu == 'all':
        raise XlValidationError("xl refuses --force together with vcpu 'all'")
    argv = ['vcpu-pin'] + _flags(('--force', force))
    argv += [v.domain_name(name), vcpu, v.cpulist(hard, 'hard affinity', allow_keep=True)]
    if soft is not None:
        argv.append(v.cpulist(soft, 'soft affinity', allow_keep=True))
    return argv


def _scheduler(scheduler):
    if scheduler not in SCHEDULERS:
        raise XlValidationError('scheduler must be one of %s, got %r' % (', '.join(SCHEDULERS), scheduler))
    return 'sched-' + scheduler


def sched_get(name, scheduler='credit2'):
    """``xl sched-credit2 -d NAME`` (or sched-credit): prints Name, ID, Weight, Cap."""
    return [_scheduler(scheduler), '-d', v.domain_name(name)]


def sched_set(name, scheduler='credit2', weight=None, cap=None):
    """``xl sched-credit2 -d NAME [-w WEIGHT] [-c CAP]``."""
    if weight is None and cap is None:
        raise XlValidationError('sched_set needs a weight or a cap')
    argv = [_scheduler(scheduler), '-d', v.domain_name(name)]
    if weight is not None:
        argv += ['-w', str(v.sched_weight(weight))]
    if cap is not None:
        argv += ['-c', str(v.sched_cap(cap))]
    return argv


def migrate(name, host=None, ssh_command=None, receiver_command=None, paused=False,
            preserve_domid=False, debug=False, cfg_path=None, no_daemon=False):
    """``xl migrate [-s SSH] [-C CFG] [-p] [-D] [-e] [--debug] NAME HOST``.

    Two transports:

    * ssh (default): ``host`` is the target dom0; xl runs ``exec SSH HOST xl migrate-receive``
      through ``sh``.  ``ssh_command`` is a list of words (e.g. ``['ssh', '-o',
      'BatchMode=yes']``); each word is shell-quoted here because xl hands the string to sh.
    * a custom stream: ``receiver_command`` is the list of words of a command whose stdin and
      stdout are the migration stream to a target running ``xl migrate-receive`` (for
      instance ``['socat', '-', 'TCP:10.0.0.2:8002']``).  xl is then called with ``-s ''`` and
      that command (shell-quoted) as HOST, which is how xl(1) documents an empty ``-s``.

    ``--live`` is not passed: xl always migrates live and ignores it.
    """
    name = v.domain_name(name)
    if (host is None) == (receiver_command is None):
        raise XlValidationError('migrate needs exactly one of host or receiver_command')
    argv = ['migrate']
    if receiver_command is not None:
        if ssh_command is not None:
            raise XlValidationError('ssh_command and receiver_command exclude each other')
        words = _words(receiver_command, 'receiver_command')
        argv += ['-s', '']
        target = ' '.join(shlex.quote(w) for w in words)
    else:
        target = v.migration_host(host)
        if ssh_command is not None:
            words = _words(ssh_command, 'ssh_command')
            argv += ['-s', ' '.join(shlex.quote(w) for w in words)]
    if cfg_path is not None:
        argv += ['-C', v.abs_path(cfg_path, 'configuration file')]
    argv += _flags(('-p', paused), ('-D', preserve_domid), ('-e', no_daemon), ('--debug', debug))
    argv += [name, target]
    return argv


def _words(words, what):
    if isinstance(words, str) or not isinstance(words, (list, tuple)) or not words:
        raise XlValidationError('%s must be a non-empty list of words, got %r' % (what, words))
    out = []
    for w in words:
        if not isinstance(w, str) or not w or '\0' in w or '\n' in w:
            raise XlValidationError('%s has an invalid word %r' % (what, w))
        out.append(w)
    return out
