# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The declarative domain: desired config, plan, and the service that applies the plan.

Three parts, each testable on its own:

* :func:`desired_config` turns the typed options of xen_domain into an xl.cfg dict (MAC addresses
  resolved so that they never change once a domain has them);
* :func:`make_plan` is a pure function of that desired config and of what was found (the parsed
  config file, ``xl list``/``xl list -l`` of the domain, the scheduler and vCPU affinity): it says
  which config keys change, what can be applied to the running domain (mem-set, mem-max, vcpu-set,
  sched-credit2, vcpu-pin), what would need a restart, and which lifecycle steps lead to the
  requested state;
* :class:`DomainService` reads the current situation through the xl client and the files of
  /etc/xen, records the plan in the one :class:`ChangeTracker` (so ``changed`` and ``--diff`` come
  from the same records, in check mode as in a real run), and applies it unless in check mode.

Layering: module -> DomainService -> XlClient -> XlRunner; waits go through the client's Waiter.
"""

from __future__ import annotations

import errno
import os
import tempfile

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_cfg
from ansible_collections.xenfleet.xen.plugins.module_utils import xl_validate as v
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_changes import ChangeTracker
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import (
    XlCfgSyntaxError,
    XlCommandError,
    XlError,
    XlHotplugTimeoutError,
    XlTimeoutError,
    XlValidationError,
)

STATES = ('present', 'running', 'paused', 'shutdown', 'absent', 'saved', 'restored')
TYPES = ('pv', 'pvh', 'hvm')
ACTIONS = ('destroy', 'restart', 'rename-restart', 'preserve', 'coredump-destroy', 'coredump-restart',
           'soft-reset')
DISK_FORMATS = ('raw', 'qcow', 'qcow2', 'vhd', 'qed', 'empty')
DISK_ACCESS = ('rw', 'ro')
DISK_DEVTYPES = ('disk', 'cdrom')
DISK_BACKENDTYPES = ('phy', 'qdisk', 'standalone')
VIF_TYPES = ('vif', 'ioemu')

#: The typed options that make up the configuration (any of them given: the config is managed).
CONFIG_OPTIONS = ('type', 'memory', 'maxmem', 'vcpus', 'maxvcpus', 'cpus', 'cpu_weight', 'cap', 'kernel',
                  'ramdisk', 'extra', 'bootloader', 'disks', 'vifs', 'on_poweroff', 'on_reboot', 'on_crash',
                  'raw')
#: xl.cfg keys written from typed options; ``raw`` may not set them.
TYPED_KEYS = ('name', 'type', 'builder', 'memory', 'maxmem', 'vcpus', 'maxvcpus', 'cpus', 'cpu_weight', 'cap',
              'kernel', 'ramdisk', 'extra', 'bootloader', 'disk', 'vif', 'on_poweroff', 'on_reboot', 'on_crash')
INT_KEYS = ('memory', 'maxmem', 'vcpus', 'maxvcpus', 'cpu_weight', 'cap')
#: Keys that can change on a running domain without a restart.
LIVE_KEYS = ('memory', 'maxmem', 'vcpus', 'cpus', 'cpu_weight', 'cap')
#: Keys compared with what the running domain reports (``xl list -l``); other keys that change in
#: the file (raw keys...) are reported as needing a restart when the file changes.
RUNNING_KEYS = ('type', 'kernel', 'ramdisk', 'extra', 'bootloader', 'disk', 'vif', 'maxvcpus',
                'on_poweroff', 'on_reboot', 'on_crash')

CONFIG_DIR = '/etc/xen'
AUTO_DIR = '/etc/xen/auto'

# Lifecycle steps, in the words of the result's ``actions``.
STEP_CREATE = 'create'
STEP_CREATE_PAUSED = 'create_paused'
STEP_UNPAUSE = 'unpause'
STEP_PAUSE = 'pause'
STEP_SHUTDOWN = 'shutdown'
STEP_DESTROY = 'destroy'
STEP_WAIT_GONE = 'wait_gone'
STEP_SAVE = 'save'
STEP_RESTORE = 'restore'
STARTING_STEPS = (STEP_CREATE, STEP_CREATE_PAUSED, STEP_RESTORE)


class PlanError(XlValidationError):
    """The request cannot be met from the current situation (said before anything is done)."""

    summary = 'cannot do that'


# --------------------------------------------------------------------------- desired config

def config_managed(params):
    """Whether the module manages the config file: any configuration option was given."""
    return any(params.get(k) not in (None, [], {}) for k in CONFIG_OPTIONS)


def _disk_dict(disk, index):
    """A typed disk option as the dict render_disk_spec takes (explicit format and access)."""
    what = 'disks[%d]' % index
    target = disk.get('target')
    vdev = disk.get('vdev')
    devtype = disk.get('devtype') or 'disk'
    if not vdev:
        raise XlValidationError('%s: vdev is required (e.g. xvda)' % what)
    if not target and devtype != 'cdrom':
        raise XlValidationError('%s: target is required' % what)
    if target:
        if target.startswith('/'):
            v.abs_path(target, '%s target' % what)
        if '\n' in target:
            raise XlValidationError('%s: target contains a newline' % what)
    out = {
        'format': disk.get('format') or 'raw',
        'vdev': vdev,
        'access': disk.get('access') or ('ro' if devtype == 'cdrom' else 'rw'),
    }
    if devtype != 'disk':
        out['devtype'] = devtype
    for key in ('backendtype', 'script'):
        if disk.get(key):
            out[key] = disk[key]
    if target:
        out['target'] = target
    xl_cfg.render_disk_spec(out)  # validates every value
    return out


def canonical_disk(spec):
    """What a disk spec means, for comparing (defaults filled, deprecated prefixes dropped)."""
    if isinstance(spec, dict):
        d = dict(spec)
    else:
        try:
            d = xl_cfg.parse_disk_spec(spec)
        except XlValidationError:
            return spec
    d.pop('legacy_prefix', None)
    d.setdefault('format', 'raw')
    if d.get('devtype') == 'disk':
        del d['devtype']
    d.setdefault('access', 'ro' if d.get('devtype') == 'cdrom' else 'rw')
    return d


def canonical_vif(spec):
    if isinstance(spec, dict):
        d = {k: (str(val) if isinstance(val, int) and not isinstance(val, bool) else val)
             for k, val in spec.items() if val is not None}
    else:
        try:
            d = xl_cfg.parse_vif_spec(spec)
        except XlValidationError:
            return spec
    if 'mac' in d:
        d['mac'] = d['mac'].lower()
    return d


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def canonical_config(cfg):
    """A parsed or desired config reduced to what it means to xl, for comparing."""
    out = {}
    for key, value in (cfg or {}).items():
        if value is None:
            continue
        if key == 'disk':
            value = [canonical_disk(s) for s in _as_list(value)]
        elif key == 'vif':
            value = [canonical_vif(s) for s in _as_list(value)]
        elif isinstance(value, bool):
            value = int(value)
        elif key in INT_KEYS and isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        elif key == 'cpus' and isinstance(value, str):
            value = value.replace(' ', '')
        out[key] = value
    return out


def config_differences(before, after):
    """[(key, before value, after value)] for every key whose meaning differs, in xl.cfg key order."""
    cb, ca = canonical_config(before), canonical_config(after)
    keys = xl_cfg.ordered_keys(dict.fromkeys(list(cb) + list(ca)))
    return [(k, (before or {}).get(k), (after or {}).get(k)) for k in keys if cb.get(k) != ca.get(k)]


def _existing_macs(existing_cfg, running_config):
    """MAC of each vif index, from the config file first, then from the running domain."""
    macs = {}
    for index, spec in enumerate(_as_list((existing_cfg or {}).get('vif'))):
        try:
            mac = xl_cfg.parse_vif_spec(spec).get('mac') if isinstance(spec, str) else None
        except XlValidationError:
            mac = None
        if mac:
            macs[index] = mac.lower()
    for nic in (running_config or {}).get('vifs') or []:
        devid, mac = nic.get('devid'), nic.get('mac')
        if isinstance(devid, int) and mac and devid not in macs:
            macs[devid] = mac.lower()
    return macs


def resolve_mac(name, index, given, existing):
    """The MAC of vif ``index``: the one given, else the one the domain already has, else derived.

    A MAC is never regenerated: once the config file or the running domain has one, it stays.
    Returns (mac, source) with source 'given', 'existing' or 'derived'.
    """
    if given:
        return v.mac_address(given), 'given'
    if index in existing:
        return existing[index], 'existing'
    return xl_cfg.derive_mac(name, index), 'derived'


def _vif_dict(name, vif, index, existing_macs):
    out = {}
    for key in ('bridge', 'ip', 'model', 'vifname', 'script', 'type', 'rate', 'mtu'):
        if vif.get(key) is not None:
            out[key] = vif[key]
    mac, dummy = resolve_mac(name, index, vif.get('mac'), existing_macs)
    out['mac'] = mac
    xl_cfg.render_vif_spec(out)  # validates every value
    return out


#: xl.cfg(5), "Direct Kernel Boot": an HVM guest boots a kernel directly only through QEMU's upstream device model
#: (qemu-xen) in Domain-0 with SeaBIOS; not with a stub domain, qemu-xen-traditional or another firmware.
HVM_DIRECT_BOOT_FIRMWARES = ('bios', 'seabios')


def _check_hvm_direct_boot(raw):
    """Refuse a direct kernel for an HVM guest whose raw options say it cannot boot one (xl.cfg(5))."""
    why = None
    if str(raw.get('device_model_version', 'qemu-xen')) != 'qemu-xen':
        why = 'device_model_version %s' % raw['device_model_version']
    elif str(raw.get('device_model_stubdomain_override', 0)).lower() in ('1', 'true', 'yes'):
        why = 'a device model stub domain'
    elif str(raw.get('firmware', raw.get('bios', 'seabios'))).lower() not in HVM_DIRECT_BOOT_FIRMWARES:
        why = 'firmware %s' % raw.get('firmware', raw.get('bios'))
    if why:
        raise XlValidationError('an hvm guest boots a kernel directly only with the qemu-xen device model in Domain-0 '
                                'and SeaBIOS (xl.cfg(5), Direct Kernel Boot), not with %s' % why)


def desired_config(name, params, existing_cfg=None, running_config=None):
    """The xl.cfg dict for the typed options (``params`` as the module received them).

    ``existing_cfg`` is the parsed config file and ``running_config`` the ``xl list -l`` facts of the
    domain (either may be None): they only supply MAC addresses that vifs without one already have.
    """
    v.domain_name(name)
    if name == 'Domain-0':
        raise XlValidationError('Domain-0 is not managed by xen_domain')
    dtype = params.get('type') or 'pv'
    if dtype not in TYPES:
        raise XlValidationError('type must be one of %s, got %r' % (', '.join(TYPES), dtype))
    cfg = {'name': name, 'type': dtype}
    memory = params.get('memory')
    if memory is None:
        raise XlValidationError('memory is required when the configuration is managed')
    cfg['memory'] = v.positive_int(memory, 'memory (MiB)', 16, 16 * 1024 * 1024)
    if params.get('maxmem') is not None:
        cfg['maxmem'] = v.positive_int(params['maxmem'], 'maxmem (MiB)', 16, 16 * 1024 * 1024)
        if cfg['maxmem'] < cfg['memory']:
            raise XlValidationError('maxmem (%d MiB) is lower than memory (%d MiB)' % (cfg['maxmem'], cfg['memory']))
    if params.get('vcpus') is not None:
        cfg['vcpus'] = v.vcpus(params['vcpus'])
    if params.get('maxvcpus') is not None:
        cfg['maxvcpus'] = v.vcpus(params['maxvcpus'], 'maxvcpus')
        if cfg['maxvcpus'] < cfg.get('vcpus', 1):
            raise XlValidationError('maxvcpus (%d) is lower than vcpus (%d)' % (cfg['maxvcpus'], cfg.get('vcpus', 1)))
    if params.get('cpus') is not None:
        cfg['cpus'] = v.cpulist(params['cpus'], 'cpus')
    if params.get('cpu_weight') is not None:
        cfg['cpu_weight'] = v.sched_weight(params['cpu_weight'])
    if params.get('cap') is not None:
        cfg['cap'] = v.sched_cap(params['cap'])
    for key in ('kernel', 'ramdisk'):
        if params.get(key) is not None:
            cfg[key] = v.abs_path(params[key], key)
    for key in ('extra', 'bootloader'):
        if params.get(key) is not None:
            if '\n' in params[key] or '\0' in params[key]:
                raise XlValidationError('%s must be one line' % key)
            cfg[key] = params[key]
    if dtype == 'pv' and 'kernel' not in cfg and 'bootloader' not in cfg \
            and not any(k in (params.get('raw') or {}) for k in ('firmware', 'bootloader_args')):
        raise XlValidationError('a pv guest needs a kernel or a bootloader')
    if dtype == 'hvm' and 'kernel' in cfg:
        _check_hvm_direct_boot(params.get('raw') or {})
    disks = params.get('disks') or []
    if disks:
        specs = [_disk_dict(d, i) for i, d in enumerate(disks)]
        vdevs = [s['vdev'] for s in specs]
        dup = sorted(set(x for x in vdevs if vdevs.count(x) > 1))
        if dup:
            raise XlValidationError('disks: vdev %s used twice' % ', '.join(dup))
        cfg['disk'] = [xl_cfg.render_disk_spec(s) for s in specs]
    vifs = params.get('vifs') or []
    if vifs:
        macs = _existing_macs(existing_cfg, running_config)
        specs = [_vif_dict(name, vif, i, macs) for i, vif in enumerate(vifs)]
        seen = [s['mac'] for s in specs]
        dup = sorted(set(m for m in seen if seen.count(m) > 1))
        if dup:
            raise XlValidationError('vifs: MAC %s used twice' % ', '.join(dup))
        cfg['vif'] = [xl_cfg.render_vif_spec(s) for s in specs]
    for key in ('on_poweroff', 'on_reboot', 'on_crash'):
        if params.get(key) is not None:
            if params[key] not in ACTIONS:
                raise XlValidationError('%s must be one of %s' % (key, ', '.join(ACTIONS)))
            cfg[key] = params[key]
    for key, value in (params.get('raw') or {}).items():
        if not isinstance(key, str) or not xl_cfg.KEY_RE.match(key):
            raise XlValidationError('raw: %r is not an xl.cfg key ([a-z][._0-9a-z]*)' % (key,))
        if key in TYPED_KEYS:
            raise XlValidationError('raw: %r has its own option, use it instead' % key)
        xl_cfg.render_value(value, key)  # validates the value
        cfg[key] = value
    return xl_cfg.normalize(cfg)


# --------------------------------------------------------------------------- plan

def cpuset(text, nr_cpus):
    """The set of CPUs of a cpulist (``all``, ``0-3,^2``), or None when it cannot be evaluated here."""
    if text is None:
        return None
    text = str(text).replace(' ', '')
    if text == 'all':
        return frozenset(range(nr_cpus)) if nr_cpus else None
    result = set()
    for item in text.split(','):
        neg = item.startswith('^')
        item = item.lstrip('^')
        if ':' in item or not item:
            return None
        lo, sep, hi = item.partition('-')
        try:
            rng = range(int(lo), int(hi if sep else lo) + 1)
        except ValueError:
            return None
        if neg:
            result.difference_update(rng)
        else:
            result.update(rng)
    if nr_cpus:
        result &= set(range(nr_cpus))
    return frozenset(result)


def summary_state(domain_state):
    """The state word of the results: absent, running (running, blocked or runnable), paused, shutdown,
    crashed or dying."""
    if domain_state is None:
        return 'absent'
    if domain_state in ('running', 'blocked', 'runnable'):
        return 'running'
    return domain_state


def state_class(domain_state):
    """None (absent), 'active', 'paused', 'down' (shut down or crashed but still there) or 'dying'."""
    if domain_state is None:
        return None
    if domain_state in ('running', 'blocked', 'runnable'):
        return 'active'
    if domain_state == 'paused':
        return 'paused'
    if domain_state == 'dying':
        return 'dying'
    return 'down'


_STEPS = {
    # state: {state class: steps}
    'running': {None: [STEP_CREATE], 'active': [], 'paused': [STEP_UNPAUSE],
                'down': [STEP_DESTROY, STEP_CREATE], 'dying': [STEP_WAIT_GONE, STEP_CREATE]},
    'paused': {None: [STEP_CREATE_PAUSED], 'active': [STEP_PAUSE], 'paused': [],
               'down': [STEP_DESTROY, STEP_CREATE_PAUSED], 'dying': [STEP_WAIT_GONE, STEP_CREATE_PAUSED]},
    'shutdown': {None: [], 'active': [STEP_SHUTDOWN], 'paused': [STEP_UNPAUSE, STEP_SHUTDOWN],
                 'down': [STEP_DESTROY], 'dying': [STEP_WAIT_GONE]},
    'saved': {'active': [STEP_SAVE], 'paused': [STEP_SAVE]},
    'restored': {None: [STEP_RESTORE], 'active': [], 'paused': []},
}
_STEPS['absent'] = _STEPS['shutdown']

#: What the state of the domain is called after each requested state.
_AFTER = {'running': 'running', 'paused': 'paused', 'shutdown': 'absent', 'absent': 'absent',
          'saved': 'absent', 'restored': 'running'}


class LiveChange(object):
    """A change made on the running domain: ``op`` is the client method, ``args`` its arguments."""

    __slots__ = ('key', 'before', 'after', 'op', 'args', 'kwargs')

    def __init__(self, key, before, after, op, args, kwargs=None):
        self.key = key
        self.before = before
        self.after = after
        self.op = op
        self.args = tuple(args)
        self.kwargs = kwargs or {}

    def to_dict(self):
        return {'key': self.key, 'before': self.before, 'after': self.after, 'command': self.op}


class Plan(object):
    """Everything make_plan decided.  Nothing in it has been done yet."""

    def __init__(self):
        self.config_path = None
        self.config_before_text = None
        self.config_after_text = None
        self.config_before = None
        self.config_after = None
        self.managed = False
        self.config_changes = []
        self.write_config = False
        self.remove_config = False
        self.live = []
        self.restart_reasons = []
        self.restart = False
        self.steps = []
        self.state_before = 'absent'
        self.state_after = 'absent'
        self.autostart = None          # ('link' | 'unlink', entry path, link target)
        self.memory_needed_mib = None  # for a domain about to start
        self.memory_freed_mib = 0      # by a domain stopped before that
        self.save_file = None
        self.domain_type = None        # of the domain found (pv, pvh, hvm)
        self.warnings = []


def _running_value(key, running):
    """The value of an xl.cfg key as the running domain reports it (``xl list -l`` facts)."""
    if key == 'extra':
        return running.get('cmdline')
    if key == 'maxvcpus':
        return running.get('maxvcpus')
    if key == 'disk':
        return [(d.get('vdev'), d.get('target')) for d in running.get('disks') or []]
    if key == 'vif':
        return [(n.get('mac') or '').lower() for n in running.get('vifs') or []]
    return running.get(key)


def _desired_running_value(key, cfg):
    value = cfg.get(key)
    if key == 'disk':
        return [(d.get('vdev'), d.get('target')) for d in (canonical_disk(s) for s in _as_list(value))]
    if key == 'vif':
        return [(canonical_vif(s).get('mac') or '').lower() for s in _as_list(value)]
    if key == 'maxvcpus':
        return value
    return value


def _compare_running(cfg, running):
    """Restart reasons: keys whose desired value differs from what the running domain has."""
    reasons = []
    for key in RUNNING_KEYS:
        desired = _desired_running_value(key, cfg)
        actual = _running_value(key, running)
        if key in ('on_poweroff', 'on_reboot', 'on_crash', 'maxvcpus', 'bootloader') and cfg.get(key) is None:
            continue  # not set: xl's default, whatever the domain has
        if key == 'kernel' and cfg.get('bootloader'):
            continue  # the bootloader extracts the kernel to a temporary path
        if key in ('kernel', 'ramdisk', 'extra') and desired is None and not actual:
            continue
        if key == 'extra' and 'root' in cfg:
            continue  # xl builds the command line from root and extra
        if key == 'type' and actual is None:
            continue
        if key in ('disk', 'vif'):
            desired = desired or []
        if desired != actual:
            reasons.append({'key': key, 'running': actual, 'config': desired})
    return reasons


def _plan_live(name, cfg, running, live, nr_cpus):
    """Changes applicable to the running domain, and the restart reasons among the live keys."""
    changes, reasons = [], []
    memory = cfg.get('memory')
    run_mem = running.get('memory_mib')
    run_max = running.get('maxmem_mib')
    maxmem = cfg.get('maxmem')
    # memory (the balloon target): mem-set within the domain's maximum
    if memory is not None and run_mem is not None and memory != run_mem:
        if run_max is None or memory <= run_max:
            changes.append(LiveChange('memory', run_mem, memory, 'mem_set', (name, '%dm' % memory)))
        else:
            reasons.append({'key': 'memory', 'running': run_mem, 'config': memory,
                            'why': 'above the maximum of the running domain (%d MiB)' % run_max})
    # maxmem, only when given: lowering is live (mem-max), raising needs a restart
    if maxmem is not None and run_max is not None and maxmem != run_max:
        if maxmem < run_max:
            changes.append(LiveChange('maxmem', run_max, maxmem, 'mem_max', (name, '%dm' % maxmem)))
        else:
            reasons.append({'key': 'maxmem', 'running': run_max, 'config': maxmem,
                            'why': 'a running guest cannot grow beyond the memory map it booted with'})
    vcpus = cfg.get('vcpus')
    run_vcpus = running.get('vcpus')
    run_maxv = running.get('maxvcpus')
    if vcpus is not None and run_vcpus is not None and vcpus != run_vcpus:
        if run_maxv is None or vcpus <= run_maxv:
            # --ignore-host: xl vcpu-set refuses a count above both the vCPUs online and the host's
            # pCPUs ("You are overcommmitting!"), although xl create starts such a domain without a
            # word; within the domain's maximum the count is what was asked for (seen on the lab's
            # one-pCPU hosts going from 1 to 2 of maxvcpus 2)
            changes.append(LiveChange('vcpus', run_vcpus, vcpus, 'vcpu_set', (name, vcpus), {'ignore_host': True}))
        else:
            reasons.append({'key': 'vcpus', 'running': run_vcpus, 'config': vcpus,
                            'why': 'above the maximum of the running domain (%d)' % run_maxv})
    sched = live.get('sched')
    if sched is not None:
        weight = cfg.get('cpu_weight')
        cap = cfg.get('cap')
        new_weight = weight if weight is not None and weight != sched.get('weight') else None
        new_cap = cap if cap is not None and cap != sched.get('cap') else None
        if new_weight is not None:
            changes.append(LiveChange('cpu_weight', sched.get('weight'), weight, 'sched_credit', (name,),
                                      {'weight': weight}))
        if new_cap is not None:
            changes.append(LiveChange('cap', sched.get('cap'), cap, 'sched_credit', (name,), {'cap': cap}))
    affinity = live.get('affinity')
    if cfg.get('cpus') is not None and affinity is not None:
        want = cpuset(cfg['cpus'], nr_cpus)
        have = [cpuset(a, nr_cpus) for a in affinity]
        if want is None or any(h is None for h in have):
            differs = any(a != cfg['cpus'] for a in affinity)
        else:
            differs = any(h != want for h in have)
        if differs:
            before = affinity[0] if len(set(affinity)) == 1 else ','.join(affinity)
            changes.append(LiveChange('cpus', before, cfg['cpus'], 'vcpu_pin', (name, 'all', cfg['cpus'])))
    return changes, reasons


def make_plan(name, params, current):
    """Decide everything, from the module's ``params`` and the ``current`` situation.

    ``current`` holds: ``config_path``, ``config_text`` (None: no file), ``config`` (parsed, or
    None), ``config_error`` (a syntax error in the file), ``row`` (the ``xl list NAME`` row or
    None), ``running`` (``xl list -l NAME`` facts or None), ``live`` ({'sched': {...}|None,
    'affinity': [hard affinity per vCPU]|None}), ``nr_cpus``, ``autostart_entry`` (an entry of
    /etc/xen/auto for this domain, or None), ``autostart_target`` (where it points), and
    ``save_file_exists``.  Raises PlanError when the request cannot be met.
    """
    plan = Plan()
    state = params['state']
    plan.config_path = current['config_path']
    plan.config_before_text = current.get('config_text')
    plan.config_before = current.get('config')
    row = current.get('row')
    running = current.get('running') or {}
    sclass = state_class(row['state'] if row else None)
    plan.state_before = summary_state(row['state'] if row else None)
    plan.save_file = params.get('save_file')
    plan.domain_type = running.get('type')

    # ---- the configuration file
    plan.managed = config_managed(params) and state != 'absent'
    if plan.managed:
        after = desired_config(name, params, plan.config_before, running)
        plan.config_after = after
        if current.get('config_error') is not None:
            plan.config_changes = [('<file>', str(current['config_error']), 'rewritten')]
            plan.warnings.append('%s could not be parsed and is replaced: %s'
                                 % (plan.config_path, current['config_error']))
        else:
            plan.config_changes = config_differences(plan.config_before, after)
        if plan.config_changes or plan.config_before_text is None:
            plan.write_config = True
            plan.config_after_text = xl_cfg.render(after)
            if not plan.config_changes:
                plan.config_changes = [(k, None, after[k]) for k in xl_cfg.ordered_keys(after)]
        else:
            plan.config_after_text = plan.config_before_text
    elif state == 'absent':
        plan.config_after = None
        if plan.config_before_text is not None:
            plan.remove_config = True
            plan.config_changes = [(k, (plan.config_before or {}).get(k), None)
                                   for k in xl_cfg.ordered_keys(plan.config_before or {})] or \
                [('<file>', 'present', None)]
    else:
        plan.config_after = plan.config_before
        plan.config_after_text = plan.config_before_text
    effective = plan.config_after or {}

    # ---- lifecycle steps
    if state in ('saved', 'restored') and not plan.save_file:
        raise PlanError('state=%s needs save_file' % state)
    if state == 'present':
        steps = []
    else:
        table = _STEPS[state]
        if sclass not in table:
            if state == 'saved' and sclass is None:
                if current.get('save_file_exists'):
                    steps = []
                else:
                    raise PlanError('%s is not running and %s does not exist: nothing to save'
                                    % (name, plan.save_file))
            elif state == 'saved':
                raise PlanError('%s is %s: only a running or paused domain can be saved'
                                % (name, plan.state_before))
            else:
                raise PlanError('%s is %s: it cannot be restored over' % (name, plan.state_before))
        else:
            steps = list(table[sclass])
    if STEP_RESTORE in steps and not current.get('save_file_exists'):
        raise PlanError('cannot restore %s: %s does not exist' % (name, plan.save_file))
    if any(s in (STEP_CREATE, STEP_CREATE_PAUSED) for s in steps) and plan.config_after_text is None:
        raise PlanError('%s has no configuration: give the configuration options (type, memory, kernel...) '
                        'or write %s' % (name, plan.config_path))
    if current.get('config_error') is not None and not plan.managed and \
            any(s in (STEP_CREATE, STEP_CREATE_PAUSED) for s in steps):
        raise PlanError('cannot start %s: %s' % (name, current['config_error']))

    # ---- live changes and restarts, for a domain that stays up
    stays_up = sclass in ('active', 'paused') and state in ('present', 'running', 'paused', 'restored')
    if stays_up and plan.managed:
        live, live_reasons = _plan_live(name, effective, running, current.get('live') or {},
                                        current.get('nr_cpus'))
        reasons = live_reasons + _compare_running(effective, running)
        compared = set(LIVE_KEYS) | set(RUNNING_KEYS) | {'name'}
        for key, before, after in plan.config_changes:
            if key not in compared and not any(r['key'] == key for r in reasons):
                reasons.append({'key': key, 'running': before, 'config': after,
                                'why': 'changed in the config file; xl applies it at the next start'})
        plan.restart_reasons = reasons
        if reasons and params.get('restart'):
            plan.restart = True
            if sclass == 'paused':
                # a paused guest cannot answer a shutdown request: let it run to shut down
                steps = [STEP_UNPAUSE, STEP_SHUTDOWN, STEP_CREATE_PAUSED]
            else:
                steps = [STEP_SHUTDOWN, STEP_CREATE]
        else:
            plan.live = live
    plan.steps = steps

    # ---- memory for a domain about to start
    if any(s in STARTING_STEPS for s in steps):
        mem = effective.get('memory')
        plan.memory_needed_mib = int(mem) if isinstance(mem, int) or (isinstance(mem, str) and mem.isdigit()) \
            else None
        if sclass in ('active', 'paused', 'down') and (STEP_SHUTDOWN in steps or STEP_DESTROY in steps):
            plan.memory_freed_mib = row.get('memory_mib') or 0

    # ---- the resulting state
    if state == 'present':
        plan.state_after = plan.state_before
    elif state == 'restored' and not steps:
        plan.state_after = plan.state_before
    else:
        plan.state_after = _AFTER[state]

    # ---- autostart
    entry = current.get('autostart_entry')
    wanted = params.get('autostart')
    if state == 'absent':
        if wanted:
            raise PlanError('autostart=true contradicts state=absent')
        if entry:
            plan.autostart = ('unlink', entry, None)
    elif wanted is True:
        link = os.path.join(AUTO_DIR, name)
        if entry is None or current.get('autostart_target') != plan.config_path:
            if plan.config_after_text is None:
                raise PlanError('autostart needs a config file, and %s has none' % name)
            plan.autostart = ('link', entry or link, plan.config_path)
    elif wanted is False and entry:
        plan.autostart = ('unlink', entry, None)
    return plan


def check_memory(plan, free_mib, total_mib=None, host=None):
    """Refuse, before anything is done, a domain that would not fit the host's free memory."""
    need = plan.memory_needed_mib
    if need is None:
        return
    available = (free_mib or 0) + (plan.memory_freed_mib or 0)
    if need > available:
        where = ' on %s' % host if host else ''
        freed = ' plus %d MiB the domain frees when it stops' % plan.memory_freed_mib if plan.memory_freed_mib else ''
        total = ', total_memory %d MiB' % total_mib if total_mib is not None else ''
        raise PlanError('the guest needs %d MiB (memory = %d) but only %d MiB are free%s '
                        '(xl info: free_memory %d MiB%s%s); nothing was changed'
                        % (need, need, available, where, free_mib or 0, freed, total),
                        needed_mib=need, free_mib=free_mib, freed_mib=plan.memory_freed_mib)


