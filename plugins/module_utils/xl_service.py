# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host and domain facts: the xl client's answers combined with what dom0's files say.

``root`` prefixes every file path (``/proc/xen``, ``/sys/hypervisor``, ``/etc/xen``) so that the
unit tests can point it at a temporary directory.
"""

from __future__ import annotations

import os

from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XenNotAvailableError, XlDomainNotFoundError

#: Prefix of every file path the service reads (the unit tests point it at a temporary directory).
ROOT = '/'
XEN_CONFIG_DIR = '/etc/xen'
XEN_AUTO_DIR = '/etc/xen/auto'


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return None


class XenHostService(object):
    """Facts of a (possibly non-Xen) host.

    ``client_factory()`` returns an XlClient or raises XenNotAvailableError (no xl binary).
    """

    def __init__(self, client_factory, root=None, config_dir=XEN_CONFIG_DIR, auto_dir=XEN_AUTO_DIR):
        self.client_factory = client_factory
        self.root = ROOT if root is None else root
        self.config_dir = config_dir
        self.auto_dir = auto_dir
        self._client = None

    def path(self, path):
        return os.path.join(self.root, path.lstrip('/'))

    @property
    def client(self):
        if self._client is None:
            self._client = self.client_factory()
        return self._client

    # ------------------------------------------------------------------ host

    def platform(self):
        """What the kernel says about the hypervisor, without running xl."""
        caps = _read(self.path('/proc/xen/capabilities'))
        hv_type = _read(self.path('/sys/hypervisor/type'))
        return {
            'proc_xen_capabilities': caps.strip() if caps is not None else None,
            'hypervisor_type': hv_type.strip() if hv_type is not None else None,
            'is_dom0': caps is not None and 'control_d' in caps,
        }

    def host_facts(self, domains=False):
        """Facts for xen_host_info.  A host without Xen gives ``is_xen: False`` and a ``reason``.

        With ``domains``, one ``xl list`` of every domain replaces ``xl list Domain-0`` and is returned as
        ``domains`` (name, domid, memory_mib, vcpus, state of each, Domain-0 first): a capacity survey then needs
        no second module run.
        """
        facts = {'is_xen': False, 'reason': None}
        facts.update(self.platform())
        if facts['proc_xen_capabilities'] is None and facts['hypervisor_type'] != 'xen':
            facts['reason'] = ('this host does not run on Xen: no %s and %s does not say xen'
                               % ('/proc/xen/capabilities', '/sys/hypervisor/type'))
            return facts
        try:
            client = self.client
            info = client.info()
        except XenNotAvailableError as exc:
            facts['reason'] = exc.message
            return facts
        facts['is_xen'] = True
        facts.update({
            'xen_version': info['xen_version'],
            'xen_major': info['xen_major'],
            'xen_minor': info['xen_minor'],
            'xen_extra': info['xen_extra'],
            'xen_caps': info['xen_caps'],
            'virt_caps': info['virt_caps'],
            'capabilities': info['capabilities'],
            'scheduler': info['xen_scheduler'],
            'xen_commandline': info['xen_commandline'],
            'nr_cpus': info.get('nr_cpus'),
            'nr_nodes': info.get('nr_nodes'),
            'cores_per_socket': info.get('cores_per_socket'),
            'threads_per_core': info.get('threads_per_core'),
            'cpu_mhz': info.get('cpu_mhz'),
            'free_cpus': info.get('free_cpus'),
            'total_memory_mib': info.get('total_memory'),
            'free_memory_mib': info.get('free_memory'),
            'hostname': info.get('host'),
            'dom0_kernel': info.get('release'),
        })
        if domains:
            rows = client.list_states()
            facts['domains'] = rows
            dom0 = next((row for row in rows if row['domid'] == 0), {})
        else:
            dom0 = client.state('Domain-0') or {}
        facts['dom0'] = {
            'memory_mib': dom0.get('memory_mib'),
            'vcpus': dom0.get('vcpus'),
            'dom0_mem': info['dom0_mem'],
            'dom0_mem_target_mib': info['dom0_mem_parsed']['target_mib'],
            'dom0_mem_max_mib': info['dom0_mem_parsed']['max_mib'],
            'dom0_max_vcpus': info['dom0_max_vcpus'],
        }
        facts['info'] = client.info_raw()
        return facts

    # ------------------------------------------------------------------ domains

    def config_path(self, name):
        """/etc/xen/<name>.cfg, else /etc/xen/<name>, if such a file exists."""
        for candidate in ('%s.cfg' % name, name):
            path = os.path.join(self.config_dir, candidate)
            if os.path.isfile(self.path(path)):
                return path
        return None

    def autostart_link(self, name, config_path=None):
        """The entry of /etc/xen/auto that starts this domain at boot, or None.

        An entry counts when it is named <name> or <name>.cfg, or when it resolves to the
        domain's config file.
        """
        auto = self.path(self.auto_dir)
        if not os.path.isdir(auto):
            return None
        for candidate in (name, '%s.cfg' % name):
            if os.path.lexists(os.path.join(auto, candidate)):
                return os.path.join(self.auto_dir, candidate)
        if config_path:
            target = os.path.realpath(self.path(config_path))
            for entry in sorted(os.listdir(auto)):
                if os.path.realpath(os.path.join(auto, entry)) == target:
                    return os.path.join(self.auto_dir, entry)
        return None

    def domain_facts(self, name=None, include_dom0=False):
        """Facts of one domain (``name``) or of all of them, for xen_domain_info.

        Each item merges ``xl list`` (state), ``xl list -l`` (configuration), ``xl uptime`` and
        the files in /etc/xen.  A missing ``name`` gives an empty list.
        """
        client = self.client
        if name is not None:
            one = client.domain(name)
            rows = [one] if one is not None else []
            try:
                uptimes = client.uptime(name) if rows else {}
            except XlDomainNotFoundError:  # gone between the two commands
                rows, uptimes = [], {}
        else:
            rows = client.list_all()
            uptimes = client.uptime()
        result = []
        for row in rows:
            if row['name'] == 'Domain-0' and not include_dom0:
                continue
            row['uptime'] = (uptimes.get(row['name']) or {}).get('uptime')
            cfg = self.config_path(row['name']) if row['domid'] != 0 else None
            link = self.autostart_link(row['name'], cfg) if row['domid'] != 0 else None
            row['config_path'] = cfg
            row['autostart'] = link is not None
            row['autostart_link'] = link
            for key in ('disks', 'vifs'):
                row.setdefault(key, [])
            result.append(row)
        return result


__all__ = ['XenHostService', 'XenNotAvailableError']
