"""The single-process client manager, with a broadcast loop that does only the sends.

python-socketio's ``Manager.emit`` already encodes a broadcast once; per recipient it then goes
through a generator, a list look-up for ``skip_sid`` and two server methods before the Engine.IO
socket's ``send``. :class:`Manager` keeps the encoding and the order and hands the same
Engine.IO packet object to each recipient's socket directly, so the transport can frame it
once for everyone. Emits with a callback (one ack id per recipient) and recipients that are not
open network sockets (in-process test clients, closing sessions) take the base class's path.

Under threading a broadcast's frames are written from the handler's thread; the fan-outs take
turns in their events' arrival order (:mod:`.fanout`). Under gevent the loop never yields, so
two broadcasts cannot interleave. Broadcasts with binary attachments, with a callback, or with
per-packet INFO logging on take the server's general send without a turn, as do the message
queue managers (python-socketio's own).

Pinned against python-socketio 5.18's ``Manager.emit``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet

from .eio_socket import SharedPacket
from .fanout import FanoutTurns
from .room_membership import AtomicRooms


class Manager(AtomicRooms, socketio.Manager):
    """``socketio.Manager`` whose broadcasts cost one ``send`` call per recipient (and whose
    room joins are thread-safe, :mod:`.room_membership`)."""

    def __init__(self) -> None:
        super().__init__()
        #: threading: each broadcast's loop over its recipients holds a turn
        self.fanout_turns = FanoutTurns()

    def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        """Emit ``event`` to one client, a room, or everyone in ``namespace``."""
        if callback:
            super().emit(event, data, namespace, room, skip_sid, callback, to, **kwargs)
            return
        room = to or room
        rooms = self.rooms.get(namespace)
        if rooms is None:
            return
        if isinstance(data, tuple):  # several arguments; anything else is one argument
            data = list(data)
        elif data is not None:
            data = [data]
        else:
            data = []
        server = self.server
        encoded = server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *data]
        ).encode()
        if not isinstance(encoded, list):
            encoded = [encoded]
        eio_packets = [SharedPacket(eio_packet.MESSAGE, part) for part in encoded]
        if hasattr(room, "__len__") and not isinstance(room, str):
            participants = {}
            for each in room:  # ``get``: a room a leave deletes meanwhile is simply empty
                bidict = rooms.get(each)
                if bidict is not None:
                    participants.update(bidict._fwdm)
        else:
            bidict = rooms.get(room)
            if bidict is None:
                return
            participants = bidict._fwdm.copy()  # handlers may join or leave while we send
        if skip_sid is not None:
            skipped = skip_sid if isinstance(skip_sid, list) else [skip_sid]
            for sid in skipped:
                try:
                    participants.pop(sid, None)
                except TypeError:  # unhashable: the base class's list test never matches it
                    pass
        fallback = server._send_eio_packet
        if len(eio_packets) > 1 or server.eio.logger.isEnabledFor(logging.INFO):
            # attachments, or a log line per recipient: the server's general send, and no
            # turn (a send there may close a session, running the app's disconnect handler)
            for eio_sid in participants.values():
                for pkt in eio_packets:
                    fallback(eio_sid, pkt)
            return
        if server.eio.async_mode == "threading":
            with self.fanout_turns:
                gone = self._deliver(participants, eio_packets[0])
        else:  # gevent: the loop never yields, so broadcasts cannot interleave
            gone = self._deliver(participants, eio_packets[0])
        for sock in gone:  # after the loop: closing runs the app's disconnect handlers
            sock.check_ping_timeout()

    def _deliver(self, participants: dict, pkt: Any) -> list:
        """Hand ``pkt`` to each recipient's Engine.IO socket, in order; the sockets whose
        client let the ping deadline pass (nothing sent to them)."""
        server = self.server
        sockets = server.eio.sockets
        fallback = server._send_eio_packet
        gone = []
        now = time.time()  # the ping deadlines, checked against one clock reading
        for eio_sid in participants.values():
            sock = sockets.get(eio_sid)
            if sock is not None and not sock.closed:
                if not sock.send_broadcast(pkt, now):
                    gone.append(sock)
            else:
                fallback(eio_sid, pkt)  # an in-process peer, or a session being closed
        return gone
