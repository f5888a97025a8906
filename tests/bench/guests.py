# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: a guest from template to SSH-ready, on one lab host, in one run: our clone path against xen-tools'
xen-create-image (debootstrap, the same distribution) and against the floor (a ready disk that is only booted).

Paths, all for a Debian 12 PV guest with 256 MiB on the first host of xen_hosts:

* role:     ``ansible-playbook`` of the role xenfleet.xen.guests for one new guest, wall time on the control node:
            placement survey of every Domain-0, thin snapshot, first-boot files, xen_domain, and Ansible's own SSH
            login to the guest through its Domain-0 with the pinned host key (the strictest "ready");
* clone:    the same mechanism without Ansible, timed on the Domain-0: xenfleet-guest clone + xl create + sshd's
            banner on the guest's address, + a login;
* floor:    the disk the role made, already customised and booted once: xl create + sshd's banner + a login;
* xen-tools: xen-create-image --install-method=debootstrap (files in /var/lib/xen/images, no Recommends installed)
            + xl create + sshd's banner + a login. Its guest gets 448 MiB (through pygrub, Debian's default initrd does not fit
            in 256) and net.ifnames=0 (its interfaces file names eth0): see guests_dom0.py.

SSH-ready is a login for every path: the role's is Ansible's; for the others, once the Domain-0 saw sshd's banner,
the control node logs in as root through the Domain-0 with the role's ssh config for the guest (ProxyCommand on the
Domain-0's connection), as Ansible does, and the time of that login is added. Until session 11 those paths stopped
at the banner and the role alone paid a login; each is still printed to the banner only, not compared.

Also printed: what one task costs on the Domain-0, a module against a raw command (not a path, no goal).

The template is built, shipped and imported by a first provisioning that is not part of the comparison (it is
printed as well). Goals: xen-tools / role >= 10, role / floor <= 1.5. Ratios are of figures measured side by side
in the same run, never compared with fixed times.

Rounds (--rounds, default 3): role, floor and clone are measured once per round, interleaved (role, floor, clone,
role, floor, clone, ...), and compared by their medians; each round's figures and ratio are printed too. One figure
of the emulated lab moves by 10-30 s from one minute to the next, on every path at once (the same floor took 41.7
and 79.1 s in one run; the bench host's emulated CPU is busy throughout and the control node is not, so the cause is
inside QEMU or the lab host: QEMU's translation-cache flushes are one suspect), so that a single round can land on
either side of a goal; interleaving puts a slow minute of the lab on one figure of one round, not on one path.
Where the role's time goes is printed per round, from its log's task times: before the clone (validation, survey,
placement, the guest's key), the clone task, xen_domain, the ssh files (written on the control node while the guest
boots), the sshd wait and Ansible's login.

usage: python3 tests/bench/guests.py -i INVENTORY [-i INVENTORY...]
example: .venv/bin/python tests/bench/guests.py -i .lab/guests/inventory.yml
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from progress import call_logged

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, 'tests', 'bench')
GUEST, GUEST_IP = 'bench-clone', '192.168.250.31'
XT, XT_IP = 'bench-xt', '192.168.250.32'
STEP_OUT = '/tmp/xenfleet-bench-guests-step.json'


def say(msg):
    print('[bench %s] %s' % (time.strftime('%H:%M:%S'), msg), flush=True)


def tool(name):
    """The project's venv copy of an Ansible command, else the one on PATH."""
    exe = os.path.join(ROOT, '.venv', 'bin', name)
    return exe if os.path.exists(exe) else name