# --------------------------------------------------------------------------- service

def record_plan(plan, tracker):
    """Record what the plan changes; ``changed`` and ``diff`` come from these records."""
    for key, before, after in plan.config_changes:
        tracker.add(key, before, after, 'config')
    if plan.write_config or plan.remove_config:
        tracker.set_file(plan.config_path, plan.config_before_text,
                         None if plan.remove_config else plan.config_after_text)
    for change in plan.live:
        tracker.add(change.key, change.before, change.after, 'live', detail=change.op)
    if plan.restart:
        tracker.add('restart', None, [r['key'] for r in plan.restart_reasons], 'state')
    if plan.steps:
        tracker.add('state', plan.state_before, plan.state_after, 'state', detail=list(plan.steps))
        if STEP_SAVE in plan.steps:
            tracker.add(plan.save_file, None, 'saved', 'file')
    if plan.autostart:
        how, entry, target = plan.autostart
        tracker.add(entry, None if how == 'link' else 'present', target, 'autostart')


def describe(plan, name):
    """What the plan does, in order, as short sentences (the module's ``actions``)."""
    out = []
    if plan.write_config:
        out.append('write %s' % plan.config_path)
    for change in plan.live:
        out.append('%s %s: %s -> %s' % (change.op.replace('_', '-'), name, change.before, change.after))
    for step in plan.steps:
        if step == STEP_SAVE:
            out.append('save %s to %s' % (name, plan.save_file))
        elif step == STEP_RESTORE:
            out.append('restore %s from %s' % (name, plan.save_file))
        else:
            out.append('%s %s' % (step.replace('_', ' '), name))
    if plan.remove_config:
        out.append('remove %s' % plan.config_path)
    if plan.autostart:
        how, entry, target = plan.autostart
        out.append('link %s -> %s' % (entry, target) if how == 'link' else 'remove %s' % entry)
    return out


