"""Runtime settings that make converted models fast: XLA:CPU flags, micro-batching, caches.

Measured on a 2-core Zen 5 (``benchmarks/``): XLA:CPU's YNNPACK convolution path
(on by default in jaxlib 0.10) runs MobileNetV2 at 192 img/s and InceptionV3 at
18 img/s where Eigen's path gives 333 and 28, so flaxjs turns YNNPACK off on
import — only possible before JAX creates its CPU backend, and skipped when the
user's ``XLA_FLAGS`` already mentions it or ``FLAXJS_XLA_DEFAULTS=0``. On CPU,
XLA's throughput per image is best at batch 1–2, so ``Model.__call__`` runs large
batches as a sequence of 2-image calls (one compiled program for every batch size).
"""

from __future__ import annotations

import concurrent.futures
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import jax
import numpy as np

T = TypeVar("T")
R = TypeVar("R")

#: XLA flags flaxjs adds on CPU, with the reason (see the module docstring).
CPU_XLA_FLAGS = ("--xla_cpu_experimental_ynn_fusion_type=",)

#: images per compiled call when ``Model.__call__`` splits a batch on CPU.
CPU_MICRO_BATCH = 2


#: byte alignment at which JAX's CPU client adopts a numpy array instead of copying it.
HOST_ALIGNMENT = 64


def aligned_empty(shape: Any, dtype: Any) -> np.ndarray:
    """An uninitialized array whose data starts at a :data:`HOST_ALIGNMENT` boundary.

    ``jax.device_put`` on CPU then uses the memory in place (measured: 0.3 vs 38 ms
    for 96 MB), which halves the memory touched while loading a model.
    """
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    raw = np.empty(count * dtype.itemsize + HOST_ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % HOST_ALIGNMENT
    return raw[start:start + count * dtype.itemsize].view(dtype).reshape(shape)


def frozen(array: np.ndarray) -> np.ndarray:
    """``array`` made read-only: JAX may then share its memory (see :func:`aligned_empty`)."""
    array.setflags(write=False)
    return array


def parallel_map(fn: Callable[[T], R], items: Sequence[T], *, threads: bool = True) -> list[R]:
    """``[fn(x) for x in items]``, on a few threads when ``threads`` (for numpy work, which
    releases the GIL: decoding and folding weights spend most of their time on first
    touches of fresh memory, which the cores can take in parallel)."""
    workers = min(4, os.cpu_count() or 1, len(items))
    if not threads or workers < 2:
        return [fn(x) for x in items]
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="flaxjs") as pool:
        return list(pool.map(fn, items))


def _backends_initialized() -> bool:
    try:
        from jax._src import xla_bridge
        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):  # private API moved: assume the worst
        return True


def apply_xla_defaults(*, force: bool = False) -> bool:
    """Add :data:`CPU_XLA_FLAGS` to ``XLA_FLAGS`` if JAX has not started its backends yet.

    Returns:
      whether the flags are (now) in effect for this process.
    """
    current = os.environ.get("XLA_FLAGS", "")
    if "ynn_fusion_type" in current:
        return "--xla_cpu_experimental_ynn_fusion_type=" in current.split()
    if not force and os.environ.get("FLAXJS_XLA_DEFAULTS", "1") == "0":
        return False
    if _backends_initialized():
        return False
    os.environ["XLA_FLAGS"] = " ".join([current, *CPU_XLA_FLAGS]).strip()
    return True


def default_cache_dir() -> str:
    """``$FLAXJS_HOME/xla-cache``, else the user cache folder (what the CLI uses)."""
    home = os.environ.get("FLAXJS_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "flaxjs")
    return os.path.join(home, "xla-cache")


def configure(*, compilation_cache: str | bool | None = True,
              xla_cpu_defaults: bool = True) -> None:
    """Turn on flaxjs's speed settings for this process.

    Args:
      compilation_cache: a folder for JAX's persistent compilation cache (``True`` =
        :func:`default_cache_dir`, ``False``/``None`` = leave JAX's setting alone).
        A second process then skips XLA compilation of models it has seen.
      xla_cpu_defaults: add :data:`CPU_XLA_FLAGS` (warns if JAX already started).

    Example:
      >>> import flaxjs
      >>> flaxjs.configure(compilation_cache="/tmp/flaxjs-xla")  # doctest: +SKIP
    """
    if xla_cpu_defaults and not apply_xla_defaults(force=True):
        warnings.warn("flaxjs.configure: JAX's backend is already running, so XLA_FLAGS can no "
                      "longer change; call it before any JAX computation", stacklevel=2)
    if compilation_cache:
        path = default_cache_dir() if compilation_cache is True else str(compilation_cache)
        os.makedirs(path, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


#: classes whose CPU lowering (shifted multiply-adds) makes large loop fusions.
_DEPTHWISE = frozenset({"DepthwiseConv2D", "SeparableConv2D", "DepthwiseConv1D",
                        "SeparableConv1D"})


def compiler_options(graph: Any) -> dict[str, Any]:
    """Per-model XLA options for ``Model.__call__`` on CPU.

    XLA:CPU's new fusion emitters compile depthwise-heavy graphs into faster code
    (MobileNetV2: 372 vs 315 img/s) but run dense-convolution graphs slower
    (InceptionV3: 30.9 vs 33.6 img/s, 34.3 vs 31.5 ms at batch 1), so they are
    turned off for graphs without depthwise layers. ``FLAXJS_FUSION_EMITTERS=1|0``
    forces the choice.
    """
    if jax.default_backend() != "cpu":
        return {}
    forced = os.environ.get("FLAXJS_FUSION_EMITTERS")
    if forced is not None:
        return {"xla_cpu_use_fusion_emitters": forced == "1"}
    depthwise = any(spec.class_name in _DEPTHWISE for _, spec in graph.walk())
    return {} if depthwise else {"xla_cpu_use_fusion_emitters": False}


def micro_batch() -> int | None:
    """Images per compiled call for ``Model.__call__`` on the default backend (None = whole)."""
    value = os.environ.get("FLAXJS_MICRO_BATCH")
    if value is not None:
        return int(value) or None
    return CPU_MICRO_BATCH if jax.default_backend() == "cpu" else None
