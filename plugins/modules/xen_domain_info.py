#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xen_domain_info
short_description: Facts about Xen domains (state, memory, vCPUs, uptime, disks, vifs, autostart)
version_added: 0.1.0
description:
  - Lists one Xen domain, by name, or all of them, with the state, memory, vCPUs, uptime, the
    configuration file, the disks, the vifs and whether the domain starts at boot.
  - The state comes from C(xl list), the configuration from C(xl list -l) (JSON), the uptime from
    C(xl uptime); the config file is C(/etc/xen/<name>.cfg) and autostart is an entry in C(/etc/xen/auto).
  - A domain that does not exist is not an error, the result is an empty RV(domains) list.
author:
  - xenfleet developers (@xenfleet)
options:
  name:
    description:
      - The name of the domain. Without it, every domain is listed.
    type: str
  states:
    description:
      - Only list domains in one of these states.
      - V(runnable) is a domain that is neither running nor blocked, it waits for a physical CPU.
    type: list
    elements: str
    choices: [running, blocked, runnable, paused, shutdown, crashed, dying]
  include_dom0:
    description:
      - Include Domain-0 in the list.
    type: bool
    default: false
extends_documentation_fragment:
  - xenfleet.xen.xl
  - xenfleet.xen.xl.info
notes:
  - Must run as root in Domain-0.
  - Memory is in MiB.
seealso:
  - module: xenfleet.xen.xen_host_info
"""

EXAMPLES = r"""
- name: List every guest
  xenfleet.xen.xen_domain_info:
  register: guests

- name: Read one guest
  xenfleet.xen.xen_domain_info:
    name: web1
  register: web1

- name: Fail when web1 is not up
  ansible.builtin.assert:
    that:
      - web1.domains | length == 1
      - web1.domains[0].active

- name: Names of the crashed guests
  xenfleet.xen.xen_domain_info:
    states: [crashed]
  register: crashed
"""

RETURN = r"""
domains:
  description: The domains, in C(xl list) order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The domain name.
      type: str
      sample: web1
    domid:
      description: The domain id.
      type: int
      sample: 3
    uuid:
      description: The domain UUID.
      type: str
      sample: 8f0c2a7e-3a57-4b2e-9d2b-0d4b7e1c9a10
    type:
      description: The guest type, V(pv), V(pvh) or V(hvm).
      type: str
      sample: pv
    state:
      description:
        - The main state, decoded from the state flags of C(xl list).
        - One of V(running), V(blocked), V(runnable), V(paused), V(shutdown), V(crashed), V(dying).
      type: str
      sample: blocked
    active:
      description: Whether the guest is executing (V(running), V(blocked) or V(runnable)).
      type: bool
      sample: true
    state_flags:
      description: The six state flags of C(xl list), as printed.
      type: str
      sample: "-b----"
    running:
      description: Flag r, the domain is on a CPU now.
      type: bool
    blocked:
      description: Flag b, the domain is waiting (for I/O or idle).
      type: bool
    paused:
      description: Flag p, the domain is paused.
      type: bool
    shutdown:
      description: Flag s, the guest has shut down.
      type: bool
    shutdown_reason:
      description: Why the guest shut down (V(poweroff), V(reboot), V(suspend), V(crash), V(watchdog), V(soft_reset)).
      type: str
      sample: null
    dying:
      description: Flag d, the domain is being destroyed.
      type: bool
    memory_mib:
      description: The current memory in MiB (C(xl list)).
      type: int
      sample: 128
    maxmem_mib:
      description: The maximum memory in MiB.
      type: int
      sample: 256
    vcpus:
      description: The online vCPUs.
      type: int
      sample: 1
    maxvcpus:
      description: The maximum vCPUs.
      type: int
      sample: 2
    cpu_time:
      description: CPU seconds used.
      type: float
      sample: 4.2
    uptime:
      description: Seconds since the domain was created, per C(xl uptime).
      type: int
      sample: 3600
    kernel:
      description: The kernel for direct boot.
      type: str
    ramdisk:
      description: The initial ramdisk for direct boot.
      type: str
    cmdline:
      description: The kernel command line.
      type: str
    bootloader:
      description: The bootloader (e.g. pygrub).
      type: str
    scheduler:
      description: The scheduler parameters recorded in the configuration.
      type: dict
    vcpu_hard_affinity:
      description: Per vCPU, the physical CPUs it may run on, as recorded in the configuration.
      type: list
      elements: list
    disks:
      description: The virtual disks.
      type: list
      elements: dict
      contains:
        target:
          description: The backing device or file.
          type: str
        vdev:
          description: The device name in the guest.
          type: str
        format:
          description: The image format.
          type: str
        access:
          description: V(rw) or V(ro).
          type: str
        devtype:
          description: V(disk) or V(cdrom).
          type: str
        backend:
          description: The backend type chosen by libxl (V(phy), V(qdisk), ...).
          type: str
        backend_domain:
          description: The backend domain, if not Domain-0.
          type: str
        script:
          description: The block script.
          type: str
    vifs:
      description: The virtual network interfaces.
      type: list
      elements: dict
      contains:
        devid:
          description: The device index.
          type: int
        mac:
          description: The MAC address.
          type: str
        bridge:
          description: The bridge in Domain-0.
          type: str
        ip:
          description: The IP addresses given in the config.
          type: str
        script:
          description: The hotplug script.
          type: str
        vifname:
          description: The backend interface name in Domain-0.
          type: str
        model:
          description: The emulated NIC model (HVM).
          type: str
        type:
          description: The NIC type (V(vif) or V(vif_ioemu)).
          type: str
        backend_domain:
          description: The backend domain, if not Domain-0.
          type: str
        mtu:
          description: The MTU.
          type: int
    on_poweroff:
      description: What Xen does when the guest powers off.
      type: str
    on_reboot:
      description: What Xen does when the guest reboots.
      type: str
    on_watchdog:
      description: What Xen does when the watchdog fires.
      type: str
    on_crash:
      description: What Xen does when the guest crashes.
      type: str
    config_path:
      description: The config file in C(/etc/xen), if there is one.
      type: str
      sample: /etc/xen/web1.cfg
    autostart:
      description: Whether an entry in C(/etc/xen/auto) starts this domain at boot.
      type: bool
      sample: true
    autostart_link:
      description: That entry.
      type: str
      sample: /etc/xen/auto/web1.cfg
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xenfleet.xen.plugins.module_utils.xl_client import XlClient
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlError
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_parse import STATES
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_service import XenHostService
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_validate import domain_name


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str'),
            states=dict(type='list', elements='str', choices=list(STATES)),
            include_dom0=dict(type='bool', default=False),
            timeout=dict(type='int', default=30),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params['timeout'] < 1:
        module.fail_json(msg='timeout must be at least 1 second, got %d' % params['timeout'])

    service = XenHostService(lambda: XlClient.from_module(module, timeout=params['timeout']))
    try:
        name = domain_name(params['name']) if params['name'] is not None else None
        domains = service.domain_facts(name=name, include_dom0=params['include_dom0'] or name == 'Domain-0')
    except XlError as exc:
        module.fail_json(msg=exc.message, **exc.to_dict())
    if params['states']:
        domains = [d for d in domains if d['state'] in params['states']]
    module.exit_json(changed=False, domains=domains)


if __name__ == '__main__':
    main()
