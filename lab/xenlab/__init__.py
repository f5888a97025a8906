"""The xenfleet lab: emulated bare x86 hosts under QEMU (TCG), for real Xen on one machine."""
