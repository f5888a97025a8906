# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live migration: what the target can take, pre-checks, the transports, and the timeline.

The migration trust that the dom0 role sets up only lets a peer's key run ``xl migrate-receive``
on the target.  The source cannot ask the target anything else over it, by design.  The
target's side of the pre-checks therefore comes from the target itself.  The same module runs
there first (``mode: probe``, with ``delegate_to``) and reports :func:`target_facts`: the Xen version, the free
memory, whether a domain of that name exists, and whether the disk paths exist.  For the socat
transport the probe also starts the one-shot receiver.

On the source, :class:`MigrationService` checks the domain, the trust (an ssh probe that the
forced command must refuse), the target's facts (:func:`precheck`, a pure function), then runs
``xl migrate`` with its stderr timestamped line by line.  That stderr carries the events of both
ends, because the receiver's stderr comes back through ssh.  A xenstore watch on the domain's
``control/shutdown`` node marks the suspend request, and an optional ping probe of the guest
measures what a client sees.  :func:`analyse` turns those lines into the total time and the
downtime.
"""

from __future__ import annotations

import os
import re
import time

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_argv
from ansible_collections.xenfleet.xen.plugins.module_utils import xl_cfg
from ansible_collections.xenfleet.xen.plugins.module_utils import xl_parse
from ansible_collections.xenfleet.xen.plugins.module_utils import xl_validate as v
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_domain import DomainService, state_class, summary_state
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import (
    TIMEOUT_RCS,
    XlCfgSyntaxError,
    XlCommandError,
    XlError,
    XlValidationError,
    classify_failure,
    stderr_excerpt,
)
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_stream import TimedProcess, start_detached, tcp_listening

TRANSPORTS = ('ssh', 'socat')
DEFAULT_PORT = 8002
#: socat's buffer for the stream, as Ganeti uses it.
SOCAT_BUFFER = '-b524288'
RECEIVER_LOG = '/var/log/xen/xenfleet-migrate-receive.log'

# Lines of xl migrate's stderr that mark the steps of a migration (xl_migrate.c of 4.17 and 4.20).
# Lines of the target come back through ssh; with socat they stay on the target.
EVENTS = (
    ('target_ready', re.compile(r'^migration target: Ready to receive domain\.')),
    ('target_transfer_complete', re.compile(r'^migration target: Transfer complete')),
    ('sender_acknowledged', re.compile(r'^migration sender: Target has acknowledged transfer\.')),
    ('sender_go', re.compile(r'^migration sender: Giving target permission to start\.')),
    ('target_got_permission', re.compile(r'^migration target: Got permission, starting domain\.')),
    # sic: xl prints "successsfully"
    ('target_started', re.compile(r'^migration target: Domain started succe*s+fully\.')),
    ('sender_target_started', re.compile(r'^migration sender: Target reports successful startup\.')),
    ('sender_success', re.compile(r'^Migration successful\.')),
    ('target_failed', re.compile(r'^migration target: (Domain creation failed|Failure, destroying our copy)')),
    ('sender_target_failed', re.compile(r'^migration sender: Target reports startup failure')),
    ('sender_resumed', re.compile(r'^migration sender: Resumed OK\.')),
    ('sender_failed', re.compile(r'^Migration failed')),
    ('sender_failed_badly', re.compile(r'^\*\* Migration failed during final handshake \*\*')),
)
_PING_REPLY_RE = re.compile(r'bytes from .*icmp_seq=(\d+)')


class MigrationError(XlCommandError):
    """A pre-check failed, or xl migrate failed; ``details`` says where the guest is."""

    summary = 'migration refused'


# --------------------------------------------------------------------------- target side

def disk_paths_of_config(cfg):
    """Absolute disk targets of a parsed xl.cfg (for the probe, when no disks are given)."""
    paths = []
    for spec in cfg.get('disk') or []:
        if not isinstance(spec, str):
            continue
        try:
            target = xl_cfg.parse_disk_spec(spec).get('target')
        except XlValidationError:
            continue
        if target and target.startswith('/'):
            paths.append(target)
    return paths


def target_facts(info, row, name, paths_exist, address, receiver=None, paths_from='given'):
    """What the target reports about itself for the pre-checks (``mode: probe``)."""
    return {
        'host': info.get('host'),
        'address': address,
        'xen_version': info.get('xen_version'),
        'xen_major': info.get('xen_major'),
        'xen_minor': info.get('xen_minor'),
        'free_memory_mib': info.get('free_memory'),
        'total_memory_mib': info.get('total_memory'),
        'domain': {
            'name': name,
            'exists': row is not None,
            'state': summary_state(row['state'] if row else None),
            'domid': row['domid'] if row else None,
        },
        'paths': paths_exist,
        'paths_from': paths_from,
        'receiver': receiver,
        'probed_at': round(time.time(), 3),
    }


# --------------------------------------------------------------------------- source side: checks

def ssh_probe_argv(address, ssh_command=None, connect_timeout=15):
    """``ssh ... ADDRESS true``: the dom0 role's forced command must refuse it (exit 126)."""
    v.migration_host(address)
    if ssh_command:
        words = list(ssh_command)
    else:
        words = ['ssh']
    return words + ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=%d' % connect_timeout, address, 'true']


