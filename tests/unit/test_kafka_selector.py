"""`QuietSelector`: the default selector's answers, without formatting unknown sockets."""

from __future__ import annotations

import os
import selectors
import socket

import pytest

from adapters.kafka_support import QuietSelector


class Counted(socket.socket):
    """A socket that counts how often its repr is asked for."""

    reprs = 0

    def __repr__(self) -> str:
        Counted.reprs += 1
        return super().__repr__()


def test_it_finds_what_is_registered_and_refuses_the_rest_without_a_repr() -> None:
    left, right = socket.socketpair()
    unknown = Counted(fileno=os.dup(left.fileno()))
    with QuietSelector() as quiet, selectors.DefaultSelector() as default:
        for s in (quiet, default):
            s.register(right, selectors.EVENT_READ, "data")
        assert quiet.get_key(right) == default.get_key(right)
        assert quiet.get_key(right.fileno()).data == "data"

        Counted.reprs = 0
        with pytest.raises(KeyError):
            quiet.get_key(unknown)
        assert Counted.reprs == 0
        with pytest.raises(KeyError):
            default.get_key(unknown)
        assert Counted.reprs > 0  # what the standard selector does, and this one avoids

        quiet.modify(right, selectors.EVENT_READ | selectors.EVENT_WRITE, "both")
        assert quiet.get_key(right).events == selectors.EVENT_READ | selectors.EVENT_WRITE
        quiet.unregister(right)
        with pytest.raises(KeyError):
            quiet.get_key(right)
    with pytest.raises(RuntimeError):
        quiet.get_key(right)
    for s in (left, right, unknown):
        s.close()
