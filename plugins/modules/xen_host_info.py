#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xen_host_info
short_description: Facts about a Xen host (version, capabilities, CPUs, memory, Domain-0)
version_added: 0.1.0
description:
  - Reports whether the host runs the Xen hypervisor with a usable C(xl) toolstack, and if so the Xen
    version, the virtualization capabilities, the CPUs, the total and free memory, the scheduler, the
    Xen command line and the memory and vCPUs of Domain-0.
  - A host that does not run Xen (no C(/proc/xen/capabilities), no C(xl), or C(xl) cannot reach the
    hypervisor) is not an error. The module then returns RV(is_xen=false) and a RV(reason).
  - Runs C(xl info) and C(xl list Domain-0) (with O(domains), C(xl list)) with argument lists, never through a
    shell.
options:
  domains:
    description:
      - Also return RV(domains), every domain of the host as C(xl list) prints it, from the one C(xl list) that
        then also gives Domain-0's figures.
      - For a capacity survey (free memory, CPUs and the vCPUs already given out) in one module run per host.
    type: bool
    default: false
author:
  - xenfleet developers (@xenfleet)
extends_documentation_fragment:
  - xenfleet.xen.xl
  - xenfleet.xen.xl.info
notes:
  - Must run as root in Domain-0 to read anything from C(xl).
  - The memory figures are in MiB, as C(xl info) prints them.
seealso:
  - module: xenfleet.xen.xen_domain_info
"""

EXAMPLES = r"""
- name: Read the Xen facts of the host
  xenfleet.xen.xen_host_info:
  register: xen_host

- name: Read the capacity and the domains of the host in one run
  xenfleet.xen.xen_host_info:
    domains: true
  register: xen_capacity

- name: Stop when the host does not run Xen
  ansible.builtin.assert:
    that: xen_host.is_xen
    fail_msg: "{{ inventory_hostname }} does not run Xen: {{ xen_host.reason }}"

- name: Show the version and the free memory
  ansible.builtin.debug:
    msg: "Xen {{ xen_host.xen_version }}, {{ xen_host.free_memory_mib }} MiB free, HVM {{ xen_host.capabilities.hvm }}"
"""

RETURN = r"""
is_xen:
  description: Whether the host runs the Xen hypervisor and C(xl) works (the module runs in Domain-0).
  returned: always
  type: bool
  sample: true
reason:
  description: Why the host is not considered a Xen host.
  returned: when RV(is_xen) is false
  type: str
  sample: "this host does not run on Xen: no /proc/xen/capabilities and /sys/hypervisor/type does not say xen"
is_dom0:
  description: Whether C(/proc/xen/capabilities) says C(control_d), that is, this is the control domain.
  returned: always
  type: bool
  sample: true
hypervisor_type:
  description: The content of C(/sys/hypervisor/type), if present.
  returned: always
  type: str
  sample: xen
proc_xen_capabilities:
  description: The content of C(/proc/xen/capabilities), if present.
  returned: always
  type: str
  sample: control_d
xen_version:
  description: The Xen version.
  returned: when RV(is_xen) is true
  type: str
  sample: "4.17.7"
xen_major:
  description: The Xen major version.
  returned: when RV(is_xen) is true
  type: int
  sample: 4
xen_minor:
  description: The Xen minor version.
  returned: when RV(is_xen) is true
  type: int
  sample: 17
xen_extra:
  description: The rest of the Xen version string, after major and minor.
  returned: when RV(is_xen) is true
  type: str
  sample: ".7"
xen_caps:
  description: The guest ABIs Xen supports (C(xen_caps) of C(xl info)).
  returned: when RV(is_xen) is true
  type: list
  elements: str
  sample: ["xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64"]
virt_caps:
  description: The virtualization features of the host (C(virt_caps) of C(xl info)).
  returned: when RV(is_xen) is true
  type: list
  elements: str
  sample: ["pv", "hvm", "hap", "gnttab-v1", "gnttab-v2"]
capabilities:
  description: The guest types and paging modes the host can run, decoded from RV(virt_caps).
  returned: when RV(is_xen) is true
  type: dict
  contains:
    pv:
      description: PV guests are possible.
      type: bool
    hvm:
      description: HVM guests are possible.
      type: bool
    pvh:
      description: PVH guests are possible (HVM support and HAP or shadow paging).
      type: bool
    hap:
      description: Hardware assisted paging is available.
      type: bool
    shadow:
      description: Shadow paging is available.
      type: bool
    iommu:
      description: Device pass-through with an IOMMU is available.
      type: bool
  sample: {"pv": true, "hvm": true, "pvh": true, "hap": true, "shadow": false, "iommu": false}
