#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xen_domain
short_description: Declarative Xen guests with xl (config, state, live changes, save and restore)
version_added: 0.1.0
description:
  - Manages a Xen guest (a domain) through C(xl) in Domain-0. The configuration is written to
    C(/etc/xen/<name>.cfg) from typed options, and the domain is brought to the requested O(state).
  - Idempotent. The existing config file is parsed and compared by meaning, not by text, so a file
    whose content already means the same thing is left alone, comments and layout included.
  - MAC addresses of vifs that have none are derived from the domain name and the vif index, and a MAC
    the config file or the running domain already has is kept. A rerun never changes a MAC.
  - On a running domain, changes that C(xl) can make live are made without a restart and listed in
    RV(live_changes). These are the memory target (C(xl mem-set)), a lower O(maxmem) (C(xl mem-max)),
    the vCPUs online (C(xl vcpu-set)), the scheduler weight and cap (C(xl sched-credit2) or
    C(xl sched-credit)) and the vCPU pinning (C(xl vcpu-pin)). Other changes, such as the kernel, the
    disks, the vifs, a higher O(maxmem) or O(maxvcpus), or raw keys, take effect at the next start.
    They are listed in RV(restart_reasons), and the domain is restarted only with O(restart=true).
  - Before starting a domain, the module checks that its memory fits the host's free memory
    (C(xl info)). If it does not fit, the module fails with the figures and changes nothing.
  - O(state=shutdown) waits until the domain is really gone, not only until C(xl shutdown) returns.
    C(xl shutdown -w) has been seen returning while C(xl list) still showed the domain. After
    O(shutdown_timeout) seconds, the module fails, or destroys the domain with O(force=true).
  - Every difference is recorded once, and the C(changed) result, RV(changes) and the diff all come from
    that record. Check mode predicts the same changes that a real run makes.
author:
  - xenfleet developers (@xenfleet)