def interpret_ssh_probe(rc, stdout, stderr):
    """The trust check from the ssh probe's result.

    * rc 126 and ``xenfleet: refused``: reachable, the key is accepted, and the key may only run
      ``xl migrate-receive`` (the dom0 role's forced command): ``restricted``;
    * rc 0: reachable and accepted, but the key may run anything: ``unrestricted`` (it works);
    * anything else (255: connection, host key or authentication failure): not reachable.
    """
    text = (stderr or '').strip()
    if rc == 126 and 'xenfleet: refused' in text:
        return {'name': 'trust', 'ok': True, 'trust': 'restricted',
                'detail': 'ssh reaches the target and its forced command allows only xl migrate-receive'}
    if rc == 0:
        return {'name': 'trust', 'ok': True, 'trust': 'unrestricted',
                'detail': 'ssh reaches the target, but this key may run any command there (no forced '
                          'command): the dom0 role restricts it to xl migrate-receive'}
    return {'name': 'trust', 'ok': False, 'trust': None,
            'detail': 'the target cannot be reached over the migration trust (ssh exited %s): %s'
                      % (rc, stderr_excerpt(text, 4) or 'no error output')}


def disk_paths_of_domain(config):
    """Absolute backing paths of a running domain's disks (``xl list -l`` facts)."""
    return [d['target'] for d in (config or {}).get('disks') or []
            if isinstance(d.get('target'), str) and d['target'].startswith('/')]


def logdirty_check(name, domain_type, virt_caps):
    """Whether Xen on the source can track the guest's dirty pages, which a live migration needs.

    A pv guest's log-dirty mode is built on shadow paging; pvh and hvm guests use HAP (or shadow).
    A Xen built without CONFIG_SHADOW_PAGING (virt_caps without ``shadow``, as Debian 12's 4.17.7
    in the lab) cannot live-migrate pv guests: ``xl migrate`` fails with "Failed to enable logdirty".
    """
    caps = ' '.join(virt_caps)
    if domain_type == 'pv':
        ok = 'shadow' in virt_caps
        detail = ('a pv guest is migrated with shadow paging\'s log-dirty mode; '
                  + ('virt_caps has shadow (%s)' % caps if ok else
                     'this Xen has none (virt_caps: %s; built without CONFIG_SHADOW_PAGING): migrate pvh or hvm '
                     'guests, or move this one with save and restore' % caps))
    elif domain_type in ('pvh', 'hvm'):
        ok = 'hap' in virt_caps or 'shadow' in virt_caps
        detail = 'a %s guest is migrated with %s log-dirty mode (virt_caps: %s)' % (
            domain_type, 'HAP' if 'hap' in virt_caps else 'shadow', caps)
    else:
        ok, detail = True, 'guest type unknown (%s): not checked' % domain_type
    return {'name': 'logdirty', 'ok': ok, 'detail': detail}


