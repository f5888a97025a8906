#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xen_migrate
short_description: Live-migrate a Xen domain to another Domain-0, with pre-checks and downtime figures
version_added: 0.1.0
description:
  - Live-migrates a domain with C(xl migrate) from the Domain-0 the task runs on (the source) to the
    Domain-0 at O(target), and returns the total time and the downtime.
  - "The migration trust of the M(xenfleet.xen.dom0) role lets a peer's key run only C(xl migrate-receive) on
    the target. The source therefore cannot ask the target anything else, and the target's side of the
    pre-checks comes from the target itself. Run this module there first with O(mode=probe) and
    C(delegate_to). It reports RV(target_facts): the Xen version, the free memory, whether a domain of that
    name exists, and whether the disk paths exist. Pass that to the migration as O(target_facts)."
  - "On the source, the pre-checks are: the domain runs (or is paused) here; Xen here can track the guest's
    dirty pages (a pv guest needs shadow paging, and a Xen built without it, such as Debian 12's 4.17.7,
    can only live-migrate pvh and hvm guests, which use HAP); the target is reachable over the migration
    trust (C(ssh ADDRESS true) must reach it and be refused by the role's forced command); the domain's
    memory fits the target's free memory; the Xen versions are compatible (Ganeti's rule: same major
    version, target minor version equal or one higher); no domain of that name exists on the target;
    every disk path exists on the target. A failed pre-check changes nothing."
  - Idempotent. When the domain is not on the source and O(target_facts) says it runs on the target,
    nothing is done.
  - "C(xl migrate) resumes the guest on the source when the target fails, for example when the target
    cannot build the domain or a domain of that name appears there. The module then fails, and says
    where the guest is (RV(guest_on_source), RV(source_state)). The one case xl cannot undo is a failure
    during the final handshake. The source then keeps C(<name>--migratedaway), and the module says so."
  - "The downtime is measured in the best way available: the longest gap between replies of a ping probe
    of the guest from the source (O(probe_address)); else from the suspend request (a xenstore watch on
    the domain's C(control/shutdown) node) to the target's C(Domain started) line, which comes back on
    xl's stderr through ssh; else from the target's C(Transfer complete) to C(Domain started), a lower
    bound. Polling C(xl list) on both ends cannot work here, because the source may not run commands on
    the target. The event times are better than polling anyway: they are to the line, not to the polling
    interval."
author:
  - xenfleet developers (@xenfleet)
options:
  name:
    description: The domain to migrate (or, with O(mode=probe), to check for).
    type: str
    required: true
  mode:
    description:
      - V(migrate) runs on the source and migrates.
      - V(probe) runs on the target (use C(delegate_to)) and reports RV(target_facts) for the pre-checks.
        With O(transport=socat), it also starts the one-shot receiver.
    type: str
    choices: [migrate, probe]
    default: migrate
  target:
    description:
      - The target Domain-0's migration address, as the dom0 role configures it in root's ssh config
        (C(dom0_migration_address), by default the guest bridge's address).
      - With O(mode=probe), the same address, which is this host's own. The socat receiver listens on it.
    type: str
    required: true
  target_facts:
    description:
      - RV(target_facts) from a O(mode=probe) run on the target, shortly before.
      - Without it, only the checks on the source side run, and C(xl migrate) is the only judge of the rest.
    type: dict
  transport:
    description:
      - V(ssh) (the default) sends the stream through C(ssh TARGET xl migrate-receive), using the dom0
        role's migration key, pinned host keys and forced command. It is encrypted, and both ends are
        authenticated.
      - "V(socat) sends it over plain TCP to a one-shot C(socat) receiver on the target, the way Ganeti does.
        It is faster, because nothing is encrypted. The security is different: the guest's memory, secrets
        included, crosses the network in clear. Nothing authenticates the sender, except that the receiver
        accepts one connection, from O(source_address) only (socat's C(range), an IP check, which a host on
        the same network can spoof). That connection goes straight to C(xl migrate-receive), running as root
        in the target's Domain-0. Use it only on a dedicated, isolated migration network. The receiver
        listens only on O(target), accepts one connection and exits after O(receive_timeout) seconds."
    type: str
    choices: [ssh, socat]
    default: ssh
  port:
    description: The TCP port of the socat receiver.
    type: int
    default: 8002
  source_address:
    description: With O(mode=probe) and O(transport=socat), the source Domain-0's migration address, the only peer the receiver accepts.
    type: str
  receive_timeout:
    description: With O(mode=probe) and O(transport=socat), how many seconds the receiver waits for the stream.
    type: int
    default: 300
  disks:
    description:
      - With O(mode=probe), the disk paths to check on the target.
      - By default, the disks of C(/etc/xen/<name>.cfg) on the target, if that file exists
        (M(xenfleet.xen.xen_domain) with O(xenfleet.xen.xen_domain#module:state=present) writes it there).
    type: list
    elements: str
  ssh_command:
    description:
      - The ssh command, as a list of words, in place of C(ssh). Root's ssh config, written by the dom0
        role, already selects the migration key and the pinned host keys for the peers' addresses.
    type: list
    elements: str
  check_version:
    description: Enforce Ganeti's version rule. V(false) reports the versions but lets the migration try.
    type: bool
    default: true
  probe_address:
    description:
      - An IP address of the guest to ping from the source during the migration (every O(ping_interval)
        seconds). The longest gap between replies is the downtime a client sees.
      - The source must reach the guest on both hosts, for example through the guest bridges joined by
        the migration network.
    type: str
  ping_interval:
    description: Seconds between two pings of O(probe_address).
    type: float
    default: 0.2
  timeout:
    description: Seconds C(xl migrate) may run before it is stopped.
    type: int
    default: 900
extends_documentation_fragment:
  - xenfleet.xen.xl
attributes:
  check_mode:
    support: full
    details:
      - In check mode every pre-check runs, including the ssh probe, which changes nothing. The probe does
        not start a socat receiver.
  diff_mode:
    support: partial
    details:
      - The diff shows where the domain runs, before and after.
notes:
  - Must run as root in Domain-0, on the source (O(mode=migrate)) or on the target (O(mode=probe)).
  - C(xl migrate) sends the configuration the domain was created with. Write the config file on the target
    too (M(xenfleet.xen.xen_domain) with O(xenfleet.xen.xen_domain#module:state=present)), so that the domain
    can be restarted there.
  - An entry in C(/etc/xen/auto) on the source would start a second copy of the domain when the source
    boots. The module warns when one is left behind after a migration.
seealso:
  - module: xenfleet.xen.xen_domain
  - module: xenfleet.xen.xen_host_info
  - name: xl(1), migrate
    description: The xl migrate command.
    link: https://xenbits.xen.org/docs/unstable/man/xl.1.html
"""

EXAMPLES = r"""
- name: What can xen2 take? (runs on the target)
  xenfleet.xen.xen_migrate:
    name: web1
    mode: probe
    target: 10.0.0.12
  delegate_to: xen2
  register: xen2_probe

- name: Live-migrate web1 from xen1 to xen2 over ssh, with a ping probe of the guest
  xenfleet.xen.xen_migrate:
    name: web1
    target: 10.0.0.12
    target_facts: "{{ xen2_probe.target_facts }}"
    probe_address: 10.0.0.50
  delegate_to: xen1
  register: moved

- name: Show the figures
  ansible.builtin.debug:
    msg: "{{ moved.total_seconds }} s in all, {{ moved.downtime_seconds }} s down ({{ moved.downtime.method }})"

- name: The same over socat, on a dedicated migration network (plain TCP)
  block:
    - name: Start a one-shot receiver on xen2 that accepts xen1 only
      xenfleet.xen.xen_migrate:
        name: web1
        mode: probe
        target: 10.9.0.12
        transport: socat
        source_address: 10.9.0.11
      delegate_to: xen2
      register: xen2_probe

    - name: Migrate
      xenfleet.xen.xen_migrate:
        name: web1
        target: 10.9.0.12
        transport: socat
        target_facts: "{{ xen2_probe.target_facts }}"
      delegate_to: xen1
"""

RETURN = r"""
target_facts:
  description: With O(mode=probe), what this host (the target) reports for the pre-checks.
  returned: when O(mode=probe)
  type: dict
  contains:
    host:
      description: The host name, per C(xl info).
      type: str
    address:
      description: The migration address (O(target)).
      type: str
    xen_version:
      description: The Xen version.
      type: str
      sample: 4.17.5
    free_memory_mib:
      description: Free memory, per C(xl info).
      type: int
    domain:
      description: Whether a domain of that name exists here, its state and domid.
      type: dict
    paths:
      description: Each disk path checked, and whether it exists here.
      type: dict
      sample: {"/dev/xenvg/web1-root": true}
    receiver:
      description: The socat receiver started (address, port, source_address, pid, expires_in, log), or V(null).
      type: dict
migrated:
  description: Whether the domain was migrated by this run.
  returned: with O(mode=migrate)
  type: bool
checks:
  description: The pre-checks, each with V(name), V(ok) (V(null) when skipped) and V(detail).
  returned: with O(mode=migrate)
  type: list
  elements: dict
  sample: [{"name": "memory", "ok": true, "detail": "web1 holds 512 MiB; the target has 1000 MiB free"}]
source:
  description: The source side (host, xen_version, domid, memory_mib, state) before the migration.
  returned: with O(mode=migrate), when the domain was on the source
  type: dict
total_seconds:
  description: The wall time of C(xl migrate).
  returned: when the domain was migrated
  type: float
  sample: 29.4
module_seconds:
  description: The wall time of the module on the source, pre-checks included.
  returned: when the domain was migrated
  type: float
  sample: 31.2
downtime_seconds:
  description: The downtime, by the method in RV(downtime.method).
  returned: when the domain was migrated
  type: float
  sample: 5.6
downtime:
  description: The downtime by each method.
  returned: when the domain was migrated
  type: dict
  contains:
    seconds:
      description: The best figure available.
      type: float
    method:
      description: V(ping), V(xenstore) or V(protocol) (a lower bound).
      type: str
    suspend_to_start_seconds:
      description: From the suspend request on the source to the target's C(Domain started).
      type: float
    transfer_complete_to_start_seconds:
      description: From the target's C(Transfer complete) to its C(Domain started).
      type: float
    ping:
      description: The ping probe (replies, lost, max_gap_seconds, gap_from, gap_to).
      type: dict
events:
  description: Seconds from the start of C(xl migrate) to each step that xl printed, on either end.
  returned: when the domain was migrated
  type: dict
  sample: {"target_ready": 1.2, "target_transfer_complete": 26.1, "target_started": 28.9}
timeline:
  description: Every line of xl's stderr, and the suspend request, with its time in seconds.
  returned: when the domain was migrated
  type: list
  elements: dict
cmd:
  description: The C(xl migrate) command line run (an argument list, no shell).
  returned: when the domain was migrated
  type: list
  elements: str
guest_on_source:
  description: On failure, whether the guest is still running (or paused) on the source.
  returned: on failure of C(xl migrate)
  type: bool
source_state:
  description: On failure, the domain's state on the source.
  returned: on failure of C(xl migrate)
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_migrate as m
from ansible_collections.xenfleet.xen.plugins.module_utils import xl_service
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_client import XlClient
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', required=True),
            mode=dict(type='str', default='migrate', choices=['migrate', 'probe']),
            target=dict(type='str', required=True),
            target_facts=dict(type='dict'),
            transport=dict(type='str', default='ssh', choices=list(m.TRANSPORTS)),
            port=dict(type='int', default=m.DEFAULT_PORT),
            source_address=dict(type='str'),
            receive_timeout=dict(type='int', default=300),
            disks=dict(type='list', elements='str'),
            ssh_command=dict(type='list', elements='str'),
            check_version=dict(type='bool', default=True),
            probe_address=dict(type='str'),
            ping_interval=dict(type='float', default=0.2),
            timeout=dict(type='int', default=900),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not 1 <= p['port'] <= 65535:
        module.fail_json(msg='port must be between 1 and 65535, got %d' % p['port'])
    for key in ('timeout', 'receive_timeout'):
        if p[key] < 1:
            module.fail_json(msg='%s must be at least 1 second, got %d' % (key, p[key]))
    if p['ping_interval'] < 0.01:
        module.fail_json(msg='ping_interval must be at least 0.01 s')
    if p['mode'] == 'probe' and p['transport'] == 'socat' and not p['source_address']:
        module.fail_json(msg='mode=probe with transport=socat needs source_address')

    def bin_path(name):
        return module.get_bin_path(name, required=False, opt_dirs=['/usr/sbin', '/sbin', '/usr/bin'])

    service = None
    try:
        client = XlClient.from_module(module, timeout=60)
        service = m.MigrationService(client, module.run_command, bin_path, root=xl_service.ROOT)
        if p['mode'] == 'probe':
            facts, changed = service.probe(p['name'], p['target'], disks=p['disks'], transport=p['transport'],
                                           source_address=p['source_address'], port=p['port'],
                                           receive_timeout=p['receive_timeout'], check_mode=module.check_mode)
            module.exit_json(changed=changed, target_facts=facts)
        result = service.migrate(p['name'], p['target'], facts=p['target_facts'], transport=p['transport'],
                                 ssh_command=p['ssh_command'], check_version=p['check_version'],
                                 probe_address=p['probe_address'], ping_interval=p['ping_interval'],
                                 timeout=p['timeout'], check_mode=module.check_mode)
    except XlError as exc:
        for warning in service.warnings if service else []:
            module.warn(warning)
        module.fail_json(msg=exc.message, **dict(exc.to_dict(), **exc.details))
    for warning in service.warnings:
        module.warn(warning)
    if module._diff:
        where_before = 'source' if result['source'] else 'target'
        where_after = 'target' if result['changed'] or where_before == 'target' else where_before
        result['diff'] = {'before': {'runs_on': where_before}, 'after': {'runs_on': where_after}}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