options:
  name:
    description:
      - The domain name. It is also the config file name, C(/etc/xen/<name>.cfg).
      - Letters, digits, C(_), C(.) and C(-). A name made only of digits is refused, because xl would take
        it as a domain id.
    type: str
    required: true
  state:
    description:
      - V(present) writes the config file (when configuration options are given) and leaves a running
        domain running, applying live changes to it.
      - V(running) and V(paused) also start the domain if needed (C(xl create), or C(xl create -p)), and
        unpause or pause it. A domain found shut down or crashed but not yet destroyed is destroyed and
        started again.
      - V(shutdown) shuts the domain down and waits until it is gone. The config file stays.
      - V(absent) shuts the domain down, then removes the config file and the C(/etc/xen/auto) entry.
      - V(saved) saves the domain's memory to O(save_file) with C(xl save). The domain is then gone.
        A rerun with the domain gone and the file present changes nothing.
      - V(restored) restores the domain from O(save_file) with C(xl restore), unless the domain already
        exists. The file is left in place.
    type: str
    default: present
    choices: [present, running, paused, shutdown, absent, saved, restored]
  type:
    description:
      - The guest type. When configuration options are given, the default is V(pv).
      - Under QEMU/TCG (the lab), V(pvh) and V(hvm) guests need C(tsc_mode=native) in O(raw).
    type: str
    choices: [pv, pvh, hvm]
  memory:
    description:
      - The memory in MiB, that is the balloon target at start.
      - Required when configuration options are given, because the configuration is then managed
        as a whole.
    type: int
  maxmem:
    description:
      - The maximum memory in MiB. When it is not given, xl uses O(memory).
      - Lowering it on a running domain is done live with C(xl mem-max). Raising it needs a restart.
    type: int
  vcpus:
    description: The vCPUs online at start. Changed live with C(xl vcpu-set), up to the domain's maximum.
    type: int
  maxvcpus:
    description: The maximum vCPUs. A change needs a restart.
    type: int
  cpus:
    description:
      - The physical CPUs every vCPU may run on (the hard affinity), as a cpulist such as V(0-3), V(0,2)
        or V(all).
      - Applied live with C(xl vcpu-pin <name> all <cpus>).
    type: str
  cpu_weight:
    description: The scheduler weight (1 to 65535). Applied live.
    type: int
  cap:
    description: The scheduler cap, in percent of one physical CPU. V(0) means no cap. Applied live.
    type: int
  kernel:
    description:
      - The kernel, for direct boot. An absolute path in Domain-0.
      - An hvm guest boots a kernel directly through the qemu-xen device model in Domain-0 with SeaBIOS, the defaults
        (xl.cfg(5), Direct Kernel Boot); with a device model stub domain, qemu-xen-traditional or another firmware
        in O(raw) it is refused before anything runs.
    type: str
  ramdisk:
    description: The initial ramdisk for direct boot. An absolute path in Domain-0.
    type: str
  extra:
    description: The kernel command line (xl.cfg C(extra)).
    type: str
  bootloader:
    description: The bootloader of a pv guest, for example V(pygrub).
    type: str
  disks:
    description:
      - The virtual disks, in order. Each one is written as a canonical disk spec, see
        C(xl-disk-configuration(5)).
    type: list
    elements: dict
    suboptions:
      target:
        description: The backing device or file in Domain-0. An empty CD-ROM drive may omit it.
        type: str
      vdev:
        description: The device name in the guest, for example V(xvda).
        type: str
        required: true
      format:
        description: The image format.
        type: str
        choices: [raw, qcow, qcow2, vhd, qed, empty]
        default: raw
      access:
        description: Read-write or read-only. The default is V(rw) for a disk and V(ro) for a CD-ROM.
        type: str
        choices: [rw, ro]
      devtype:
        description: A disk or a CD-ROM drive.
        type: str
        choices: [disk, cdrom]
        default: disk
      backendtype:
        description: The backend. By default libxl picks one.
        type: str
        choices: [phy, qdisk, standalone]
      script:
        description: A block script for the target, for example V(block-iscsi).
        type: str
  vifs:
    description:
      - The virtual network interfaces, in order. Each one is written as a vifspec, see
        C(xl-network-configuration(5)).
    type: list
    elements: dict
    suboptions:
      mac:
        description:
          - The MAC address. When it is not given, the vif keeps the MAC it already has in the config file
            or in the running domain. If it has none, a MAC in Xen's range C(00:16:3e) is derived from
            the domain name and the vif index, so it is the same on every run and every host.
        type: str
      bridge:
        description: The bridge in Domain-0. The default is xl.conf's C(vif.default.bridge).
        type: str
      ip:
        description: The IP address, for the vif-route and vif-nat scripts.
        type: str
      model:
        description: The emulated NIC model of an HVM guest, for example V(e1000).
        type: str
      vifname:
        description: The name of the backend interface in Domain-0.
        type: str
      script:
        description: The hotplug script, for example V(vif-bridge).
        type: str
      type:
        description: V(vif) for a PV interface only, V(ioemu) for an emulated one as well (HVM).
        type: str
        choices: [vif, ioemu]
      rate:
        description: A rate limit, for example V(100Mb/s).
        type: str
      mtu:
        description: The MTU.
        type: int
  on_poweroff:
    description: What Xen does when the guest powers off.
    type: str
    choices: [destroy, restart, rename-restart, preserve, coredump-destroy, coredump-restart, soft-reset]
  on_reboot:
    description: What Xen does when the guest reboots.
    type: str
    choices: [destroy, restart, rename-restart, preserve, coredump-destroy, coredump-restart, soft-reset]
  on_crash:
    description: What Xen does when the guest crashes.
    type: str
    choices: [destroy, restart, rename-restart, preserve, coredump-destroy, coredump-restart, soft-reset]
  raw:
    description:
      - More xl.cfg keys, written as given. Strings are quoted. Integers, booleans (written 1 or 0)
        and lists are written as they are.
      - A key that has its own option here (C(memory), C(disk), C(vif)...) is refused.
      - A change of a raw key on a running domain is reported as needing a restart.
    type: dict
  autostart:
    description:
      - V(true) links C(/etc/xen/auto/<name>) to the config file, so that C(xendomains) starts the domain
        at boot. V(false) removes the entry that starts it.
      - When it is not given, the entry is left alone, except with O(state=absent), which removes it.
    type: bool
  restart:
    description:
      - Restart a running domain whose configuration changed in a way that cannot be applied live.
        The restart is a shutdown followed by a start from the new config file.
      - Without it, such changes are only reported in RV(restart_reasons).
    type: bool
    default: false
  shutdown_timeout:
    description: Seconds to wait for a shutdown until the domain is gone.
    type: int
    default: 120
  force:
    description: Destroy the domain (C(xl destroy)) when it has not shut down within O(shutdown_timeout).
    type: bool
    default: false
  save_file:
    description: The file of O(state=saved) and O(state=restored). An absolute path in Domain-0.
    type: str
  timeout:
    description: Seconds each C(xl) command may run before it is stopped (create, save and restore included).
    type: int
    default: 300
