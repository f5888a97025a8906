"""The lab's private network: a small learning Ethernet switch over UDP on loopback, one per lab.

Each host's QEMU sends its private NIC's frames to its own hub port (`-netdev socket,udp=...`) and receives
on its own local port. The switch learns source MACs per port and forwards a frame to the port that owns its
destination, or floods it to every other port. Unlike a multicast socket, a host never receives its own
frames back: looped-back frames make a Linux bridge in dom0 learn its guests' MACs on the wrong port
("received packet on ens4 with own address as source address"), which breaks guest traffic.

Run by `xenlab up` as `python -m xenlab.hub TAG HUB_BASE VM_BASE N`; stopped by `xenlab down`.
"""
import selectors
import socket
import sys

MAX_FRAME = 65536
VM_OFFSET = 50  # QEMU-side ports start this far above the switch's ports


def port_pair(hub_base, vm_base, index):
    """(hub port, QEMU port) of host INDEX (1-based)."""
    return hub_base + index, vm_base + index


class Switch:
    """Forwarding decisions only (no sockets), so that they can be unit-tested."""

    def __init__(self, ports):
        self.ports = list(ports)
        self.table = {}

    def forward(self, in_port, frame):
        if len(frame) < 14:
            return []
        dst, src = frame[0:6], frame[6:12]
        if not src[0] & 1:  # learn unicast sources only
            self.table[src] = in_port
        out = self.table.get(dst) if not dst[0] & 1 else None
        if out is not None:
            return [] if out == in_port else [out]
        return [p for p in self.ports if p != in_port]


def serve(hub_base, vm_base, count):
    sel = selectors.DefaultSelector()
    socks = {}
    for i in range(1, count + 1):
        hub_port, _ = port_pair(hub_base, vm_base, i)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(("127.0.0.1", hub_port))
        s.setblocking(False)
        socks[i] = s
        sel.register(s, selectors.EVENT_READ, i)
    switch = Switch(socks)
    dest = {i: ("127.0.0.1", port_pair(hub_base, vm_base, i)[1]) for i in socks}
    while True:
        for key, _ in sel.select():
            i = key.data
            while True:
                try:
                    frame = socks[i].recv(MAX_FRAME)
                except BlockingIOError:
                    break
                for j in switch.forward(i, frame):
                    try:
                        socks[j].sendto(frame, dest[j])
                    except OSError:
                        pass  # a host that is down or not yet up: like a cable that is unplugged


def main(argv):
    _tag, hub_base, vm_base, count = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    serve(hub_base, vm_base, count)


if __name__ == "__main__":
    main(sys.argv)
