# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Capacity placement of Xen guests on Domain-0 hosts: pure Python, no I/O, deterministic.

Input: the hosts with the capacity they have left (free memory in MiB, free vCPUs), and the guests
with what they need (memory, vCPUs) and optional constraints:

* ``pin``: the guest must run on that host;
* ``exclude``: hosts the guest must not run on (for example the host being evacuated);
* ``current``: the host the guest already lives on (its disk, config or domain is there). A guest
  stays where it is (placement never moves a guest behind the user's back) unless ``current`` is
  excluded, and ``running=True`` says that its memory and vCPUs are already counted out of that
  host's free figures, so it costs nothing more there.

Output (:class:`Placement`): either every guest has a host (``ok``), or a list of what does not fit
and why, and a text table of both that can be shown as is.

The same input always gives the same output: guests are placed in a fixed order (sticky and pinned
guests first, by name; then the others by memory, vCPUs and name, largest first), and ties between
hosts are broken by name. Two strategies:

* ``spread`` (default): each guest goes to the host with the most memory left (then the most vCPUs
  left, then the fewest guests placed there, then the name), so load is spread across hosts;
* ``pack``: each guest goes to the host with the least memory left that still fits (best fit), so
  hosts are filled one after the other and others stay empty.

Both are greedy (largest first). A fleet that a greedy pass cannot place is reported as not fitting,
even if some other assignment would exist; ``place()`` never returns a partial plan as ``ok``.
"""

from __future__ import annotations

STRATEGIES = ('spread', 'pack')

# Why a guest has the host it has (the "how" column of the table)
HOW_CURRENT = 'stays (exists there)'
HOW_PINNED = 'pinned'
HOW_CAPACITY = 'placed by capacity'


class PlacementError(ValueError):
    """Invalid input (not "does not fit": that is a normal result)."""


def whole_number(value, what, allow_none=False):
    """VALUE as a non-negative int (not a bool), or PlacementError naming WHAT."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool):
        raise PlacementError('%s must be a number, got %r' % (what, value))
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise PlacementError('%s must be a number, got %r' % (what, value))
    if number < 0:
        raise PlacementError('%s must not be negative, got %r' % (what, value))
    return number


class Host(object):
    """A host and the capacity it has left for new guests."""

    def __init__(self, name, memory_mib, vcpus=None):
        if not name or not isinstance(name, str):
            raise PlacementError('a host needs a name, got %r' % (name,))
        self.name = name
        self.memory_mib = whole_number(memory_mib, 'host %s: memory_mib' % name)
        # None: vCPUs are not limited on this host
        self.vcpus = whole_number(vcpus, 'host %s: vcpus' % name, allow_none=True)

    @classmethod
    def from_dict(cls, data, name=None):
        if not isinstance(data, dict):
            raise PlacementError('a host must be a dict, got %r' % (data,))
        unknown = set(data) - {'name', 'memory_mib', 'vcpus'}
        if unknown:
            raise PlacementError('host %s: unknown keys %s' % (name or data.get('name'), ', '.join(sorted(unknown))))
        if 'memory_mib' not in data:
            raise PlacementError('host %s: memory_mib is required' % (name or data.get('name')))
        return cls(name or data.get('name'), data['memory_mib'], data.get('vcpus'))


class Guest(object):
    """A guest, what it needs, and where it may or must go."""

    def __init__(self, name, memory_mib, vcpus=1, pin=None, exclude=(), current=None, running=False):
        if not name or not isinstance(name, str):
            raise PlacementError('a guest needs a name, got %r' % (name,))
        self.name = name
        self.memory_mib = whole_number(memory_mib, 'guest %s: memory_mib' % name)
        self.vcpus = whole_number(vcpus, 'guest %s: vcpus' % name)
        if pin is not None and not isinstance(pin, str):
            raise PlacementError('guest %s: pin must be a host name, got %r' % (name, pin))
        self.pin = pin or None
        if isinstance(exclude, str) or not all(isinstance(e, str) for e in (exclude or ())):
            raise PlacementError('guest %s: exclude must be a list of host names, got %r' % (name, exclude))
        self.exclude = tuple(sorted(set(exclude or ())))
        if current is not None and not isinstance(current, str):
            raise PlacementError('guest %s: current must be a host name, got %r' % (name, current))
        self.current = current or None
        self.running = bool(running)

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict):
            raise PlacementError('a guest must be a dict, got %r' % (data,))
        known = {'name', 'memory_mib', 'vcpus', 'pin', 'exclude', 'current', 'running'}
        unknown = set(data) - known
        if unknown:
            raise PlacementError('guest %s: unknown keys %s' % (data.get('name'), ', '.join(sorted(unknown))))
        if 'memory_mib' not in data:
            raise PlacementError('guest %s: memory_mib is required' % data.get('name'))
        return cls(data.get('name'), data['memory_mib'], data.get('vcpus', 1), data.get('pin'),
                   data.get('exclude') or (), data.get('current'), data.get('running', False))


