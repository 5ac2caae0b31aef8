"""RoomChat server: protocol, room hub, history store and websocket transport."""

__version__ = "0.1.0"
