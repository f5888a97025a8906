"""The private network's learning switch: forwarding decisions, table-driven."""
import pytest

from xenlab.hub import Switch

A, B, C = bytes.fromhex("5254002a0001"), bytes.fromhex("5254002a0002"), bytes.fromhex("00163e000001")
BCAST = b"\xff" * 6


def frame(dst, src):
    return dst + src + b"\x08\x00" + b"payload"


def test_flood_unknown_and_broadcast_never_back_to_sender():
    sw = Switch([1, 2, 3])
    assert sw.forward(1, frame(BCAST, A)) == [2, 3]
    assert sw.forward(2, frame(C, B)) == [1, 3]  # C not learned yet


def test_learned_unicast_goes_to_one_port():
    sw = Switch([1, 2, 3])
    sw.forward(1, frame(BCAST, A))
    sw.forward(2, frame(A, B))
    assert sw.forward(3, frame(A, C)) == [1]
    assert sw.forward(1, frame(B, A)) == [2]


def test_a_frame_for_the_senders_own_port_is_dropped():
    sw = Switch([1, 2])
    sw.forward(1, frame(BCAST, A))
    sw.forward(1, frame(BCAST, C))  # a guest behind host 1's bridge
    assert sw.forward(1, frame(C, A)) == []


def test_a_migrated_guest_is_relearned_on_its_new_port():
    sw = Switch([1, 2])
    sw.forward(1, frame(BCAST, C))
    assert sw.forward(2, frame(C, B)) == [1]
    sw.forward(2, frame(BCAST, C))  # the guest now lives behind host 2 (gratuitous ARP after migration)
    assert sw.forward(1, frame(C, A)) == [2]


@pytest.mark.parametrize("runt", [b"", b"\x00" * 13])
def test_runt_frames_are_dropped(runt):
    assert Switch([1, 2]).forward(1, runt) == []
