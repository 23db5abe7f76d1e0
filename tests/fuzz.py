"""flaxjs's own fuzzer: damaged copies of corpus models must fail only with a FlaxjsError.

Each case (``fuzz_mutations.py``) is a small corpus model copied into a fresh folder
and damaged by one or two seeded mutations. A child process, forked from a server
that has flaxjs imported already, runs ``flaxjs.load(folder)`` and one call under a
memory cap, and reports what happened.

Outcomes (``KINDS``): ``ok`` and ``refused`` (a FlaxjsError) pass; ``vague`` (a
FlaxjsError whose message names no file and quotes no layer, weight or field),
``error`` (any other exception), ``hang`` (over the time limit), ``memory``
(MemoryError or a peak RSS above the pristine model's plus twice its declared
weight bytes), ``escape``
(a file outside the model folder was opened; an ``open`` audit hook watches) and
``crash`` (the child died) are failures.

Command line (from the repository root)::

    .venv/bin/python tests/fuzz.py --cases 3000 --seed 7 --jobs 2
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import dataclasses
import importlib
import math
import multiprocessing
import multiprocessing.connection
import numbers
import os
import re
import resource
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fuzz_mutations import FAMILIES, Case, copy_model, declared_bytes, make_case, model_names

KINDS = ("ok", "refused", "vague", "error", "hang", "memory", "escape", "crash")
FAILURES = ("vague", "error", "hang", "memory", "escape", "crash")
#: inputs larger than this are not built for the call (the load alone is checked).
MAX_CALL_ELEMENTS = 1 << 20
MEMORY_CAP = 4 << 30
MEMORY_SLACK = 96 << 20
PARENT_MEMORY_CAP = 12 << 30
DEFAULT_LOADER = "fuzz:flaxjs_load_and_call"


# ----------------------------------------------------------------------------- the child


def flaxjs_load_and_call(folder: str) -> None:
    """What each case runs: ``flaxjs.load`` and, for a Layers model, one call."""
    import numpy as np

    import flaxjs
    from flaxjs.shape_inference import dummy_inputs

    model = flaxjs.load(folder)
    if not isinstance(model, flaxjs.Model):
        return
    specs = dummy_inputs(model.graph.input_specs)
    for s in specs:  # a model that loads must have a usable input shape
        if not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 0
                   for d in s.shape):
            raise AssertionError(f"flaxjs loaded the model with the input shape {s.shape}")
    if all(math.prod(s.shape) <= MAX_CALL_ELEMENTS for s in specs):
        out = model(*[np.zeros(s.shape, s.dtype) for s in specs])
        for y in out if isinstance(out, list) else [out]:
            np.asarray(y)


def load_nothing(folder: str) -> None:
    """The loader of :meth:`Runner.floor`."""


def _allowed_roots() -> tuple[str, ...]:
    import site

    import flaxjs

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(),
             os.path.dirname(os.path.dirname(flaxjs.__file__)), "/proc", "/sys", "/usr",
             "/lib", "/lib64", "/dev/null", "/dev/urandom", "/etc/ld.so.cache"}
    return tuple(sorted(os.path.realpath(r) for r in roots))


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _child(conn: multiprocessing.connection.Connection, folder: str, case_dir: str,
           loader: str, memory_cap: int) -> None:
    """Run ``loader(folder)`` under the memory cap and an ``open`` audit hook; report back."""
    import warnings

    from flaxjs.errors import FlaxjsError

    resource.setrlimit(resource.RLIMIT_AS, (memory_cap, memory_cap))
    run = _resolve(loader)
    root, case_root = os.path.realpath(folder), os.path.realpath(case_dir)
    allowed = _allowed_roots()
    escapes: list[str] = []

    def hook(event: str, args: tuple) -> None:
        if event != "open" or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        full = os.path.realpath(os.fsdecode(args[0]))
        if _inside(full, root):
            return
        if _inside(full, case_root) or not any(_inside(full, r) for r in allowed):
            escapes.append(full)

    sys.addaudithook(hook)
    result: dict[str, Any] = {"kind": "ok", "detail": ""}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run(folder)
    except FlaxjsError as err:
        result = {"kind": "refused", "detail": f"{type(err).__name__}: {err}"}
    except MemoryError:
        result = {"kind": "memory", "detail": "MemoryError"}
    except BaseException as err:  # the point: everything else is a finding
        frames = traceback.extract_tb(err.__traceback__)
        where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        result = {"kind": "error", "detail": f"{type(err).__name__}: {err}{where}"}
    result["escapes"] = sorted(set(escapes))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_rss"] = usage.ru_maxrss * 1024
    result["cpu"] = usage.ru_utime + usage.ru_stime
    conn.send(result)
    conn.close()


def _resolve(loader: str) -> Callable[[str], Any]:
    module, _, name = loader.partition(":")
    return getattr(importlib.import_module(module), name)


# ----------------------------------------------------------------------------- the runner


def names_something(message: str, folder: Path, names: Sequence[str] = ()) -> bool:
    """Whether an error message points somewhere: the model's folder or one of its files,
    one of the model's layer or weight ``names``, or a quoted name of any kind."""
    known = ["model.json", "model.min.js", "metadata.json", *names]
    known += [p.name for p in folder.iterdir()] if folder.is_dir() else []
    return (str(folder) in message or any(k in message for k in known)
            or re.search(r"'[^']+'|\"[^\"]+\"", message) is not None)