scheduler:
  description: The Xen scheduler of the default CPU pool.
  returned: when RV(is_xen) is true
  type: str
  sample: credit2
xen_commandline:
  description: The Xen command line.
  returned: when RV(is_xen) is true
  type: str
  sample: "placeholder dom0_mem=1024M,max:1024M dom0_max_vcpus=1 console=com1 com1=115200,8n1"
nr_cpus:
  description: The number of physical CPUs.
  returned: when RV(is_xen) is true
  type: int
  sample: 1
nr_nodes:
  description: The number of NUMA nodes.
  returned: when RV(is_xen) is true
  type: int
  sample: 1
cores_per_socket:
  description: CPU cores per socket.
  returned: when RV(is_xen) is true
  type: int
  sample: 1
threads_per_core:
  description: CPU threads per core.
  returned: when RV(is_xen) is true
  type: int
  sample: 1
cpu_mhz:
  description: The CPU frequency, as C(xl info) prints it.
  returned: when RV(is_xen) is true
  type: str
  sample: "2100.000"
free_cpus:
  description: Physical CPUs in no CPU pool.
  returned: when RV(is_xen) is true
  type: int
  sample: 0
total_memory_mib:
  description: The host memory in MiB.
  returned: when RV(is_xen) is true
  type: int
  sample: 2047
free_memory_mib:
  description: The memory Xen can still give to new domains, in MiB.
  returned: when RV(is_xen) is true
  type: int
  sample: 1000
hostname:
  description: The host name of Domain-0.
  returned: when RV(is_xen) is true
  type: str
  sample: xen1
dom0_kernel:
  description: The Linux release of Domain-0.
  returned: when RV(is_xen) is true
  type: str
  sample: 6.1.0-56-amd64
dom0:
  description: Domain-0's memory and vCPUs, as running and as set on the Xen command line.
  returned: when RV(is_xen) is true
  type: dict
  contains:
    memory_mib:
      description: The current memory of Domain-0 in MiB (C(xl list)).
      type: int
    vcpus:
      description: The online vCPUs of Domain-0 (C(xl list)).
      type: int
    dom0_mem:
      description: The C(dom0_mem=) option of the Xen command line, if given.
      type: str
    dom0_mem_target_mib:
      description: The size part of C(dom0_mem=) in MiB, if it is an absolute size.
      type: int
    dom0_mem_max_mib:
      description: The C(max:) part of C(dom0_mem=) in MiB, if given.
      type: int
    dom0_max_vcpus:
      description: The C(dom0_max_vcpus=) option of the Xen command line, if given.
      type: str
  sample: {"memory_mib": 1024, "vcpus": 1, "dom0_mem": "1024M,max:1024M", "dom0_mem_target_mib": 1024,
           "dom0_mem_max_mib": 1024, "dom0_max_vcpus": "1"}
domains:
  description:
    - Every domain of the host, Domain-0 first, as C(xl list) prints them (the live state).
    - For the configuration of the domains, use M(xenfleet.xen.xen_domain_info).
  returned: when O(domains) is true and RV(is_xen) is true
  type: list
  elements: dict
  contains:
    name:
      description: The domain name.
      type: str
    domid:
      description: The domain ID.
      type: int
    memory_mib:
      description: The current memory of the domain in MiB.
      type: int
    vcpus:
      description: The online vCPUs of the domain.
      type: int
    state:
      description: The state decoded from the flags of C(xl list) (running, blocked, paused, shutdown, crashed,
        dying or runnable).
      type: str
  sample: [{"name": "Domain-0", "domid": 0, "memory_mib": 1024, "vcpus": 1, "state": "running"},
           {"name": "web1", "domid": 3, "memory_mib": 256, "vcpus": 1, "state": "blocked"}]
info:
  description: Every key of C(xl info) as printed, values as strings.
  returned: when RV(is_xen) is true
  type: dict
  sample: {"xen_major": "4", "xen_minor": "17", "xen_scheduler": "credit2"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xenfleet.xen.plugins.module_utils.xl_client import XlClient
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlError
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_service import XenHostService


def main():
    module = AnsibleModule(
        argument_spec=dict(
            timeout=dict(type='int', default=30),
            domains=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    if module.params['timeout'] < 1:
        module.fail_json(msg='timeout must be at least 1 second, got %d' % module.params['timeout'])

    service = XenHostService(lambda: XlClient.from_module(module, timeout=module.params['timeout']))
    try:
        facts = service.host_facts(domains=module.params['domains'])
    except XlError as exc:
        module.fail_json(msg=exc.message, **exc.to_dict())
    module.exit_json(changed=False, **facts)


if __name__ == '__main__':
    main()
