"""The same server on its own thread and event loop, for the desktop app's host mode.

A busy window never stalls the server and a busy server never freezes the window: the GUI
thread only calls :meth:`ServerThread.start` and :meth:`ServerThread.stop`, which hand work
to the server's loop with ``run_coroutine_threadsafe`` and wait for it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from .app import ChatServer, ServerConfig
from .protocol import SHUTDOWN_REASON

__all__ = ["ServerThread"]


class ServerThread:
    """Run a :class:`ChatServer` in a daemon thread; ``start()`` returns once it listens."""

    def __init__(self, config: ServerConfig,
                 rooms_listener: Callable[[dict[str, int]], None] | None = None) -> None:
        """``rooms_listener`` is called on the server's thread when rooms change (see
        ChatServer.add_rooms_listener); a Qt signal emitted there reaches the GUI queued."""
        self.config = config
        self._rooms_listener = rooms_listener
        # The platform's default loop, never the policy's: inside qasync.run() (Python < 3.12)
        # the policy makes Qt loops, and a Qt loop cannot run on another thread.
        self._loop = asyncio.DefaultEventLoopPolicy().new_event_loop()
        self._thread = threading.Thread(target=self._run, name="roomchat-server", daemon=True)
        self._server: ChatServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.port

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    def start(self, timeout: float = 10.0) -> None:
        """Bind and listen; raise the bind error (OSError) or StoreError here, in the caller."""
        self._thread.start()

        async def start() -> ChatServer:
            server = ChatServer(self.config)
            if self._rooms_listener is not None:
                server.add_rooms_listener(self._rooms_listener)
            await server.start()
            return server

        try:
            self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(timeout)
        except BaseException:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
            raise

    def stop(self, timeout: float = 15.0, reason: str = SHUTDOWN_REASON) -> None:
        """Close every client with 1001 and ``reason``, flush history, end the thread."""
        if not self._thread.is_alive():
            return
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.stop(reason), self._loop).result(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