@dataclasses.dataclass
class Outcome:
    kind: str
    detail: str
    seconds: float
    peak_rss: int = 0
    cpu: float = 0.0  # the child's CPU seconds


class Runner:
    """Runs cases in children forked from one server that imported flaxjs once."""

    def __init__(self, *, timeout: float = 30.0, memory_cap: int = MEMORY_CAP,
                 loader: str = DEFAULT_LOADER):
        os.environ.setdefault("FLAXJS_CACHE", "0")
        os.environ.setdefault("FLAXJS_COMPILE_CACHE", "0")
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        self.timeout, self.memory_cap, self.loader = timeout, memory_cap, loader
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(["flaxjs", "fuzz", "numpy", "jax"])
        self._baselines: dict[str, int] = {}
        self._floor: int | None = None

    def run(self, folder: Path, case_dir: Path, loader: str | None = None) -> Outcome:
        """One child: its report, or ``hang``/``crash`` when it gives none."""
        start = time.monotonic()
        receive, send = self.context.Pipe(duplex=False)
        child = self.context.Process(
            target=_child, args=(send, str(folder), str(case_dir), loader or self.loader,
                                 self.memory_cap), daemon=True)
        child.start()
        send.close()
        try:
            if not receive.poll(self.timeout):
                child.kill()
                child.join()
                return Outcome("hang", f"no result after {self.timeout:.0f} s",
                               time.monotonic() - start)
            report = receive.recv()
        except EOFError:
            child.join()
            return Outcome("crash", f"child died (exit code {child.exitcode})",
                           time.monotonic() - start)
        finally:
            receive.close()
        child.join(self.timeout)
        if child.is_alive():
            child.kill()
            child.join()
        outcome = Outcome(report["kind"], report["detail"], time.monotonic() - start,
                          report["peak_rss"], report["cpu"])
        if report["escapes"]:
            outcome.kind = "escape"
            outcome.detail = f"opened {', '.join(report['escapes'])}; {outcome.detail}"
        return outcome

    def baseline(self, base: str, work: Path) -> int:
        """Peak RSS of loading and calling the pristine model (once per base)."""
        if base not in self._baselines:
            dest = Path(tempfile.mkdtemp(dir=work, prefix="baseline-"))
            outcome = self.run(copy_model(base, dest), dest, loader=DEFAULT_LOADER)
            if outcome.kind != "ok":
                raise AssertionError(f"pristine {base} does not load: {outcome}")
            self._baselines[base] = outcome.peak_rss
        return self._baselines[base]

    def floor(self, work: Path) -> int:
        """Peak RSS of a child that loads nothing (what it inherits from the server)."""
        if self._floor is None:
            dest = Path(tempfile.mkdtemp(dir=work, prefix="floor-"))
            self._floor = self.run(dest, dest, loader="fuzz:load_nothing").peak_rss
        return self._floor

    def check(self, case: Case, work: Path) -> Outcome:
        """Run ``case``; a peak RSS over the pristine model's plus twice its declared weight
        bytes (and some slack for compiling) is a ``memory`` failure."""
        outcome = self.run(case.folder, case.folder.parent)
        if outcome.kind == "refused" and not names_something(outcome.detail, case.folder,
                                                             model_names(case.base)):
            outcome.kind = "vague"
        if outcome.kind not in ("ok", "refused"):
            return outcome
        budget = 2 * declared_bytes(case.base) + MEMORY_SLACK
        if outcome.peak_rss <= self.floor(work) + budget:
            return outcome  # below any model's baseline plus the budget: no need to measure
        budget += self.baseline(case.base, work)
        if outcome.peak_rss > budget:
            outcome.detail = (f"peak RSS {outcome.peak_rss >> 20} MiB over the budget of "
                              f"{budget >> 20} MiB; {outcome.detail}")
            outcome.kind = "memory"
        return outcome