def precheck(name, row, config, source_info, facts, trust, check_version=True):
    """Every pre-check as {'name', 'ok' (True, False or None for skipped), 'detail'}; pure.

    ``row`` is the source's ``xl list NAME`` row, ``config`` its ``xl list -l`` facts,
    ``source_info`` the source's ``xl info`` facts, ``facts`` the target's report (or None) and
    ``trust`` the result of the trust check.
    """
    checks = [trust]
    sclass = state_class(row['state']) if row else None
    checks.append({'name': 'source', 'ok': sclass in ('active', 'paused'),
                   'detail': '%s is %s on the source' % (name, summary_state(row['state'] if row else None))})
    checks.append(logdirty_check(name, (config or {}).get('type'), source_info.get('virt_caps') or []))
    if facts is None:
        for check in ('memory', 'version', 'name', 'disks'):
            checks.append({'name': check, 'ok': None,
                           'detail': 'not checked: no target_facts (run this module with mode=probe on the target)'})
        return checks
    need = (row or {}).get('memory_mib') or 0
    free = facts.get('free_memory_mib')
    checks.append({'name': 'memory', 'ok': free is not None and need <= free,
                   'detail': '%s holds %d MiB; the target has %s MiB free' % (name, need, free)})
    ok, reason = xl_parse.migration_compatible(source_info.get('xen_version'), facts.get('xen_version'))
    if not check_version:
        checks.append({'name': 'version', 'ok': True, 'detail': 'not enforced (check_version=false): ' + reason})
    else:
        checks.append({'name': 'version', 'ok': ok, 'detail': reason + " (Ganeti's rule)"})
    dom = facts.get('domain') or {}
    checks.append({'name': 'name', 'ok': not dom.get('exists'),
                   'detail': 'a domain %s is %s on the target' % (name, dom.get('state'))
                   if dom.get('exists') else 'no domain %s on the target' % name})
    paths = facts.get('paths') or {}
    missing, unchecked = [], []
    for path in disk_paths_of_domain(config):
        if path not in paths:
            unchecked.append(path)
        elif not paths[path]:
            missing.append(path)
    if missing or unchecked:
        detail = []
        if missing:
            detail.append('missing on the target: %s' % ', '.join(missing))
        if unchecked:
            detail.append('not checked by the probe (give them in its disks option): %s' % ', '.join(unchecked))
        checks.append({'name': 'disks', 'ok': False, 'detail': '; '.join(detail)})
    else:
        n = len(disk_paths_of_domain(config))
        checks.append({'name': 'disks', 'ok': True,
                       'detail': '%d disk path(s), all present on the target' % n if n else 'no disk paths'})
    return checks


# --------------------------------------------------------------------------- timeline

def classify_line(line):
    for event, pattern in EVENTS:
        if pattern.search(line):
            return event
    return None


def analyse(start, end, xl_lines, watch_lines=None, ping_lines=None, ping_interval=None):
    """Total time, downtime and timeline from timestamped lines (``(t, stream, line)``).

    Downtime, by the best method available:

    * ``ping``: the longest time between two replies of the ping probe of the guest;
    * ``xenstore``: from libxl's suspend request (a xenstore watch on the source, which records its
      own registration first) to the target's "Domain started" line (or the sender's report of it);
    * ``protocol``: from the target's "Transfer complete" to "Domain started", a lower bound.
    """
    events = {}
    timeline = []
    for t, stream, line in sorted(xl_lines or [], key=lambda x: x[0]):
        event = classify_line(line)
        if event and event not in events:
            events[event] = t
        if stream == 'stderr' or event:
            timeline.append({'t': round(t - start, 3), 'source': 'xl', 'event': event, 'line': line})
    watch = sorted(t for t, stream, dummy in (watch_lines or []) if stream == 'stdout')
    suspend = None
    if len(watch) >= 2:
        suspend = watch[1]
        timeline.append({'t': round(suspend - start, 3), 'source': 'xenstore', 'event': 'suspend_requested',
                         'line': 'control/shutdown written (suspend request)'})
    timeline.sort(key=lambda e: e['t'])
    started = events.get('target_started', events.get('sender_target_started', events.get('sender_resumed')))
    downtime = {'seconds': None, 'method': None,
                'suspend_to_start_seconds': None, 'transfer_complete_to_start_seconds': None,
                'ping': None}
    if suspend is not None and started is not None and started >= suspend:
        downtime['suspend_to_start_seconds'] = round(started - suspend, 3)
    if 'target_transfer_complete' in events and started is not None:
        downtime['transfer_complete_to_start_seconds'] = round(started - events['target_transfer_complete'], 3)
    replies = []
    for t, stream, line in ping_lines or []:
        m = _PING_REPLY_RE.search(line)
        if m and stream == 'stdout':
            replies.append((t, int(m.group(1))))
    if ping_lines is not None:
        replies.sort()
        gaps = [(b[0] - a[0], a, b) for a, b in zip(replies, replies[1:])]
        ping = {'replies': len(replies), 'interval': ping_interval, 'max_gap_seconds': None,
                'lost': None, 'gap_from': None, 'gap_to': None}
        if replies:
            seqs = [s for dummy, s in replies]
            ping['lost'] = max(seqs) - min(seqs) + 1 - len(set(seqs))
        if gaps:
            gap, a, b = max(gaps, key=lambda g: g[0])
            ping.update({'max_gap_seconds': round(gap, 3), 'gap_from': round(a[0] - start, 3),
                         'gap_to': round(b[0] - start, 3)})
        downtime['ping'] = ping
    if downtime['ping'] and downtime['ping']['max_gap_seconds'] is not None:
        downtime['seconds'], downtime['method'] = downtime['ping']['max_gap_seconds'], 'ping'
    elif downtime['suspend_to_start_seconds'] is not None:
        downtime['seconds'], downtime['method'] = downtime['suspend_to_start_seconds'], 'xenstore'
    elif downtime['transfer_complete_to_start_seconds'] is not None:
        downtime['seconds'], downtime['method'] = downtime['transfer_complete_to_start_seconds'], 'protocol'
    return {
        'total_seconds': round(end - start, 3) if end is not None else None,
        'events': dict((k, round(t - start, 3)) for k, t in sorted(events.items(), key=lambda x: x[1])),
        'downtime': downtime,
        'timeline': timeline,
    }


