"""Small helpers shared by system tests."""
import socket


def free_port(host="127.0.0.1", kind=socket.SOCK_STREAM):
    """A port nothing listens on now (TCP by default)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]
