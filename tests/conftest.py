import atexit
import os
import shutil
import tempfile

import jax

# In-process CLI calls would otherwise point this process at a persistent XLA cache.
os.environ.setdefault("FLAXJS_COMPILE_CACHE", "0")
# Every load computes its expected variables, so the parity suite checks the shape rules and
# the traced init rather than what an earlier run left in ~/.cache (test_shape_inference
# tests the disk cache itself).
os.environ.setdefault("FLAXJS_CACHE", "0")
# Tests never write into the user's cache (URL loads are cached under $FLAXJS_HOME/urls).
if "FLAXJS_HOME" not in os.environ:
    os.environ["FLAXJS_HOME"] = tempfile.mkdtemp(prefix="flaxjs-test-home-")
    atexit.register(shutil.rmtree, os.environ["FLAXJS_HOME"], ignore_errors=True)

jax.config.update("jax_default_matmul_precision", "highest")

pytest_plugins = ["zoo_fixtures"]  # the zoo_env fixture


def pytest_addoption(parser):
    parser.addoption("--fuzz-long", type=int, default=0, metavar="N",
                     help="also run the long fuzz run of N cases (tests/test_fuzz.py)")
    parser.addoption("--fuzz-seed", type=int, default=1, metavar="S",
                     help="seed of the long fuzz run")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running (whole real models)")
    config.addinivalue_line("markers", "fuzz_long: the long fuzz run, collected only with "
                            "--fuzz-long N")


def pytest_collection_modifyitems(config, items):
    """The long fuzz run is opt-in: without ``--fuzz-long`` it is deselected, not skipped."""
    if config.getoption("--fuzz-long"):
        return
    keep = [item for item in items if item.get_closest_marker("fuzz_long") is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
