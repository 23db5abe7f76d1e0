"""What the demo and notebook tests share: a ``FLAXJS_HOME`` holding the real nsfwjs base.

The base comes from the npm package ``nsfwjs@4.4.0`` (``npm pack``, else a CDN), about
3.5 MB, fetched once per test session into a folder shared by the xdist workers of
the session (the zoo's lock file makes concurrent fetches safe). Where it cannot be
fetched the tests skip and say why.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

BASE = "nsfwjs_mobilenet_v2"


def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``FLAXJS_HOME`` with the demo's base cached in it, or skip."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above each worker's own
    home = root / "flaxjs-home-demo"
    home.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLAXJS_HOME", str(home))
        mp.setenv("FLAXJS_ZOO_RETRIES", "1")
        mp.setenv("FLAXJS_ZOO_TIMEOUT", "60")
        mp.delenv("FLAXJS_OFFLINE", raising=False)
        from flaxjs import zoo
        from flaxjs.errors import IntegrityError, ZooError
        try:
            zoo.fetch(BASE, progress=False)
        except IntegrityError:
            raise
        except ZooError as err:
            pytest.skip(f"the demo's base {BASE} (npm package nsfwjs@4.4.0) cannot be fetched "
                        f"here (needs npm or a CDN): {str(err).splitlines()[0]}")
    return home
