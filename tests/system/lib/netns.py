"""Network namespaces and veth links for system tests.

Names carry a per-test prefix so that parallel runs and leftovers of a crashed
run never collide; everything created is deleted at teardown.
"""
import os
import subprocess


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True,
                          text=True, timeout=20)


class Net:
    """The namespaces and links one test builds."""

    def __init__(self, prefix):
        # Namespace names are short: interface names are at most 15 bytes.
        self.prefix = prefix
        self.namespaces = []

    def ns(self, name):
        """Creates namespace <prefix><name> with loopback up; returns its name."""
        full = f"{self.prefix}{name}"
        _ip("netns", "del", full, check=False)
        _ip("netns", "add", full)
        self.namespaces.append(full)
        _ip("-n", full, "link", "set", "lo", "up")
        return full

    def link(self, ns_a, addr_a, ns_b, addr_b, name_a="eth0", name_b="eth0"):
        """A veth pair between two namespaces with addresses ("198.51.100.1/24")."""
        tmp_a = f"v{os.getpid() % 100000}a{len(self.namespaces)}"
        tmp_b = f"v{os.getpid() % 100000}b{len(self.namespaces)}"
        _ip("link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b)
        _ip("link", "set", tmp_a, "netns", ns_a)
        _ip("link", "set", tmp_b, "netns", ns_b)
        _ip("-n", ns_a, "link", "set", tmp_a, "name", name_a)
        _ip("-n", ns_b, "link", "set", tmp_b, "name", name_b)
        for ns, dev, addr in ((ns_a, name_a, addr_a), (ns_b, name_b, addr_b)):
            if addr:
                _ip("-n", ns, "addr", "add", addr, "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")

    def route(self, ns, dest, via):
        _ip("-n", ns, "route", "add", dest, "via", via)

    def sysctl(self, ns, key, value):
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                        f"{key}={value}"], check=True, timeout=10)

    def cleanup(self):
        for ns in reversed(self.namespaces):
            _ip("netns", "del", ns, check=False)
        self.namespaces.clear()