extends_documentation_fragment:
  - xenfleet.xen.xl
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The config file is shown as a text diff, and the state, live changes and autostart entry as values.
notes:
  - Must run as root in Domain-0.
  - Memory figures are in MiB.
  - The config file is managed as a whole. Keys that the options and O(raw) do not give are removed.
  - To migrate a domain with M(xenfleet.xen.xen_migrate), write its config on every host that may run it
    (O(state=present)). C(xl migrate) carries the configuration the domain was created with, not the file.
seealso:
  - module: xenfleet.xen.xen_domain_info
  - module: xenfleet.xen.xen_migrate
  - name: xl.cfg(5)
    description: The domain configuration file format.
    link: https://xenbits.xen.org/docs/unstable/man/xl.cfg.5.html
"""

EXAMPLES = r"""
# The configuration is managed as a whole, so every task that changes it gives all of it.
# Here the options the two tasks share are a YAML anchor (&web1), merged into the second task.
- name: A small PV guest with a disk and a vif, started at boot
  xenfleet.xen.xen_domain:
    <<: &web1
      name: web1
      state: running
      type: pv
      maxmem: 1024
      vcpus: 2
      kernel: /var/lib/xen/kernels/vmlinuz
      ramdisk: /var/lib/xen/kernels/initrd.img
      extra: "root=/dev/xvda1 ro console=hvc0"
      disks:
        - target: /dev/xenvg/web1-root
          vdev: xvda
      vifs:
        - bridge: xenbr0
      on_crash: restart
    memory: 512
    autostart: true

- name: Give web1 less memory, live (xl mem-set), without a restart
  xenfleet.xen.xen_domain:
    <<: *web1
    memory: 384
  register: web1

- name: Say when a restart is pending
  ansible.builtin.debug:
    msg: "web1 needs a restart for {{ web1.restart_reasons | map(attribute='key') | join(', ') }}"
  when: web1.restart_required

- name: Shut web1 down, destroying it if it has not stopped after 2 minutes
  xenfleet.xen.xen_domain:
    name: web1
    state: shutdown
    shutdown_timeout: 120
    force: true

- name: Save web1's memory to a file (the domain stops)
  xenfleet.xen.xen_domain:
    name: web1
    state: saved
    save_file: /var/lib/xen/save/web1.save

- name: And bring it back
  xenfleet.xen.xen_domain:
    name: web1
    state: restored
    save_file: /var/lib/xen/save/web1.save

- name: Remove web1, its config and its autostart entry
  xenfleet.xen.xen_domain:
    name: web1
    state: absent
    force: true
"""

RETURN = r"""
state:
  description: The domain's state afterwards (V(absent), V(running), V(paused), or the state found for O(state=present)).
  returned: always
  type: str
  sample: running
state_before:
  description: The state found, as decoded from C(xl list), or V(absent).
  returned: always
  type: str
  sample: blocked
config_path:
  description: The config file.
  returned: always
  type: str
  sample: /etc/xen/web1.cfg
config:
  description: The configuration (parsed), as it is afterwards, or V(null) when there is no config file.
  returned: always
  type: dict
  sample: {"name": "web1", "type": "pv", "memory": 512, "vif": ["mac=00:16:3e:1a:2b:3c, bridge=xenbr0"]}
config_changed:
  description: Whether the config file was (or in check mode, would be) written or removed.
  returned: always
  type: bool
live_changes:
  description: The changes made (or to be made) to the running domain without a restart.
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: The config key (V(memory), V(maxmem), V(vcpus), V(cpu_weight), V(cap), V(cpus)).
      type: str
    before:
      description: The value the running domain had.
      type: raw
    after:
      description: The new value.
      type: raw
    command:
      description: The xl client operation (V(mem_set), V(mem_max), V(vcpu_set), V(sched_credit), V(vcpu_pin)).
      type: str
  sample: [{"key": "memory", "before": 512, "after": 384, "command": "mem_set"}]
restart_required:
  description: Whether the running domain differs from its configuration in ways only a restart applies.
  returned: always
  type: bool
restart_reasons:
  description: Those differences, each with V(key), the V(running) value and the V(config) value.
  returned: always
  type: list
  elements: dict
  sample: [{"key": "kernel", "running": "/boot/vmlinuz-6.1.0-25-amd64", "config": "/boot/vmlinuz-6.1.0-26-amd64"}]
restarted:
  description: Whether the domain was (or in check mode, would be) restarted.
  returned: always
  type: bool
actions:
  description: What was done (or in check mode, would be done), in order.
  returned: always
  type: list
  elements: str
  sample: ["write /etc/xen/web1.cfg", "create web1"]
