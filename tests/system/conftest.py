"""Fixtures for every system test.

procs     -- a lib.proc.ProcSet; every process started through it is stopped
             by PID when the test ends.
net       -- a lib.netns.Net whose namespaces carry a prefix unique to this
             run and test; deleted when the test ends. Set ISTHMUS_NS_PREFIX
             to tell your runs apart from another engineer's.
isthmusd  -- a factory: isthmusd(name=None, start=True, netns=None, config=None,
             env=None, api_host="127.0.0.1") returns a lib.isthmusd.Isthmusd
             with its own folder under tmp_path (call it again for more
             daemons). Daemons still running at the end are stopped, and must
             stop cleanly.
"""
import itertools
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lib.isthmusd import Isthmusd, binary  # noqa: E402
from lib.netns import Net  # noqa: E402
from lib.proc import ProcSet  # noqa: E402

_ns_counter = itertools.count()


@pytest.fixture
def procs():
    ps = ProcSet()
    yield ps
    ps.stop_all()


@pytest.fixture
def net():
    base = os.environ.get("ISTHMUS_NS_PREFIX", "ist")
    n = Net(f"{base}{os.getpid() % 100000}t{next(_ns_counter)}-")
    yield n
    n.cleanup()


@pytest.fixture
def isthmusd(procs, tmp_path):
    if not os.access(binary(), os.X_OK):
        pytest.fail(f"{binary()} is missing: run `make` (or set ISTHMUS_BIN)")
    made = []

    def make(name=None, start=True, **kwargs):
        name = name or f"isthmusd{len(made)}"
        d = Isthmusd(procs, tmp_path / name, name=name, **kwargs)
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    problems = []
    for d in made:
        if d.running():
            try:
                d.stop()
            except AssertionError as e:
                problems.append(str(e))
    assert not problems, "\n".join(problems)
