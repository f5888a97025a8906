# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: xen_guests
short_description: The guests that really run on the Xen hosts, from C(xl) on every Domain-0
version_added: 0.1.0
author:
  - xenfleet developers (@xenfleet)
description:
  - Asks every Domain-0 which domains it runs (C(xl list) and C(xl list -l), through the collection's one C(xl)
    client, over SSH as Ansible would connect) and makes each guest an inventory host, with the Domain-0 it runs on
    and what it is (type, state, memory, vCPUs, disks, MACs).
  - The Domain-0s are the hosts of O(dom0_group) that the inventory sources given B(before) this one define, reached
    with their C(ansible_host), C(ansible_port), C(ansible_user), C(ansible_ssh_private_key_file) and
    C(ansible_ssh_common_args); or the hosts listed in O(dom0s). Those values must be literal (not templates).
  - A guest that is already an inventory host (for example one of the C(xenfleet.xen.guests) role's C(xen_guests))
    keeps its own variables and gets the C(xen_*) facts set on it, so that after a migration or an evacuation the
    inventory says where it runs now.
  - A guest in the middle of a live migration exists twice for a moment (C(NAME--incoming) on the target, and
    C(NAME--migratedaway) or a suspended C(NAME) on the source); it is reported once, where it is active, with
    C(xen_migrating=true).
  - A guest active on more than one Domain-0 (a split brain after an interrupted migration) is reported with a
    warning, on the Domain-0 where it runs, with C(xen_duplicated=true), and joins the group C(<group>_duplicated).
  - Host variables set on every guest are C(xen_dom0), C(xen_domid), C(xen_uuid), C(xen_type), C(xen_state),
    C(xen_state_flags), C(xen_memory_mib), C(xen_maxmem_mib), C(xen_vcpus), C(xen_maxvcpus), C(xen_disks) (the
    backing paths), C(xen_macs), C(xen_ips) (the C(ip=) of the vifs, if set), C(xen_migrating), C(xen_duplicated) and C(xen_seen_on)
    (every Domain-0 holding a copy).
  - An unreachable Domain-0 is a warning (its guests are left out) unless O(unreachable=error).
options:
  plugin:
    description: The name of this plugin; the inventory file must end in C(xen_guests.yml) or C(xen_guests.yaml).
    required: true
    type: str
    choices: [xenfleet.xen.xen_guests]
  dom0_group:
    description:
      - The group of Domain-0s, from the inventory sources loaded before this one.
      - Ignored when O(dom0s) is given.
    type: str
    default: xen_hosts
  dom0s:
    description:
      - Domain-0s to ask, instead of O(dom0_group).
      - Each is the Domain-0's inventory name and how to reach it.
    type: list
    elements: dict
    suboptions:
      name:
        description: The Domain-0's name (the value of C(xen_dom0) on its guests).
        type: str
        required: true
      host:
        description: Address to connect to; defaults to O(dom0s[].name).
        type: str
      port:
        description: SSH port.
        type: int
      user:
        description: SSH user; C(xl) needs root, so a non-root user needs password-less sudo (O(become)).
        type: str
      private_key_file:
        description: SSH private key.
        type: path
      ssh_args:
        description: More ssh options for this Domain-0, as a list of arguments.
        type: list
        elements: str
        default: []
  ssh_args:
    description: ssh options added to every Domain-0's own, as a list of arguments.
    type: list
    elements: str
    default: []
  become:
    description: Run C(xl) through C(sudo -n) (for a non-root SSH user).
    type: bool
    default: false
  connect_timeout:
    description: Seconds to wait for each Domain-0's SSH connection (ssh's C(ConnectTimeout)).
    type: int
    default: 30
  xl_timeout:
    description: Seconds each C(xl) command may take on a Domain-0 (coreutils C(timeout) there).
    type: int
    default: 60
  xl_path:
    description: The C(xl) command on the Domain-0s.
    type: str
    default: xl
  group:
    description: The group every discovered guest joins.
    type: str
    default: xen_running_guests
  states:
    description:
      - Only guests in these states (as C(xen_domain_info) names them) become hosts.
      - The default leaves out domains that are shut down, crashed or dying.
    type: list
    elements: str
    choices: [running, blocked, runnable, paused, shutdown, crashed, dying]
    default: [running, blocked, runnable, paused]
  unreachable:
    description: What a Domain-0 that cannot be asked means.
    type: str
    choices: [warn, error]
    default: warn
  forks:
    description: How many Domain-0s are asked at once.
    type: int
    default: 8
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
notes:
  - The guests' own addresses are not known to Xen. Set C(ansible_host) with O(compose) (for example from
    C(xen_ips), or a naming convention), or keep the guests in a static inventory (as the C(guests) role does)
    and let this plugin add where they run.
  - Every SSH call has C(BatchMode=yes), so a Domain-0 whose host key is not known, or that asks for a password, is
    unreachable rather than a prompt.
