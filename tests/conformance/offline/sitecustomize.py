"""Keeps the conformance suite offline: refuses every IP connection that does
not go to a loopback address.

Loaded by conftest.py in the pytest process and, through PYTHONPATH, at the
start of every `neuro` subprocess (Python imports `sitecustomize` on start-up).
"""

import errno
import ipaddress
import socket

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _refused(sock: socket.socket, address) -> bool:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    host = address[0] if isinstance(address, tuple) else address
    try:
        return not ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return host != "localhost"


def _guarded_connect(self, address):
    if _refused(self, address):
        raise OSError(
            errno.ENETUNREACH,
            f"the conformance suite is offline: connection to {address!r} refused",
        )
    return _connect(self, address)


def _guarded_connect_ex(self, address):
    if _refused(self, address):
        return errno.ENETUNREACH
    return _connect_ex(self, address)


if not getattr(socket.socket, "_neuro_conformance_offline", False):
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    socket.socket._neuro_conformance_offline = True