class DomainService(object):
    """Inspect, plan and apply, for one domain.

    ``root`` prefixes every file path (unit tests point it at a temporary directory).
    """

    #: How many more times ``xl create`` runs after a hotplug script was killed at libxl's deadline (fixed at build
    #: time; a busy Domain-0 can miss it while the device is fine).
    CREATE_RETRIES = 1

    def __init__(self, client, root='/', config_dir=CONFIG_DIR, auto_dir=AUTO_DIR):
        self.client = client
        self.root = root
        self.config_dir = config_dir
        self.auto_dir = auto_dir
        self.log = []  # what was done, in order
        self.warnings = []  # what the caller should tell the user (a create that had to be done twice)
        self.last_row = None  # the ``xl list`` row found by inspect()

    def path(self, path):
        return os.path.join(self.root, path.lstrip('/'))

    # ------------------------------------------------------------------ inspect

    def read_config(self, path):
        """(text, parsed dict, syntax error) of a config file; text None when it does not exist."""
        try:
            with open(self.path(path)) as f:
                text = f.read()
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                return None, None, None
            raise
        try:
            return text, xl_cfg.parse(text, source=path), None
        except XlCfgSyntaxError as exc:
            return text, None, exc

    def autostart_entry(self, name, config_path):
        """(entry, resolved target) of the /etc/xen/auto entry that starts this domain, or (None, None)."""
        auto = self.path(self.auto_dir)
        if not os.path.isdir(auto):
            return None, None
        candidates = [name, '%s.cfg' % name]
        cfg_real = os.path.realpath(self.path(config_path))
        for entry in sorted(os.listdir(auto)):
            full = os.path.join(auto, entry)
            if entry in candidates or os.path.realpath(full) == cfg_real:
                target = os.readlink(full) if os.path.islink(full) else None
                if target is not None and not target.startswith('/'):
                    target = os.path.normpath(os.path.join(self.auto_dir, target))
                if target is not None and os.path.realpath(full) == cfg_real:
                    target = config_path
                return os.path.join(self.auto_dir, entry), target
        return None, None

    def inspect(self, name, params):
        """The ``current`` situation make_plan takes."""
        config_path = os.path.join(self.config_dir, '%s.cfg' % name)
        text, parsed, error = self.read_config(config_path)
        row = self.client.state(name)
        self.last_row = row
        running = self.client.domain_config(name) if row is not None else None
        live = {'sched': None, 'affinity': None}
        nr_cpus = None
        if row is not None and state_class(row['state']) in ('active', 'paused') and config_managed(params):
            if params.get('cpu_weight') is not None or params.get('cap') is not None:
                live['sched'] = self.client.sched_credit(name)
            if params.get('cpus') is not None:
                live['affinity'] = [r['hard_affinity'] for r in self.client.vcpu_list(name)
                                    if r['name'] == name]
                nr_cpus = self.client.info().get('nr_cpus')
        entry, target = self.autostart_entry(name, config_path)
        save_file = params.get('save_file')
        return {
            'config_path': config_path,
            'config_text': text,
            'config': parsed,
            'config_error': error,
            'row': row,
            'running': running,
            'live': live,
            'nr_cpus': nr_cpus,
            'autostart_entry': entry,
            'autostart_target': target,
            'save_file_exists': bool(save_file) and os.path.exists(self.path(save_file)),
        }

    # ------------------------------------------------------------------ files

    def write_file(self, path, text, mode=0o644):
        full = self.path(path)
        directory = os.path.dirname(full)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(full), dir=directory)
        try:
            with os.fdopen(fd, 'w') as f:
                f.write(text)
            os.chmod(tmp, mode)
            os.rename(tmp, full)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def remove_file(self, path):
        try:
            os.unlink(self.path(path))
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise

    def link(self, entry, target):
        full = self.path(entry)
        directory = os.path.dirname(full)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        if os.path.lexists(full):
            os.unlink(full)
        os.symlink(target, full)

    # ------------------------------------------------------------------ apply

    def stop(self, name, timeout, force, acpi_fallback=False):
        """Shut the domain down and wait until it is gone; destroy it after ``timeout`` when ``force``.

        A guest that has shut down stays listed (``--ps--``) until the xl process that started it
        applies on_poweroff; when no such process is left (after a restore, a migration, or an xl
        killed), nothing ever does.  The module then destroys the shut-down domain itself, which is
        what on_poweroff=destroy means.  Returns (seconds waited, destroyed after the timeout).
        """
        try:
            waited = self.client.shutdown(name, wait=True, timeout=timeout, until='shutdown',
                                          acpi_fallback=acpi_fallback)
        except XlTimeoutError as exc:
            if not force:
                last = exc.details.get('last')
                raise XlTimeoutError(
                    '%s did not shut down within %ss (last seen: %s); set force=true to destroy it after '
                    'the timeout' % (name, timeout, last['state_flags'] if last else 'gone'), last=last)
            self.log.append('destroy %s (did not shut down within %ss)' % (name, timeout))
            self.destroy(name)
            return timeout, True
        row = self.client.state(name)
        if row is not None:
            self.log.append('destroy %s (shut down, %s)' % (name, row['state_flags']))
            self.destroy(name)
        return waited, False

    def destroy(self, name):
        """``xl destroy``, tolerating the race with the xl process that reaps a shut-down domain.

        Captured in the lab: ``xl destroy`` of a ``--ps--`` domain failed with "xc_domain_destroy
        failed: No such process" because the domain's own xl was destroying it at that moment.  What
        matters is that the domain is gone, so a failure is only an error if it is still there.
        """
        try:
            self.client.destroy(name, wait=True)
        except XlCommandError:
            if self.client.state(name) is not None:
                raise

    def create(self, name, config_path, paused, timeout):
        """``xl create``, once more when only a hotplug script's deadline was missed (XlHotplugTimeoutError).

        libxl tears the half-built domain down itself; anything it left is destroyed (it is the domain this call
        was creating) before the second try, which is logged.  Any other failure, or a second timeout, is raised.
        """
        for attempt in range(self.CREATE_RETRIES + 1):
            try:
                return self.client.create(config_path, paused=paused, timeout=timeout)
            except XlHotplugTimeoutError as exc:
                if attempt == self.CREATE_RETRIES:
                    raise
                if self.client.state(name) is not None:
                    self.destroy(name)
                note = 'create %s: %s; created again' % (name, exc.summary)
                self.log.append(note)
                self.warnings.append('%s (%s)' % (note, exc.message.splitlines()[0]))
        return None

    def apply(self, name, plan, params):
        """Do what the plan says.  Returns facts about what happened."""
        facts = {'shutdown_seconds': None, 'destroyed_after_timeout': False}
        if plan.write_config:
            self.write_file(plan.config_path, plan.config_after_text)
            self.log.append('write %s' % plan.config_path)
        for change in plan.live:
            getattr(self.client, change.op)(*change.args, **change.kwargs)
            self.log.append('%s %s: %s -> %s' % (change.op.replace('_', '-'), name, change.before, change.after))
        for step in plan.steps:
            if step in (STEP_CREATE, STEP_CREATE_PAUSED):
                self.create(name, plan.config_path, step == STEP_CREATE_PAUSED, params.get('timeout'))
            elif step == STEP_UNPAUSE:
                self.client.unpause(name)
            elif step == STEP_PAUSE:
                self.client.pause(name)
            elif step == STEP_SHUTDOWN:
                waited, escalated = self.stop(name, params['shutdown_timeout'], params.get('force'),
                                              acpi_fallback=plan.domain_type == 'hvm')
                facts['shutdown_seconds'] = round(waited, 3)
                facts['destroyed_after_timeout'] = escalated
            elif step == STEP_DESTROY:
                self.destroy(name)
            elif step == STEP_WAIT_GONE:
                self.client.waiter.until(lambda: self.client.state(name), lambda r: r is None,
                                         timeout=params['shutdown_timeout'], interval=0.5,
                                         what='domain %s to vanish' % name)
            elif step == STEP_SAVE:
                self.client.save(name, plan.save_file, timeout=params.get('timeout'))
            elif step == STEP_RESTORE:
                self.client.restore(plan.save_file, timeout=params.get('timeout'))
            self.log.append('%s %s' % (step.replace('_', ' '), name))
        if plan.remove_config:
            self.remove_file(plan.config_path)
            self.log.append('remove %s' % plan.config_path)
        if plan.autostart:
            how, entry, target = plan.autostart
            if how == 'link':
                self.link(entry, target)
                self.log.append('link %s -> %s' % (entry, target))
            else:
                self.remove_file(entry)
                self.log.append('remove %s' % entry)
        return facts

    def run(self, name, params, check_mode=False):
        """Inspect, plan, check memory, record, apply.  Returns (plan, tracker, facts)."""
        v.domain_name(name)
        if config_managed(params) and params['state'] != 'absent':
            desired_config(name, params)  # refuse invalid options before running anything
        if params.get('save_file') is not None:
            v.abs_path(params['save_file'], 'save_file')
        current = self.inspect(name, params)
        plan = make_plan(name, params, current)
        if plan.memory_needed_mib is not None:
            info = self.client.info()
            check_memory(plan, info.get('free_memory'), info.get('total_memory'), info.get('host'))
        tracker = ChangeTracker()
        record_plan(plan, tracker)
        facts = {'shutdown_seconds': None, 'destroyed_after_timeout': False}
        if not check_mode and tracker.changed:
            facts = self.apply(name, plan, params)
        return plan, tracker, facts


__all__ = ['DomainService', 'make_plan', 'desired_config', 'check_memory', 'record_plan', 'describe',
           'summary_state', 'PlanError', 'XlError']