changes:
  description: Every recorded difference. The C(changed) result and the diff are computed from these.
  returned: always
  type: list
  elements: dict
  sample: [{"key": "memory", "kind": "config", "before": 512, "after": 384}]
shutdown_seconds:
  description: How long the shutdown took until the domain was gone.
  returned: when the domain was shut down
  type: float
  sample: 4.8
destroyed_after_timeout:
  description: Whether the domain was destroyed because it did not shut down within O(shutdown_timeout).
  returned: always
  type: bool
domain:
  description: The domain's C(xl list) row afterwards, or V(null) when it does not exist.
  returned: always
  type: dict
  sample: {"name": "web1", "domid": 7, "state": "blocked", "memory_mib": 384, "vcpus": 2}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_domain as d
from ansible_collections.xenfleet.xen.plugins.module_utils import xl_service
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_client import XlClient
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlError

_ACTION_CHOICES = list(d.ACTIONS)


def argument_spec():
    return dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=list(d.STATES)),
        type=dict(type='str', choices=list(d.TYPES)),
        memory=dict(type='int'),
        maxmem=dict(type='int'),
        vcpus=dict(type='int'),
        maxvcpus=dict(type='int'),
        cpus=dict(type='str'),
        cpu_weight=dict(type='int'),
        cap=dict(type='int'),
        kernel=dict(type='str'),
        ramdisk=dict(type='str'),
        extra=dict(type='str'),
        bootloader=dict(type='str'),
        disks=dict(type='list', elements='dict', options=dict(
            target=dict(type='str'),
            vdev=dict(type='str', required=True),
            format=dict(type='str', default='raw', choices=list(d.DISK_FORMATS)),
            access=dict(type='str', choices=list(d.DISK_ACCESS)),
            devtype=dict(type='str', default='disk', choices=list(d.DISK_DEVTYPES)),
            backendtype=dict(type='str', choices=list(d.DISK_BACKENDTYPES)),
            script=dict(type='str'),
        )),
        vifs=dict(type='list', elements='dict', options=dict(
            mac=dict(type='str'),
            bridge=dict(type='str'),
            ip=dict(type='str'),
            model=dict(type='str'),
            vifname=dict(type='str'),
            script=dict(type='str'),
            type=dict(type='str', choices=list(d.VIF_TYPES)),
            rate=dict(type='str'),
            mtu=dict(type='int'),
        )),
        on_poweroff=dict(type='str', choices=_ACTION_CHOICES),
        on_reboot=dict(type='str', choices=_ACTION_CHOICES),
        on_crash=dict(type='str', choices=_ACTION_CHOICES),
        raw=dict(type='dict'),
        autostart=dict(type='bool'),
        restart=dict(type='bool', default=False),
        shutdown_timeout=dict(type='int', default=120),
        force=dict(type='bool', default=False),
        save_file=dict(type='str'),
        timeout=dict(type='int', default=300),
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_if=[('state', 'saved', ('save_file',)), ('state', 'restored', ('save_file',))],
        supports_check_mode=True,
    )
    params = module.params
    for key in ('shutdown_timeout', 'timeout'):
        if params[key] < 1:
            module.fail_json(msg='%s must be at least 1 second, got %d' % (key, params[key]))
    try:
        client = XlClient.from_module(module, timeout=params['timeout'])
        service = d.DomainService(client, root=xl_service.ROOT)
        plan, tracker, facts = service.run(params['name'], params, check_mode=module.check_mode)
        # after a change, xl says where the domain is now; without one, what inspect read is still true
        row = client.state(params['name']) if not module.check_mode and tracker.changed else service.last_row
    except XlError as exc:
        details = dict((k, val) for k, val in exc.details.items() if k not in ('msg', 'changed'))
        module.fail_json(msg=exc.message, **dict(exc.to_dict(), **details))
    result = dict(
        changed=tracker.changed,
        state=plan.state_after if module.check_mode else d.summary_state(row['state'] if row else None),
        state_before=plan.state_before,
        config_path=plan.config_path,
        config=plan.config_after,
        config_changed=plan.write_config or plan.remove_config,
        live_changes=[c.to_dict() for c in plan.live],
        restart_required=bool(plan.restart_reasons) and not plan.restart,
        restart_reasons=plan.restart_reasons,
        restarted=plan.restart,
        actions=d.describe(plan, params['name']),
        changes=tracker.changes(),
        destroyed_after_timeout=facts['destroyed_after_timeout'],
        domain=row,
    )
    if facts['shutdown_seconds'] is not None:
        result['shutdown_seconds'] = facts['shutdown_seconds']
    if module._diff:
        result['diff'] = tracker.diff()
    for warning in plan.warnings + service.warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
