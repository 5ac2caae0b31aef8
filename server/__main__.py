"""``roomchat-server``: the headless server (also ``python -m server``)."""

from __future__ import annotations

import argparse
import asyncio
import errno
import ipaddress
import logging
import signal
import sys
from pathlib import Path

from . import __version__
from .app import ChatServer, ServerConfig, TLSError
from .files import MiB, FileLimits, StorageError
from .search import SearchUnavailable
from .store import StoreError

__all__ = ["main", "default_data_dir"]


def default_data_dir() -> Path:
    """The platform's user data folder (``~/.local/share/RoomChat`` on Linux)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("RoomChat", appauthor=False)) / "server"


class _OneLineParser(argparse.ArgumentParser):
    """Bad options end with one line naming the option (argparse adds a usage block) and exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _port(text: str) -> int:
    """0-65535 (0: any free port); the OS would silently wrap 99999 and misread -1."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0 to 65535)")
    return port


def _data_dir(text: str) -> Path:
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder")
    return path


def _seconds(text: str) -> float:
    """A duration flag: a number of seconds, zero or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be zero or more seconds")
    return value


def _ipv4(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IPv4 address: {text!r}") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _OneLineParser(prog="roomchat-server", description="RoomChat LAN chat server")
    parser.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    parser.add_argument("--port", type=_port, default=8080,
                        help="port for WebSocket and HTTP (default 8080; 0 = any free port)")
    parser.add_argument("--data-dir", type=_data_dir, default=None, help="where history is kept")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--rate-limit", type=float, default=20.0,
                        help="messages per second per connection, bursts of twice that (0 = off)")
    parser.add_argument("--join-rate", type=float, default=1.0,
                        help="joins per second per connection, bursts of 5 (0 = off)")
    parser.add_argument("--max-conns-per-ip", type=int, default=64,
                        help="concurrent connections per IP address (0 = off)")
    parser.add_argument("--retention", type=int, default=10_000, help="messages kept per room (0 = all)")
    parser.add_argument("--edit-window", type=_seconds, default=24 * 3600, metavar="SECONDS",
                        help="how long after sending people may edit or delete a message (default 86400)")
    files = parser.add_argument_group("shared files")
    files.add_argument("--max-file-size", type=float, default=100, metavar="MIB",
                       help="largest file people may share, in MiB (default 100)")
    files.add_argument("--max-storage", type=float, default=2048, metavar="MIB",
                       help="all shared files together, in MiB; the oldest are deleted to make room "
                            "(default 2048)")
    files.add_argument("--uploads-per-connection", type=int, default=4, metavar="N",
                       help="files one connection may upload at once (default 4)")
    files.add_argument("--upload-rate", type=float, default=600, metavar="N",
                       help="new uploads per minute from one IP address (default 600, 0 = off)")
    files.add_argument("--upload-bandwidth", type=float, default=0, metavar="MIB/S",
                       help="upload speed per IP address, in MiB/s (default 0 = as fast as the network)")
    files.add_argument("--upload-timeout", type=float, default=900, metavar="SECONDS",
                       help="how long an interrupted upload waits to be resumed (default 900)")
    files.add_argument("--min-free-disk", type=float, default=64, metavar="MIB",
                       help="refuse uploads that would leave less free disk than this (default 64)")
    parser.add_argument("--key", default=None, help="room key every join must carry")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="URL",
                        help="let browser pages from this origin connect (repeatable; 'null' allows "
                             "pages opened from file://, such as the seed's index.html)")
    parser.add_argument("--certfile", type=Path, default=None, help="TLS certificate (PEM): serve https/wss")
    parser.add_argument("--keyfile", type=Path, default=None, help="TLS private key (PEM)")
    parser.add_argument("--no-advertise", action="store_true",
                        help="do not announce this server on the LAN (mDNS); announced by default "
                             "when --host is not a loopback address")
    parser.add_argument("--advertise-name", default="", metavar="NAME",
                        help="the name nearby apps list this server under (default: this machine's name)")
    parser.add_argument("--mdns-interface", action="append", default=[], metavar="ADDR", type=_ipv4,
                        help="announce only on the interface with this IPv4 address (repeatable; "
                             "default: every LAN interface, virtual adapters left out)")
    parser.add_argument("--redis", default=None, metavar="redis://HOST:PORT/DB",
                        help="share rooms, history and presence with every server on this Redis")
    parser.add_argument("--node-id", default=None, metavar="NAME",
                        help="this process's name among the servers on one Redis (default host-pid)")
    parser.add_argument("--presence-ttl", type=float, default=60.0, metavar="SECONDS",
                        help="with --redis: a crashed server's members leave the lists within this")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="N processes on one port (SO_REUSEPORT; N > 1 needs --redis)")
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # set for workers
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


async def serve(config: ServerConfig) -> int:
    server = ChatServer(config)
    try:
        await server.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"roomchat-server: port {config.port} is already in use; choose another with --port",
                  file=sys.stderr)
        else:
            print(f"roomchat-server: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}",
                  file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except NotImplementedError:  # Windows: KeyboardInterrupt still ends asyncio.run
            pass
    scheme = "wss" if server.tls else "ws"
    where = f"Redis {config.redis_url}, node {config.node_id or 'default'}" if config.redis_url else config.data_dir
    print(f"roomchat-server {__version__} listening on {scheme}://{config.host}:{server.port}/ "
          f"(history in {where})", flush=True)
    if server.fingerprint is not None:
        print(f"certificate SHA-256 fingerprint (people compare it before trusting this server): "
              f"{server.fingerprint}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workers != 1:
        from .workers import run_workers

        return run_workers(args, sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_level != "debug":  # one line per HTTP request and connection is noise
        logging.getLogger("websockets").setLevel(logging.WARNING)
    config = ServerConfig(
        data_dir=args.data_dir or default_data_dir(),
        host=args.host,
        port=args.port,
        rate_limit=args.rate_limit,
        rate_burst=max(1, int(args.rate_limit * 2)),
        join_rate=args.join_rate,
        max_conns_per_ip=args.max_conns_per_ip,
        retention=args.retention,
        edit_window=args.edit_window,
        files=FileLimits(
            max_file=int(args.max_file_size * MiB),
            max_total=int(args.max_storage * MiB),
            uploads_per_connection=max(1, args.uploads_per_connection),
            uploads_per_minute=args.upload_rate,
            bandwidth=args.upload_bandwidth * MiB,
            upload_timeout=args.upload_timeout,
            min_free_disk=int(args.min_free_disk * MiB),
        ),
        key=args.key,
        allowed_origins=tuple(args.allow_origin),
        certfile=args.certfile,
        keyfile=args.keyfile,
        advertise=not args.no_advertise and not _loopback(args.host),
        advertise_name=args.advertise_name,
        mdns_interfaces=tuple(args.mdns_interface),
        redis_url=args.redis,
        node_id=args.node_id,
        presence_ttl=args.presence_ttl,
        reuse_port=args.reuse_port,
    )
    try:
        runner = _runner()
        return runner(serve(config))
    except (StoreError, StorageError, TLSError, SearchUnavailable) as exc:
        print(f"roomchat-server: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


def _loopback(host: str) -> bool:
    """Nobody else can reach a server on a loopback address: nothing to announce."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _runner():
    """uvloop where it exists (not on Windows): the headless server's hot path is I/O."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


if __name__ == "__main__":
    sys.exit(main())
