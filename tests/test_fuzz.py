"""The fuzzer (tests/fuzz.py): its detectors fire, its cases are reproducible, and damaged
corpus models fail only with a FlaxjsError (a short run here, a long one on request)."""

from __future__ import annotations

import os
import time

import fuzz
import fuzz_mutations as mutations
import numpy as np
import pytest

from flaxjs.errors import FlaxjsError

pytestmark = pytest.mark.skipif(not mutations.available_bases(),
                                reason="../shared/corpus is missing")


# Deliberately bad loaders: each must be caught by one detector of the runner.

def hang(folder: str) -> None:
    time.sleep(3600)


def escape(folder: str) -> None:
    with open(os.path.join(folder, "..", "outside", "secret.bin"), "rb") as f:
        f.read()


def escape_system(folder: str) -> None:
    with open("/etc/passwd", "rb") as f:
        f.read()


def raw_error(folder: str) -> None:
    raise KeyError("units")


def crash(folder: str) -> None:
    os._exit(3)


def vague_error(folder: str) -> None:
    raise FlaxjsError("something is wrong with this model")


def memory_error(folder: str) -> None:
    bytearray(16 << 30)


def memory_hog(folder: str) -> None:
    fuzz.flaxjs_load_and_call(folder)
    np.ones(64 << 20)  # 512 MiB touched, far over a tiny model's budget


@pytest.fixture(scope="module")
def runner():
    return fuzz.Runner(timeout=20)


@pytest.fixture
def pristine(tmp_path):
    folder = mutations.copy_model("synthetic/dense_relu", tmp_path)
    (tmp_path / "outside" / "secret.bin").write_bytes(b"secret")
    return folder


@pytest.mark.parametrize("loader, kind, detail", [
    ("fuzz:flaxjs_load_and_call", "ok", ""),
    ("test_fuzz:escape", "escape", "secret.bin"),
    ("test_fuzz:escape_system", "escape", "/etc/passwd"),
    ("test_fuzz:raw_error", "error", "KeyError: 'units'"),
    ("test_fuzz:crash", "crash", "exit code 3"),
    ("test_fuzz:memory_error", "memory", "MemoryError"),
])
def test_each_detector_fires(runner, pristine, loader, kind, detail):
    outcome = runner.run(pristine, pristine.parent, loader=loader)
    assert (outcome.kind, detail in outcome.detail) == (kind, True), outcome


def test_a_hang_is_cut_at_the_time_limit(pristine):
    outcome = fuzz.Runner(timeout=2).run(pristine, pristine.parent, loader="test_fuzz:hang")
    assert outcome.kind == "hang" and outcome.seconds < 10, outcome


def _pristine_case(tmp_path):
    base = "synthetic/dense_relu"
    return mutations.Case(0, base, (), mutations.copy_model(base, tmp_path / "c"))


def test_a_refusal_that_names_nothing_is_a_failure(tmp_path):
    case = _pristine_case(tmp_path)
    outcome = fuzz.Runner(timeout=20, loader="test_fuzz:vague_error").check(case, tmp_path)
    assert outcome.kind == "vague", outcome
    assert fuzz.names_something("weight 'x': bad", case.folder)
    assert fuzz.names_something(f"{case.folder}/weights.bin: bad", case.folder)


def test_memory_over_the_budget_is_a_failure(tmp_path):
    runner = fuzz.Runner(timeout=20, loader="test_fuzz:memory_hog")
    case = _pristine_case(tmp_path)
    outcome = runner.check(case, tmp_path)
    assert outcome.kind == "memory" and "over the budget" in outcome.detail, outcome


def test_cases_are_reproducible_and_every_family_applies(tmp_path):
    first = mutations.make_case(5, 17, tmp_path / "a")
    again = mutations.make_case(5, 17, tmp_path / "b")
    assert first.mutations == again.mutations and first.base == again.base
    assert ((first.folder / "model.json").read_bytes()
            == (again.folder / "model.json").read_bytes())
    names = sorted(mutations.FAMILIES)
    applied = set()
    for index in range(4 * len(names)):
        family = names[index % len(names)]
        case = mutations.make_case(3, index, tmp_path / "all", families=[family])
        if not ("no-op" in case.mutations[0] or "not applicable" in case.mutations[0]):
            applied.add(family)
    assert applied == set(names)


def _assert_no_failures(results):
    assert not fuzz.failures(results), fuzz.summary(results)
    kinds = {o.kind for _, o in results}
    assert {"ok", "refused"} <= kinds, fuzz.summary(results)  # the run reached both ends


def test_short_fuzz_run_of_file_text_and_manifest_damage():
    families = [f for f in mutations.FAMILIES if f not in mutations.CONFIG_FAMILIES]
    _assert_no_failures(fuzz.fuzz(30, seed=0, families=families))


def test_short_fuzz_run_of_topology_and_config_damage():
    _assert_no_failures(fuzz.fuzz(10, seed=0, families=mutations.CONFIG_FAMILIES))


@pytest.mark.fuzz_long
def test_long_fuzz_run(request):
    """Opt-in: ``pytest tests/test_fuzz.py --fuzz-long 3000 --fuzz-seed 7`` (deselected
    without ``--fuzz-long``, see conftest)."""
    cases = request.config.getoption("--fuzz-long")
    results = fuzz.fuzz(cases, seed=request.config.getoption("--fuzz-seed"),
                        jobs=os.cpu_count() or 2)
    print(fuzz.summary(results))
    _assert_no_failures(results)