# --------------------------------------------------------------------------- the service

def _monotonic():
    return time.monotonic()


def _sleep(seconds):
    time.sleep(seconds)


def _detach(argv, log_path):
    return start_detached(argv, log_path)


def _listening(port, address):
    return tcp_listening(port, address)


class MigrationService(object):
    """Pre-checks and migration on the source, probe (and socat receiver) on the target.

    ``run_command`` is AnsibleModule.run_command, ``bin_path(name)`` finds a binary (or None);
    ``process`` builds a TimedProcess (the unit tests pass a replay); ``detach`` starts the socat
    receiver.  Files are read under ``root`` (the unit tests point it at a temporary directory).
    """

    def __init__(self, client, run_command, bin_path, clock=None, process=None, detach=None, listening=None,
                 sleep=None, root='/'):
        self.client = client
        self.run_command = run_command
        self.bin_path = bin_path
        # Defaults are looked up when called, so that tests may replace them in this module.
        self.clock = clock or _monotonic
        self.process = process or self._timed_process
        self.detach = detach or _detach
        self.listening = listening or _listening
        self.sleep = sleep or _sleep
        self.root = root
        self.warnings = []

    def path(self, path):
        return os.path.join(self.root, path.lstrip('/'))

    def _timed_process(self, argv, **kwargs):
        return TimedProcess(argv, clock=self.clock, **kwargs)

    # ------------------------------------------------------------------ target side

    def probe(self, name, address, disks=None, transport='ssh', source_address=None, port=DEFAULT_PORT,
              receive_timeout=300, check_mode=False):
        """The target's report; with socat, also start the one-shot receiver.  Returns (facts, changed)."""
        v.domain_name(name)
        v.migration_host(address)
        info = self.client.info()
        row = self.client.state(name)
        paths_from = 'given'
        if disks is None:
            paths_from = 'config'
            cfg_path = '/etc/xen/%s.cfg' % name
            try:
                with open(self.path(cfg_path)) as f:
                    disks = disk_paths_of_config(xl_cfg.parse(f.read(), source=cfg_path))
            except (IOError, OSError):
                disks, paths_from = [], 'none (no %s)' % cfg_path
            except XlCfgSyntaxError as exc:
                raise MigrationError('cannot read the disks of %s: %s' % (name, exc))
        paths = dict((p, os.path.exists(self.path(v.abs_path(p, 'disk path')))) for p in disks)
        receiver = None
        changed = False
        if transport == 'socat' and not (row is not None and state_class(row['state']) in ('active', 'paused')):
            receiver = self.start_receiver(address, source_address, port, receive_timeout, check_mode)
            changed = True
        return target_facts(info, row, name, paths, address, receiver, paths_from), changed

    def start_receiver(self, address, source_address, port, receive_timeout, check_mode=False):
        """A one-shot ``socat TCP-LISTEN ... EXEC:'xl migrate-receive'`` for one connection from the source."""
        if not source_address:
            raise XlValidationError('transport socat needs source_address (the source Domain-0\'s migration address)')
        v.migration_host(address)
        v.migration_host(source_address)
        socat = self.bin_path('socat')
        timeout = self.bin_path('timeout')
        if not socat or not timeout:
            raise MigrationError('transport socat needs socat and timeout on the target (apt-get install socat)')
        if self.listening(port, address):
            raise MigrationError('TCP port %d is already in use on %s: another receiver is waiting, or pick '
                                 'another port' % (port, address))
        argv = [timeout, str(int(receive_timeout)), socat, SOCAT_BUFFER,
                'TCP-LISTEN:%d,bind=%s,reuseaddr,range=%s/32' % (port, address, source_address.strip('[]')),
                'EXEC:%s migrate-receive' % self.client.runner.xl_path]
        receiver = {'address': address, 'port': port, 'source_address': source_address,
                    'expires_in': receive_timeout, 'log': RECEIVER_LOG, 'cmd': argv, 'pid': None}
        if check_mode:
            return receiver
        proc = self.detach(argv, self.path(RECEIVER_LOG))
        receiver['pid'] = proc.pid
        deadline = self.clock() + 10
        while not self.listening(port, address):
            if proc.poll() is not None or self.clock() > deadline:
                raise MigrationError('the socat receiver did not start listening on %s:%d (rc %s); see %s'
                                     % (address, port, proc.poll(), RECEIVER_LOG))
            self.sleep(0.2)
        return receiver

    # ------------------------------------------------------------------ source side

    def check_trust(self, address, transport, ssh_command, facts):
        if transport == 'ssh':
            argv = ssh_probe_argv(address, ssh_command)
            rc, out, err = self.run_command(argv, check_rc=False, environ_update={'LC_ALL': 'C'},
                                            expand_user_and_vars=False)
            check = interpret_ssh_probe(rc, out, err)
            check['cmd'] = argv
            return check
        receiver = (facts or {}).get('receiver')
        if not receiver:
            return {'name': 'trust', 'ok': False, 'trust': None,
                    'detail': 'transport socat needs a receiver on the target: run this module there with '
                              'mode=probe, transport=socat and pass its target_facts'}
        if receiver.get('address') != address or receiver.get('pid') is None:
            return {'name': 'trust', 'ok': False, 'trust': None,
                    'detail': 'the receiver of target_facts listens on %s (pid %s), not on %s'
                              % (receiver.get('address'), receiver.get('pid'), address)}
        if not self.bin_path('socat'):
            return {'name': 'trust', 'ok': False, 'trust': None,
                    'detail': 'transport socat needs socat on the source too'}
        return {'name': 'trust', 'ok': True, 'trust': 'none (socat: plain TCP from %s only)'
                % receiver.get('source_address'),
                'detail': 'a one-shot socat receiver waits on %s:%s' % (address, receiver.get('port'))}

    def migrate(self, name, target, facts=None, transport='ssh', ssh_command=None, check_version=True,
                probe_address=None, ping_interval=0.2, timeout=900, check_mode=False):
        """Pre-check, migrate and measure.  Returns the result dict (``changed`` included)."""
        v.domain_name(name)
        v.migration_host(target)
        if transport not in TRANSPORTS:
            raise XlValidationError('transport must be one of %s' % ', '.join(TRANSPORTS))
        t_module = self.clock()
        result = {'changed': False, 'migrated': False, 'target': target, 'transport': transport,
                  'checks': [], 'total_seconds': None, 'downtime_seconds': None, 'downtime': None,
                  'events': {}, 'timeline': [], 'source': None}
        row = self.client.state(name)
        if row is None:
            dom = (facts or {}).get('domain') or {}
            if dom.get('exists') and dom.get('state') in ('running', 'paused'):
                result['msg'] = '%s is not here and is %s on the target: nothing to do' % (name, dom['state'])
                result['checks'] = [{'name': 'source', 'ok': None, 'detail': result['msg']}]
                return result
            raise MigrationError('%s does not exist on this host%s' % (
                name, '' if facts else ', and without target_facts there is no telling whether it already '
                'runs on the target'))
        info = self.client.info()
        config = self.client.domain_config(name)
        result['source'] = {'host': info.get('host'), 'xen_version': info.get('xen_version'),
                            'domid': row['domid'], 'memory_mib': row['memory_mib'], 'state': row['state']}
        trust = self.check_trust(target, transport, ssh_command, facts)
        checks = precheck(name, row, config, info, facts, trust, check_version)
        result['checks'] = checks
        if facts is None:
            self.warnings.append('target_facts not given: the memory, version, name and disk pre-checks '
                                 'were skipped; xl migrate is the only judge')
        failed = [c for c in checks if c['ok'] is False]
        if failed:
            raise MigrationError('pre-checks failed, %s was not touched: %s'
                                 % (name, '; '.join('%s: %s' % (c['name'], c['detail']) for c in failed)),
                                 checks=checks, source=result['source'])
        result['changed'] = True
        if check_mode:
            return result

        # ---- the migration, with its watchers
        if transport == 'ssh':
            args = xl_argv.migrate(name, host=target, ssh_command=ssh_command)
        else:
            receiver = facts['receiver']
            args = xl_argv.migrate(name, receiver_command=[
                'socat', SOCAT_BUFFER, '-', 'TCP:%s:%d' % (target.strip('[]'), receiver['port'])])
        watchers = {}
        watch_bin = self.bin_path('xenstore-watch')
        if watch_bin:
            watchers['xenstore'] = self.process([watch_bin, '/local/domain/%d/control/shutdown' % row['domid']])
        else:
            self.warnings.append('xenstore-watch not found: the downtime is measured from the protocol only')
        if probe_address:
            ping = self.bin_path('ping')
            if ping:
                watchers['ping'] = self.process([ping, '-n', '-i', '%g' % ping_interval, '-W', '1',
                                                 v.migration_host(probe_address)])
            else:
                self.warnings.append('ping not found: no ping probe of %s' % probe_address)
        argv = self.client.runner.build(args, timeout)
        start = self.clock()
        proc = self.process(argv, env_update={'LC_ALL': 'C', 'LANG': 'C'})
        rc = proc.wait(timeout + 30)
        if rc is None:
            rc = proc.stop()
        end = self.clock()
        if 'ping' in watchers:
            self._let_ping_recover(watchers['ping'], end)
        for watcher in watchers.values():
            watcher.stop()
        analysis = analyse(start, end, proc.snapshot(),
                           watchers['xenstore'].snapshot() if 'xenstore' in watchers else None,
                           watchers['ping'].snapshot() if 'ping' in watchers else None,
                           ping_interval if 'ping' in watchers else None)
        result.update(analysis)
        result['downtime_seconds'] = analysis['downtime']['seconds']
        result['cmd'] = argv
        stdout, stderr = proc.text('stdout'), proc.text('stderr')
        if rc != 0:
            timed_out = argv[0] == self.client.runner.timeout_path and rc in TIMEOUT_RCS
            err = classify_failure(argv, rc, stdout, stderr, timed_out=timed_out)
            after = self.client.state(name)
            away = self.client.state('%s--migratedaway' % name)
            where = self._where(name, after, away, err)
            raise MigrationError(
                'xl migrate of %s to %s failed (rc %s); %s: %s'
                % (name, target, rc, where, stderr_excerpt(stderr, 6)),
                argv=argv, rc=rc, stdout=stdout, stderr=stderr, checks=checks,
                guest_on_source=after is not None and state_class(after['state']) in ('active', 'paused'),
                source_state=summary_state(after['state']) if after else 'absent',
                renamed_away=away is not None, resumed_at_source=getattr(err, 'resumed_at_source', None),
                total_seconds=analysis['total_seconds'], downtime=analysis['downtime'],
                timeline=analysis['timeline'])
        after = self.client.state(name)
        if after is not None:
            self.warnings.append('xl migrate succeeded but %s is still listed on the source (%s)'
                                 % (name, after['state_flags']))
        entry, dummy = DomainService(self.client, root=self.root).autostart_entry(name, '/etc/xen/%s.cfg' % name)
        if entry:
            self.warnings.append('%s still has the autostart entry %s on the source: remove it (xen_domain '
                                 'autostart=false) so that the source does not start a second copy at boot'
                                 % (name, entry))
        result['migrated'] = True
        result['module_seconds'] = round(self.clock() - t_module, 3)
        return result

    def _let_ping_recover(self, ping, end, grace=10.0):
        """After a migration, wait (up to ``grace`` s) for a ping reply, so that the gap has an end."""
        deadline = end + grace
        while self.clock() < deadline:
            if any(t > end and _PING_REPLY_RE.search(line) for t, dummy, line in ping.snapshot()):
                return
            self.sleep(0.1)

    @staticmethod
    def _where(name, after, away, err):
        if away is not None:
            return ('the source still holds %s--migratedaway: the final handshake failed and the domain state is '
                    'undefined, check both hosts before resuming at most one copy' % name)
        if after is not None and state_class(after['state']) in ('active', 'paused'):
            return '%s is still %s on the source' % (name, summary_state(after['state']))
        if after is not None:
            return '%s is %s on the source (%s)' % (name, summary_state(after['state']), after['state_flags'])
        return '%s is no longer on the source: check the target' % name


__all__ = ['MigrationService', 'MigrationError', 'precheck', 'analyse', 'target_facts', 'interpret_ssh_probe',
           'ssh_probe_argv', 'XlError']