class Runner(object):
    def __init__(self, inventories, logdir):
        self.inventory_args = [arg for inv in inventories for arg in ('-i', inv)]
        self.base = ([tool('ansible-playbook')] + self.inventory_args
                     + ['-i', os.path.join(BENCH, 'guests-inventory.yml'), os.path.join(BENCH, 'guests.yml')])
        self.logdir = logdir
        self.n = 0

    def step(self, step, what, extra=None, limit=None):
        self.n += 1
        log = os.path.join(self.logdir, '%02d-%s.log' % (self.n, what.replace(' ', '-').replace('/', '-')))
        cmd = self.base + ['-e', json.dumps(dict({'bench_step': step, 'bench_out': STEP_OUT}, **(extra or {})))]
        if limit:
            cmd += ['--limit', limit]
        say('%s (log: %s)' % (what, log))
        t0 = time.monotonic()
        rc = call_logged(cmd, log, what, ROOT, say)
        seconds = time.monotonic() - t0
        if rc != 0:
            with open(log) as f:
                sys.stdout.write(''.join(f.readlines()[-40:]))
            raise SystemExit('[bench] %s failed (rc=%d), see %s' % (what, rc, log))
        say('%s: %.1f s' % (what, seconds))
        return seconds, log

    def adhoc(self, module, args, times=3):
        """The median wall time of ``ansible xen_hosts[0] -m MODULE -a ARGS``: what one task costs on the Domain-0
        (a module: Python and the module's payload started there; raw: one command over the open ssh connection)."""
        cmd = [tool('ansible')] + self.inventory_args + ['xen_hosts[0]', '-m', module, '-a', args]
        spent = []
        for dummy in range(times):
            t0 = time.monotonic()
            rc = subprocess.call(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if rc != 0:
                raise SystemExit('[bench] %s failed (rc=%d)' % (' '.join(cmd), rc))
            spent.append(time.monotonic() - t0)
        return statistics.median(spent)

    def var(self, host, name):
        """A variable of HOST as the inventory gives it (templated)."""
        cmd = ([tool('ansible')] + self.inventory_args + ['-i', os.path.join(BENCH, 'guests-inventory.yml'), host]
               + ['-m', 'ansible.builtin.debug', '-a', 'var=' + name])
        # the default callback, YAML results (ansible.cfg): "    NAME: VALUE"
        env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK='ansible.builtin.default', ANSIBLE_CALLBACK_RESULT_FORMAT='yaml')
        out = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
        for line in out.splitlines():
            if line.strip().startswith(name + ':'):
                return line.split(':', 1)[1].strip()
        raise SystemExit('[bench] %s has no %s: %s' % (host, name, out))

    def dom0(self, what, args):
        self.step('dom0', what, {'bench_args': args})
        with open(STEP_OUT) as f:
            return json.load(f)


def login(ssh_config, host, extra=()):
    """Seconds until root logs in to HOST (a Host of the role's ssh config: through its Domain-0, host key pinned)
    and runs `true`, retried every 0.5 s: what makes a guest SSH-ready, as the role's own login does. Timed from
    after the Domain-0 step that saw sshd's banner; the guest boots on meanwhile, which only favours the path."""
    argv = ['ssh', '-F', ssh_config, '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20'] + list(extra) + [host, 'true']
    t0 = time.monotonic()
    while True:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
        if proc.returncode == 0:
            return time.monotonic() - t0
        if time.monotonic() - t0 > 300:
            raise SystemExit('[bench] no login to %s within 300 s: %s' % (host, proc.stderr.strip()))
        time.sleep(0.5)


# The role's phases, from the task times in its log (call_logged stamps each line): (label, first task of the phase)
ROLE_PHASES = (('survey, placement, host key', 'Validating arguments against arg spec'),
               ('clone task', 'Guest | Take the lease, clone the template'),
               ('xen_domain task', 'Guest | The domain (xenfleet.xen.xen_domain)'),
               ('ssh files (control node, while the guest boots)', 'Guest | Pin the guest\'s host key'),
               ('sshd wait (from the Domain-0)', 'Guest | Give the lease back and wait for the guest\'s sshd'),
               ('login (Ansible)', 'Guest | Log in to the guest'),
               (None, 'Guest | Wait until the guest answers over SSH'))


