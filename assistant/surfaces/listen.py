"""The server's listening socket, bound before anything slow loads, so a busy port is one clear line.

uvicorn binds only after the app has started ("Application startup complete"), then fails with
"[Errno 98] address already in use" and exit 3, saying nothing of how to pick another port.
"""

from __future__ import annotations

import errno
import socket


class PortBusy(Exception):
    """Another program (often another `mcdewey serve`) listens on the port; the message says what to do."""


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port, ready for uvicorn (`Server.run(sockets=[...])`).

    PortBusy when the port is taken, naming `--port` and `MCDEWEY_PORT`; other errors as they are.
    """
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is not "busy"
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno != errno.EADDRINUSE:
            raise
        other = port + 1 if port < 65535 else 8001
        raise PortBusy(f"port {port} on {host} is already in use (another McDewey or another program); "
                       f"serve on another port with `mcdewey serve --port {other}` or MCDEWEY_PORT={other}, "
                       "or stop the program that holds it") from exc
    sock.set_inheritable(True)
    return sock