class _Room(object):
    """A host's capacity as placement goes along."""

    def __init__(self, host):
        self.host = host
        self.memory_left = host.memory_mib
        self.vcpus_left = host.vcpus
        self.guests = []

    def why_not(self, guest):
        """None when the guest fits here, else a short reason with the figures."""
        if guest.memory_mib > self.memory_left:
            return '%s has %d MiB free, needs %d' % (self.host.name, self.memory_left, guest.memory_mib)
        if self.vcpus_left is not None and guest.vcpus > self.vcpus_left:
            return '%s has %d vCPU(s) free, needs %d' % (self.host.name, self.vcpus_left, guest.vcpus)
        return None

    def take(self, guest, charge=True):
        if charge:
            self.memory_left -= guest.memory_mib
            if self.vcpus_left is not None:
                self.vcpus_left -= guest.vcpus
        self.guests.append(guest.name)


class Placement(object):
    """The result: assignments, what does not fit, and each host's capacity before and after."""

    def __init__(self, strategy, hosts, guests, assignments, how, unplaced, rooms):
        self.strategy = strategy
        self.host_order = [h.name for h in hosts]
        self.guests = guests
        self.assignments = assignments  # guest name -> host name
        self.how = how  # guest name -> HOW_*
        self.unplaced = unplaced  # [{'guest', 'memory_mib', 'vcpus', 'reason'}], by guest name
        self.rooms = rooms

    @property
    def ok(self):
        return not self.unplaced

    def host_table(self):
        rows = []
        for name in self.host_order:
            room = self.rooms[name]
            rows.append({
                'host': name,
                'memory_mib_free': room.host.memory_mib,
                'memory_mib_left': room.memory_left,
                'vcpus_free': room.host.vcpus,
                'vcpus_left': room.vcpus_left,
                'guests': sorted(room.guests),
            })
        return rows

    def table(self):
        """A text table: every guest with its host (or why it does not fit), then every host."""
        lines = []
        grows = [('GUEST', 'MEMORY', 'VCPUS', 'HOST', 'HOW / WHY NOT')]
        unplaced = dict((u['guest'], u['reason']) for u in self.unplaced)
        for guest in sorted(self.guests, key=lambda g: g.name):
            if guest.name in self.assignments:
                grows.append((guest.name, '%d MiB' % guest.memory_mib, str(guest.vcpus),
                              self.assignments[guest.name], self.how[guest.name]))
            else:
                grows.append((guest.name, '%d MiB' % guest.memory_mib, str(guest.vcpus), '-',
                              'DOES NOT FIT: ' + unplaced[guest.name]))
        lines.extend(_columns(grows))
        lines.append('')
        hrows = [('HOST', 'MEMORY FREE', 'AFTER', 'VCPUS FREE', 'AFTER', 'GUESTS')]
        for row in self.host_table():
            hrows.append((row['host'], '%d MiB' % row['memory_mib_free'], '%d MiB' % row['memory_mib_left'],
                          '-' if row['vcpus_free'] is None else str(row['vcpus_free']),
                          '-' if row['vcpus_left'] is None else str(row['vcpus_left']),
                          ', '.join(row['guests']) or '-'))
        lines.extend(_columns(hrows))
        return '\n'.join(lines)

    def to_dict(self):
        return {
            'ok': self.ok,
            'strategy': self.strategy,
            'assignments': dict(self.assignments),
            'how': dict(self.how),
            'unplaced': [dict(u) for u in self.unplaced],
            'hosts': self.host_table(),
            'table': self.table(),
        }


