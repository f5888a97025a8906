# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Processes whose output lines are timestamped as they arrive.

``AnsibleModule.run_command`` returns the output of a command once it has ended, so it cannot tell
*when* each line was printed.  A live migration needs that: ``xl migrate`` prints the events of
both ends on its stderr (the receiver's stderr comes back through ssh), and the times of those
lines, of a ping probe and of a xenstore watch give the downtime.  :class:`TimedProcess` runs a
command with an argument list (never a shell), one reader thread per pipe, and records
``(monotonic seconds, stream, line)`` for every line.

Only the migration monitor uses this; everything else goes through ``run_command``.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time


class TimedProcess(object):
    """A running command whose stdout/stderr lines are recorded with their arrival time."""

    def __init__(self, argv, clock=time.monotonic, env_update=None, stdout=True):
        self.argv = [str(a) for a in argv]
        self.clock = clock
        self.lines = []
        self._lock = threading.Lock()
        env = dict(os.environ)
        env.update(env_update or {})
        self.started = clock()
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=env, close_fds=True)
        self._threads = []
        if stdout:
            self._start_reader(self.proc.stdout, 'stdout')
        self._start_reader(self.proc.stderr, 'stderr')
        self.ended = None
        self.rc = None

    def _start_reader(self, pipe, name):
        thread = threading.Thread(target=self._read, args=(pipe, name))
        thread.daemon = True
        thread.start()
        self._threads.append(thread)

    def _read(self, pipe, name):
        for raw in iter(pipe.readline, b''):
            now = self.clock()
            line = raw.decode('utf-8', 'replace').rstrip('\r\n')
            with self._lock:
                self.lines.append((now, name, line))
        pipe.close()

    def wait(self, timeout=None):
        """Wait for the end (``None``: forever); returns rc, or None if still running at the deadline."""
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.ended = self.clock()
        for thread in self._threads:
            thread.join(5)
        return self.rc

    def stop(self, grace=2.0):
        """Terminate (then kill) the process if it still runs; returns its rc."""
        if self.proc.poll() is None:
            self.proc.terminate()
            if self.wait(grace) is None:
                self.proc.kill()
                self.wait(grace)
        else:
            self.wait(grace)
        return self.rc

    def snapshot(self):
        with self._lock:
            return list(self.lines)

    def text(self, stream):
        return ''.join(line + '\n' for dummy, name, line in self.snapshot() if name == stream)


def start_detached(argv, log_path=None):
    """Start a command in its own session, detached from the module (it outlives it); returns the pid.

    Its stdin is /dev/null and its output goes to ``log_path`` (or /dev/null).
    """
    if log_path:
        out = open(log_path, 'ab')
    else:
        out = open(os.devnull, 'wb')
    try:
        proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                close_fds=True, start_new_session=True)
    finally:
        out.close()
    return proc


def tcp_listening(port, address=None, proc_net=('/proc/net/tcp', '/proc/net/tcp6')):
    """Whether something listens on TCP ``port`` (on ``address``, IPv4, if given), from /proc/net/tcp."""
    want_port = '%04X' % port
    want_addr = None
    if address and address.count('.') == 3:
        try:
            want_addr = ''.join('%02X' % int(p) for p in reversed(address.split('.')))
        except ValueError:
            want_addr = None
    for path in proc_net:
        try:
            with open(path) as f:
                rows = f.read().splitlines()[1:]
        except (IOError, OSError):
            continue
        for row in rows:
            fields = row.split()
            if len(fields) < 4 or fields[3] != '0A':  # 0A: LISTEN
                continue
            addr, dummy, port_hex = fields[1].partition(':')
            if port_hex != want_port:
                continue
            if want_addr is None or addr in (want_addr, '00000000') or len(addr) > 8:
                return True
    return False
