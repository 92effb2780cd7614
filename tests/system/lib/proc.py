"""Processes started by tests: tracked by PID, always stopped, logs waited on.

Every process a test starts goes through Proc, so that it is stopped by its
PID (never by name) when the test ends, whatever happened.
"""
import os
import re
import signal
from signal import SIGTERM  # in class Proc, `signal` names the method
import subprocess
import time


class Proc:
    """A process with its output in a log file that tests can wait on."""

    def __init__(self, argv, log_path, env=None, netns=None, cwd=None):
        self.argv = list(argv)
        self.log_path = str(log_path)
        if netns:
            self.argv = ["ip", "netns", "exec", netns] + self.argv
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            self.argv, stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=full_env, cwd=cwd,
            start_new_session=True)
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=10.0, start=0):
        """Waits until the log matches pattern (a regex); returns the match.

        Raises TimeoutError with the log's tail if it does not appear in time,
        or RuntimeError if the process exits first.
        """
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()[start:]
            m = rx.search(text)
            if m:
                return m
            if not self.alive():
                raise RuntimeError(
                    f"{self.argv[0]} exited ({self.popen.returncode}) before "
                    f"/{pattern}/ appeared; log tail:\n{text[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"/{pattern}/ not in {self.log_path} after {timeout}s; "
                    f"log tail:\n{text[-3000:]}")
            time.sleep(0.05)

    def log_size(self):
        return len(self.log())

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout=10.0):
        """Waits for exit; returns the exit code (raises on timeout)."""
        return self.popen.wait(timeout=timeout)

    def stop(self, sig=SIGTERM, timeout=10.0):
        """Stops the process (and its process group) by PID; returns the code."""
        if self.alive():
            try:
                os.kill(self.pid, sig)
                return self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(timeout=5)
        # Anything the process left in its group (e.g. children) goes too.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()
        return self.popen.returncode


class ProcSet:
    """Every process of one test; stop_all() runs at teardown."""

    def __init__(self):
        self.procs = []

    def start(self, *args, **kwargs):
        p = Proc(*args, **kwargs)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs.clear()


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Polls predicate() until it is true; raises TimeoutError naming what."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met after {timeout}s")
        time.sleep(interval)


def run(argv, netns=None, check=True, timeout=30, **kw):
    """Runs a command to completion (optionally inside netns)."""
    if netns:
        argv = ["ip", "netns", "exec", netns] + list(argv)
    return subprocess.run(argv, check=check, timeout=timeout,
                          capture_output=True, text=True, **kw)