def fuzz(cases: int, seed: int, *, jobs: int = 2, timeout: float = 30.0,
         families: Sequence[str] | None = None, work: Path | None = None,
         progress: Callable[[Case, Outcome], None] | None = None
         ) -> list[tuple[Case, Outcome]]:
    """Make and run ``cases`` cases of ``seed``; each folder is removed once run."""
    runner = Runner(timeout=timeout)
    owned = work is None
    work = Path(tempfile.mkdtemp(prefix="flaxjs-fuzz-")) if work is None else work
    try:
        runner.floor(work)

        def one(index: int) -> tuple[Case, Outcome]:
            try:
                case = make_case(seed, index, work, families)
                outcome = runner.check(case, work)
            except BaseException as err:  # the fuzzer's own fault: say which case
                raise RuntimeError(f"the fuzzer failed on case {index} of seed {seed}") from err
            _remove(case.folder.parent)
            if progress:
                progress(case, outcome)
            return case, outcome

        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            return list(pool.map(one, range(cases)))
    finally:
        if owned:
            _remove(work)


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def summary(results: Sequence[tuple[Case, Outcome]], *, examples: int = 5) -> str:
    """Counts by kind, by family for the failures, and example cases of every failure kind."""
    kinds = collections.Counter(o.kind for _, o in results)
    cpu = sum(o.cpu for _, o in results)
    lines = [f"{len(results)} cases ({cpu:.0f} s CPU in the children): "
             + ", ".join(f"{k} {kinds[k]}" for k in KINDS if kinds[k])]
    refused = collections.Counter(o.detail.split(":", 1)[0] for _, o in results
                                  if o.kind == "refused")
    if refused:
        lines.append("refused with: " + ", ".join(f"{k} {n}" for k, n in refused.most_common()))
    for kind in FAILURES:
        bad = [(c, o) for c, o in results if o.kind == kind]
        if not bad:
            continue
        fams = collections.Counter(f for c, _ in bad for f in set(c.families))
        lines.append(f"{kind} ({len(bad)}), by family: "
                     + ", ".join(f"{f} {n}" for f, n in fams.most_common()))
        for case, outcome in bad[:examples]:
            lines.append(f"  #{case.index} {case.base} [{'; '.join(case.mutations)}]: "
                         f"{outcome.detail[:300]}")
    return "\n".join(lines)


def failures(results: Sequence[tuple[Case, Outcome]]) -> list[tuple[Case, Outcome]]:
    return [(c, o) for c, o in results if o.kind in FAILURES]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--family", action="append", choices=sorted(FAMILIES),
                        help="only these mutation families (repeatable)")
    parser.add_argument("--examples", type=int, default=5, help="cases shown per failure kind")
    args = parser.parse_args(argv)
    # the runner itself stays small; should it not, it fails with a traceback, not the host
    resource.setrlimit(resource.RLIMIT_AS, (PARENT_MEMORY_CAP, PARENT_MEMORY_CAP))
    done = [0]

    def progress(case: Case, outcome: Outcome) -> None:
        done[0] += 1
        if outcome.kind in FAILURES:
            print(f"[{done[0]}/{args.cases}] #{case.index} {outcome.kind}: "
                  f"{'; '.join(case.mutations)} -> {outcome.detail[:200]}", flush=True)
        elif done[0] % 100 == 0:
            print(f"[{done[0]}/{args.cases}]", flush=True)

    start = time.monotonic()
    results = fuzz(args.cases, args.seed, jobs=args.jobs, timeout=args.timeout,
                   families=args.family, progress=progress)
    print(summary(results, examples=args.examples))
    print(f"seed {args.seed}, {time.monotonic() - start:.0f} s")
    return 1 if failures(results) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import fuzz  # the children unpickle this module's functions under the name ``fuzz``

    sys.exit(fuzz.main())