seealso:
  - module: xenfleet.xen.xen_domain_info
'''

EXAMPLES = r'''
# inventories/lab/xen_guests.yml -- with the Domain-0s from a source given before it:
#   ansible-inventory -i inventories/lab/hosts.yml -i inventories/lab/xen_guests.yml --graph
plugin: xenfleet.xen.xen_guests
dom0_group: xen_hosts
keyed_groups:
  # dom0_xen1, dom0_xen2: the guests of each Domain-0
  - key: xen_dom0
    prefix: dom0
  # type_pv, type_pvh, type_hvm
  - key: xen_type
    prefix: type
groups:
  xen_big_guests: xen_memory_mib >= 4096

# Domain-0s named here, with the addresses the guests have on the vifs
---
plugin: xenfleet.xen.xen_guests
dom0s:
  - name: dom0-a
    host: 10.0.0.11
    user: root
  - name: dom0-b
    host: 10.0.0.12
    user: root
    ssh_args: [-o, ProxyJump=bastion.example.com]
unreachable: error
compose:
  ansible_host: xen_ips | first
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: /var/cache/ansible/xen_guests
cache_timeout: 300
'''

import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor

from ansible.errors import AnsibleParserError
from ansible.inventory.helpers import get_group_vars
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display
from ansible.utils.vars import combine_vars

from ansible_collections.xenfleet.xen.plugins.module_utils.xen_fleet import ACTIVE, split_transient
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_client import KILL_AFTER, XlClient, XlRunner
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlError

display = Display()

#: ssh's own exit status for "could not connect / authenticate" (the remote command's status otherwise).
SSH_FAILED = 255
#: The host variables of a Domain-0 that say how to reach it, as Ansible's ssh connection reads them.
CONNECTION_VARS = {
    'host': ('ansible_host', 'ansible_ssh_host'),
    'port': ('ansible_port', 'ansible_ssh_port'),
    'user': ('ansible_user', 'ansible_ssh_user'),
    'private_key_file': ('ansible_ssh_private_key_file', 'ansible_private_key_file'),
    'common_args': ('ansible_ssh_common_args',),
    'extra_args': ('ansible_ssh_extra_args',),
}


class Dom0UnreachableError(Exception):
    """ssh could not run the command on the Domain-0 at all."""


class SshTarget(object):
    """How to reach one Domain-0: builds the ssh argv, and runs xl there like ``AnsibleModule.run_command``."""

    def __init__(self, name, host=None, port=None, user=None, private_key_file=None, ssh_args=None,
                 connect_timeout=30, command_timeout=60, become=False, runner=None):
        self.name = name
        self.host = host or name
        self.port = port
        self.user = user
        self.private_key_file = private_key_file
        self.ssh_args = list(ssh_args or [])
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.become = become
        self.runner = runner or subprocess.run

    def argv(self, remote_argv):
        """``ssh [options] [user@]host -- 'env LC_ALL=C LANG=C [sudo -n] xl ...'`` (each word quoted)."""
        argv = ['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=%d' % self.connect_timeout]
        if self.port:
            argv += ['-p', str(self.port)]
        if self.private_key_file:
            argv += ['-i', self.private_key_file]
        argv += self.ssh_args
        argv.append('%s@%s' % (self.user, self.host) if self.user else self.host)
        words = ['env', 'LC_ALL=C', 'LANG=C'] + (['sudo', '-n'] if self.become else []) + list(remote_argv)
        return argv + ['--', ' '.join(shlex.quote(w) for w in words)]

    def run_command(self, args, check_rc=False, environ_update=None, expand_user_and_vars=False):
        """Run ``args`` on the Domain-0: (rc, stdout, stderr); an ssh failure raises Dom0UnreachableError."""
        argv = self.argv(args)
        deadline = self.connect_timeout + self.command_timeout + KILL_AFTER + 10
        try:
            proc = self.runner(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=deadline,
                               check=False)
        except subprocess.TimeoutExpired:
            raise Dom0UnreachableError('ssh to %s did not finish within %d s' % (self.name, deadline))
        except OSError as exc:
            raise Dom0UnreachableError('cannot run ssh: %s' % exc)
        if proc.returncode == SSH_FAILED:
            raise Dom0UnreachableError('ssh to %s failed: %s' % (self.name, (proc.stderr or '').strip()
                                                                 or 'exit status 255'))
        return proc.returncode, proc.stdout, proc.stderr

    def client(self, xl_path='xl'):
        return XlClient(XlRunner(self.run_command, xl_path, 'timeout', self.command_timeout))


def target_from_hostvars(name, hostvars, ssh_args=(), connect_timeout=30, command_timeout=60, become=False):
    """An SshTarget from a Domain-0's inventory variables (literal values only)."""
    found = {}
    for key, names in CONNECTION_VARS.items():
        for var in names:
            if hostvars.get(var) not in (None, ''):
                value = hostvars[var]
                if isinstance(value, str) and ('{{' in value or '{%' in value):
                    raise AnsibleParserError(
                        'xen_guests: %s of Domain-0 %s is a template (%s); this plugin reads inventory values as '
                        'they are: give a literal value, or list the Domain-0 under dom0s' % (var, name, value))
                found[key] = value
                break
    args = shlex.split(str(found.get('common_args', ''))) + shlex.split(str(found.get('extra_args', '')))
    port = found.get('port')
    try:
        port = int(port) if port not in (None, '') else None
    except (TypeError, ValueError):
        raise AnsibleParserError('xen_guests: ansible_port of Domain-0 %s is not a number: %r' % (name, port))
    return SshTarget(name, host=found.get('host'), port=port, user=found.get('user'),
                     private_key_file=found.get('private_key_file'), ssh_args=args + list(ssh_args),
                     connect_timeout=connect_timeout, command_timeout=command_timeout, become=become)


def survey_dom0(client):
    """Every domain on one Domain-0 but Domain-0 itself (XlClient.list_all: ``xl list`` merged with ``xl list -l``)."""
    return [row for row in client.list_all() if row['domid'] != 0]


def _in_flight(row, suffix):
    """A copy that a live migration leaves for a moment: renamed by xl, or suspended on the source."""
    return suffix is not None or (row['state'] == 'shutdown' and row.get('shutdown_reason') == 'suspend')


def guests_from_surveys(surveys, states):
    """{dom0: [domain rows]} -> ({guest name: host variables}, [warnings]).

    A live migration shows for a moment as ``NAME--incoming`` on the target (left out) and ``NAME--migratedaway``
    or a suspended ``NAME`` on the source: one guest, with ``xen_migrating``, reported where it is active.  Two
    active copies on different Domain-0s are a split brain: reported where it runs (active beats paused), with
    ``xen_seen_on`` listing every copy, and a warning.
    """
    copies = {}
    for dom0 in sorted(surveys):
        for row in surveys[dom0]:
            name, suffix = split_transient(row['name'])
            if suffix == '--incoming':
                continue
            copies.setdefault(name, []).append((dom0, row, _in_flight(row, suffix)))
    rank = {'running': 0, 'blocked': 0, 'runnable': 0, 'paused': 1}
    guests, warnings = {}, []
    for name in sorted(copies):
        found = sorted(copies[name], key=lambda c: (c[2], rank.get(c[1]['state'], 2), c[0]))
        dom0, row, _moving = found[0]
        active = [(d, r) for d, r, moving in found if not moving and r['state'] in ACTIVE]
        if len(active) > 1:
            warnings.append('xen_guests: %s is active on %d Domain-0s: %s; reported on %s' % (
                name, len(active), ', '.join('%s (%s)' % (d, r['state']) for d, r in active), dom0))
        migrating = any(moving for _d, _r, moving in found)
        # a guest on its way is not down: it passes the filter as an active one would
        if row['state'] not in states and not (migrating and not active and set(states) & set(ACTIVE)):
            continue
        guests[name] = {
            'xen_dom0': dom0,
            'xen_domid': row['domid'],
            'xen_uuid': row.get('uuid'),
            'xen_type': row.get('type'),
            'xen_state': row['state'],
            'xen_state_flags': row.get('state_flags'),
            'xen_memory_mib': row.get('memory_mib'),
            'xen_maxmem_mib': row.get('maxmem_mib'),
            'xen_vcpus': row.get('vcpus'),
            'xen_maxvcpus': row.get('maxvcpus'),
            'xen_disks': [d['target'] for d in row.get('disks') or [] if d.get('target')],
            'xen_macs': [n['mac'] for n in row.get('vifs') or [] if n.get('mac')],
            'xen_ips': [ip for n in row.get('vifs') or [] for ip in (n.get('ip') or '').split() if ip],
            'xen_migrating': migrating,
            'xen_duplicated': len(active) > 1,
            'xen_seen_on': [d for d, _r, _m in found],
        }
    return guests, warnings


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = 'xenfleet.xen.xen_guests'

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(('xen_guests.yml', 'xen_guests.yaml'))

    def _targets(self):
        common = dict(connect_timeout=self.get_option('connect_timeout'), command_timeout=self.get_option('xl_timeout'),
                      become=self.get_option('become'))
        extra = self.get_option('ssh_args') or []
        listed = self.get_option('dom0s')
        if listed:
            targets = []
            for item in listed:
                if not item.get('name'):
                    raise AnsibleParserError('xen_guests: every entry of dom0s needs a name, got %r' % (item,))
                targets.append(SshTarget(item['name'], host=item.get('host'), port=item.get('port'),
                                         user=item.get('user'), private_key_file=item.get('private_key_file'),
                                         ssh_args=list(item.get('ssh_args') or []) + list(extra), **common))
            return targets
        group_name = self.get_option('dom0_group')
        group = self.inventory.groups.get(group_name)
        if group is None or not group.get_hosts():
            raise AnsibleParserError(
                'xen_guests: the inventory has no host in group %s: give the inventory of the Domain-0s before this '
                'file (-i hosts.yml -i xen_guests.yml), or list them under dom0s' % group_name)
        targets = []
        for host in sorted(group.get_hosts(), key=lambda h: h.name):
            hostvars = combine_vars(get_group_vars(host.get_groups()), host.get_vars())
            targets.append(target_from_hostvars(host.name, hostvars, ssh_args=extra, **common))
        return targets

    def _survey(self, targets):
        """{dom0: rows} of the Domain-0s that answered, {dom0: error} of the others."""
        xl_path = self.get_option('xl_path')

        def ask(target):
            try:
                return target.name, survey_dom0(target.client(xl_path)), None
            except (Dom0UnreachableError, XlError) as exc:
                return target.name, None, str(getattr(exc, 'message', None) or exc)

        surveys, failures = {}, {}
        with ThreadPoolExecutor(max_workers=max(1, min(self.get_option('forks'), len(targets)))) as pool:
            for name, rows, error in pool.map(ask, targets):
                if error is None:
                    surveys[name] = rows
                else:
                    failures[name] = error
        return surveys, failures

    def _populate(self, surveys):
        group = self.inventory.add_group(self.get_option('group'))
        guests, warnings = guests_from_surveys(surveys, self.get_option('states'))
        for warning in warnings:
            display.warning(warning)
        strict = self.get_option('strict')
        for name, facts in guests.items():
            self.inventory.add_host(name, group=group)
            if facts['xen_duplicated']:
                self.inventory.add_child(self.inventory.add_group(group + '_duplicated'), name)
            for key, value in facts.items():
                self.inventory.set_variable(name, key, value)
            hostvars = self.inventory.get_host(name).get_vars()
            self._set_composite_vars(self.get_option('compose'), hostvars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), hostvars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), hostvars, name, strict=strict)

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option('cache') and cache
        update_cache = self.get_option('cache') and not cache
        surveys, failures = None, {}
        if use_cache:
            try:
                surveys = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if surveys is None:
            surveys, failures = self._survey(self._targets())
            for dom0 in sorted(failures):
                message = 'xen_guests: Domain-0 %s could not be asked: %s' % (dom0, failures[dom0])
                if self.get_option('unreachable') == 'error':
                    raise AnsibleParserError(message)
                display.warning(message + '; its guests are left out')
        if update_cache and not failures:  # never cache an answer with a Domain-0 missing
            self._cache[cache_key] = surveys
        self._populate(surveys)