def role_phases(log):
    """Seconds of each ROLE_PHASES phase in a role step's log: from its first task's line to the next phase's (a
    phase whose task comes earlier than the one before it, as in the logs of an older task order, is left out)."""
    starts = {}
    with open(log) as f:
        for line in f:
            if line.startswith('[') and ' s] TASK [' in line:
                stamp, task = line[1:].split(' s] TASK [', 1)
                for dummy, needle in ROLE_PHASES:
                    if needle in task and needle not in starts:
                        starts[needle] = float(stamp)
    ordered = []
    for label, needle in ROLE_PHASES:
        if needle in starts and (not ordered or starts[needle] >= ordered[-1][1]):
            ordered.append((label, starts[needle]))
    return dict((label, round(following - start, 1))
                for (label, start), (dummy, following) in zip(ordered, ordered[1:]))


def grep(log, needle):
    with open(log) as f:
        return [line.strip() for line in f if needle in line]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('-i', '--inventory', action='append', required=True)
    parser.add_argument('--logdir', default='/tmp/xenfleet-bench-guests')
    parser.add_argument('--out', default='/tmp/xenfleet-bench-guests.json')
    parser.add_argument('--skip-xen-tools', action='store_true', help='leave xen-tools out (quick runs)')
    parser.add_argument('--rounds', type=int, default=3,
                        help='rounds of role, floor and clone, interleaved; compared by their medians (default 3)')
    args = parser.parse_args(argv)
    os.makedirs(args.logdir, exist_ok=True)
    r = Runner(args.inventory, args.logdir)
    results = {}

    def save():  # after every figure: a run stopped halfway still leaves what it measured
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)

    absent = {'guests_state': 'absent', 'guests_remove_disk': True}

    results['setup (xen-tools install, not compared)'] = r.step(
        'prepare', 'setup on the Domain-0', {'bench_xen_tools': not args.skip_xen_tools})[0]
    # A first provisioning builds, ships and imports the template if needed: printed, not compared
    r.step('provision', 'delete a bench guest left over', absent, limit=GUEST)
    results['first provisioning (template build/ship/import if needed)'] = r.step(
        'provision', 'first provisioning', limit=GUEST)[0]
    r.step('provision', 'delete it with its disk', absent, limit=GUEST)

    # the role's ssh config for its guests, which the logins of the other paths use as well
    ssh_config = os.path.join(r.var(GUEST, 'guests_state_dir'), 'ssh_config')
    rounds = {'role': [], 'floor': [], 'clone': []}
    banner = {'floor': [], 'clone': []}

    def ready(what, figures, host=GUEST, extra=()):
        figures['phases']['login (control node)'] = round(login(ssh_config, host, extra), 1)
        say('  %s phases: %s' % (what, figures['phases']))
        return figures['total'] + figures['phases']['login (control node)'], figures['total']

    def summarise():
        for path in ('role', 'floor', 'clone'):
            if rounds[path]:
                results[path] = statistics.median(rounds[path])
        for path in ('floor', 'clone'):
            if banner[path]:
                results['%s, to the banner only (not compared)' % path] = statistics.median(banner[path])
        save()

    for n in range(1, args.rounds + 1):
        tag = 'round %d of %d: ' % (n, args.rounds)
        if n > 1:
            r.step('provision', tag + 'delete the bench guest with its disk', absent, limit=GUEST)
        seconds, log = r.step('provision', tag + 'role: template to SSH-ready', limit=GUEST)
        rounds['role'].append(seconds)
        for line in grep(log, 'disk cloned and customised'):
            say('  ' + line.strip('"'))
        say('  role phases: %s' % role_phases(log))

        r.step('stop', tag + 'shut it down for the floor')
        total, to_banner = ready('floor', r.dom0(tag + 'floor: boot the ready disk', ['floor', GUEST, GUEST_IP]))
        rounds['floor'].append(total)
        banner['floor'].append(to_banner)

        r.step('unclone', tag + 'shut it down, keep its first-boot spec and config, remove its disk')
        with open(STEP_OUT) as f:
            disk = json.load(f)  # what the role's disk was cloned from, and its size: the same clone again
        total, to_banner = ready('clone', r.dom0(tag + 'clone without Ansible', [
            'clone', GUEST, GUEST_IP, 'xenvg', disk['template_lv'], GUEST + '-disk', str(disk['size_mib']),
            '/var/lib/xenfleet/firstboot/%s.json' % GUEST]))
        rounds['clone'].append(total)
        banner['clone'].append(to_banner)
        say('  %srole %.1f s, floor %.1f s, clone %.1f s: role / floor %.2f' % (
            tag, rounds['role'][-1], rounds['floor'][-1], rounds['clone'][-1], rounds['role'][-1] / rounds['floor'][-1]))
        summarise()

    # Where the role's time over the clone goes: each module task on the emulated Domain-0 starts Python and the
    # module's payload there (the role runs two for a new guest: the clone and xen_domain; the survey, the lease,
    # and the sshd wait are raw commands), and Ansible's login runs one in the guest
    tasks = {}
    for label, module, margs in (('raw', 'ansible.builtin.raw', 'true'), ('module', 'ansible.builtin.command', 'true')):
        tasks[label] = r.adhoc(module, margs)
        say('  one %s task on the Domain-0 (ansible -m %s %s, median of 3): %.1f s' % (label, module, margs, tasks[label]))
    results['one raw task on the Domain-0 (not a path)'] = tasks['raw']
    results['one module task on the Domain-0 (not a path)'] = tasks['module']
    save()

    if not args.skip_xen_tools:
        r.step('stop', 'shut the clone down (memory for xen-tools\' guest)')
        xt = r.dom0('xen-tools: xen-create-image (debootstrap)',
                    ['xentools', XT, XT_IP, 'bookworm', 'http://deb.debian.org/debian'])
        # its own host keys, unknown here: the bench guest's Host block (through the Domain-0) with its address
        results['xen-tools'], results['xen-tools, to the banner only (not compared)'] = ready('xen-tools', xt, extra=[
            '-o', 'HostName=' + XT_IP, '-o', 'HostKeyAlias=' + XT, '-o', 'StrictHostKeyChecking=no',
            '-o', 'UserKnownHostsFile=/dev/null', '-o', 'GlobalKnownHostsFile=/dev/null'])
        r.step('cleanup', 'remove xen-tools\' guest')
    r.step('provision', 'delete the bench guest with its disk', absent, limit=GUEST)

    save()
    print()
    print('%-62s %10s' % ('path (Debian 12 PV guest, 256 MiB, one lab host)', 'seconds'))
    for key, value in results.items():
        print('%-62s %10.1f' % (key, value))
        if key in rounds and len(rounds[key]) > 1:
            print('%-62s %s' % ('  (the median of these rounds)', ' '.join('%.1f' % x for x in rounds[key])))
    print()
    if len(rounds['role']) > 1:
        print('%-62s %s' % ('role / floor in each round', ' '.join(
            '%.2f' % (a / b) for a, b in zip(rounds['role'], rounds['floor']))))
    ratios = [('role / floor (goal <= 1.5)', 'role', 'floor'),
              ('role / floor to the banner only (without its login)', 'role',
               'floor, to the banner only (not compared)'),
              ('clone without Ansible / floor', 'clone', 'floor'),
              ('xen-tools / role (goal >= 10)', 'xen-tools', 'role'),
              ('xen-tools / clone without Ansible', 'xen-tools', 'clone'),
              ('one module task / one raw task on the Domain-0', 'one module task on the Domain-0 (not a path)',
               'one raw task on the Domain-0 (not a path)')]
    results['rounds'] = rounds
    save()
    for label, a, b in ratios:
        if a in results and b in results:
            print('%-62s %10.2f' % (label, results[a] / results[b]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