def _columns(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [('  '.join(c.ljust(widths[i]) for i, c in enumerate(r))).rstrip() for r in rows]


def _vcpus_key(room):
    """vCPUs left, unlimited sorting as plenty."""
    return room.vcpus_left if room.vcpus_left is not None else float('inf')


def _spread_key(room):
    """spread: most memory left, then most vCPUs left, then fewest guests placed, then the name."""
    return (-room.memory_left, -_vcpus_key(room), len(room.guests), room.host.name)


def _pack_key(room):
    """pack: least memory left (best fit), then fewest vCPUs left, then most guests placed, then the name."""
    return (room.memory_left, _vcpus_key(room), -len(room.guests), room.host.name)


def _best(rooms, guest, strategy):
    """The room the guest goes to, or None and the reasons why no room fits."""
    fits, reasons = [], []
    for name in sorted(rooms):
        room = rooms[name]
        if name in guest.exclude:
            reasons.append('%s is excluded' % name)
            continue
        why = room.why_not(guest)
        if why:
            reasons.append(why)
        else:
            fits.append(room)
    if not fits:
        return None, reasons or ['there are no hosts']

    return min(fits, key=_spread_key if strategy == 'spread' else _pack_key), None


def place(hosts, guests, strategy='spread'):
    """Assign every guest to a host, or say what does not fit. See the module docstring."""
    if strategy not in STRATEGIES:
        raise PlacementError('strategy must be one of %s, got %r' % (', '.join(STRATEGIES), strategy))
    hosts = [h if isinstance(h, Host) else Host.from_dict(h) for h in hosts]
    guests = [g if isinstance(g, Guest) else Guest.from_dict(g) for g in guests]
    names = [h.name for h in hosts]
    if len(set(names)) != len(names):
        raise PlacementError('duplicate host names: %s' % ', '.join(sorted(set(n for n in names if names.count(n) > 1))))
    gnames = [g.name for g in guests]
    if len(set(gnames)) != len(gnames):
        raise PlacementError('duplicate guest names: %s'
                             % ', '.join(sorted(set(n for n in gnames if gnames.count(n) > 1))))
    rooms = dict((h.name, _Room(h)) for h in hosts)
    assignments, how, unplaced = {}, {}, []

    def refuse(guest, reason):
        unplaced.append({'guest': guest.name, 'memory_mib': guest.memory_mib, 'vcpus': guest.vcpus,
                         'reason': reason})

    # 1. Guests that already live somewhere (and are not being moved off it), then pinned guests
    free = []
    for guest in sorted(guests, key=lambda g: g.name):
        if guest.current is not None and guest.current not in guest.exclude:
            if guest.pin is not None and guest.pin != guest.current:
                refuse(guest, 'it exists on %s but is pinned to %s: move or delete it first' % (guest.current, guest.pin))
                continue
            if guest.current not in rooms:
                refuse(guest, 'it exists on %s, which is not one of the hosts (%s)'
                       % (guest.current, ', '.join(sorted(rooms)) or 'none'))
                continue
            room = rooms[guest.current]
            why = None if guest.running else room.why_not(guest)
            if why:
                refuse(guest, 'it exists on %s, where it does not fit: %s' % (guest.current, why))
                continue
            room.take(guest, charge=not guest.running)
            assignments[guest.name], how[guest.name] = guest.current, HOW_CURRENT
        elif guest.pin is not None:
            if guest.pin not in rooms:
                refuse(guest, 'pinned to %s, which is not one of the hosts (%s)'
                       % (guest.pin, ', '.join(sorted(rooms)) or 'none'))
                continue
            if guest.pin in guest.exclude:
                refuse(guest, 'pinned to %s, which is excluded' % guest.pin)
                continue
            room = rooms[guest.pin]
            why = room.why_not(guest)
            if why:
                refuse(guest, 'pinned to %s: %s' % (guest.pin, why))
                continue
            room.take(guest)
            assignments[guest.name], how[guest.name] = guest.pin, HOW_PINNED
        else:
            free.append(guest)

    # 2. The others by capacity, largest first
    for guest in sorted(free, key=lambda g: (-g.memory_mib, -g.vcpus, g.name)):
        room, reasons = _best(rooms, guest, strategy)
        if room is None:
            refuse(guest, '; '.join(reasons))
            continue
        room.take(guest)
        assignments[guest.name], how[guest.name] = room.host.name, HOW_CAPACITY

    unplaced.sort(key=lambda u: u['guest'])
    return Placement(strategy, hosts, guests, assignments, how, unplaced, rooms)
