"""Runtime choices that make converted models fast: XLA:CPU options, micro-batching, caches.

Measured on a 2-core Zen 5 (``benchmarks/``): XLA:CPU's YNNPACK convolution path
(on by default in jaxlib 0.10) runs MobileNetV2 at 192 img/s and InceptionV3 at
18 img/s where Eigen's path gives 333 and 28, so flaxjs compiles its own functions
(``Model.__call__``, the fine-tuning steps) with YNNPACK fusions off. It passes
that as a per-compilation option (:func:`jit`), not through ``XLA_FLAGS``: importing
flaxjs leaves the process environment alone (subprocesses inherit it, and other
XLA builds abort on flags they do not know), and it works after JAX has started.
Skipped when the user's ``XLA_FLAGS`` already mentions ``ynn_fusion_type`` or
``FLAXJS_XLA_DEFAULTS=0`` (:mod:`flaxjs.settings`). On CPU, XLA's throughput per
image is best at batch 1-2, so ``Model.__call__`` runs large batches as a sequence
of 2-image calls (one compiled program for every batch size). After each XLA
compilation the heap the compiler freed goes back to the OS (:mod:`flaxjs.heap`).
"""

from __future__ import annotations

import functools
import os
import re
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import jax

from . import heap, settings
from .layers import registry

#: XLA options flaxjs compiles its functions with on CPU (see the module docstring).
CPU_COMPILER_OPTIONS: dict[str, Any] = {"xla_cpu_experimental_ynn_fusion_type": ""}

#: images per compiled call when ``Model.__call__`` splits a batch on CPU.
CPU_MICRO_BATCH = 2


def configure(*, compilation_cache: str | bool | None = True) -> None:
    """Turn on JAX's persistent compilation cache for this process.

    Args:
      compilation_cache: a folder for the cache (``True`` = ``$FLAXJS_HOME/xla-cache``,
        :func:`flaxjs.settings.xla_cache_dir`; ``False``/``None`` = leave JAX's setting
        alone). A second process then skips XLA compilation of models it has seen.

    Example:
      >>> import flaxjs
      >>> flaxjs.configure(compilation_cache="/tmp/flaxjs-xla")  # doctest: +SKIP
    """
    if compilation_cache:
        path = (str(settings.xla_cache_dir()) if compilation_cache is True
                else str(compilation_cache))
        os.makedirs(path, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def default_compiler_options() -> dict[str, Any]:
    """flaxjs's XLA options for every compilation on the default backend.

    :data:`CPU_COMPILER_OPTIONS` on CPU, unless ``FLAXJS_XLA_DEFAULTS`` is off or the
    user's own ``XLA_FLAGS`` mentions ``ynn_fusion_type`` (their choice wins).
    """
    if jax.default_backend() != "cpu" or not settings.xla_defaults():
        return {}
    if "ynn_fusion_type" in os.environ.get("XLA_FLAGS", ""):
        return {}
    return dict(CPU_COMPILER_OPTIONS)


def compiler_options(graph: Any, custom: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Per-model XLA options for ``Model.__call__``: :func:`default_compiler_options` plus,
    on CPU, the fusion-emitter choice.

    XLA:CPU's new fusion emitters compile depthwise-heavy graphs into faster code
    (MobileNetV2: 372 vs 315 img/s) but run dense-convolution graphs slower
    (InceptionV3: 30.9 vs 33.6 img/s, 34.3 vs 31.5 ms at batch 1), so they are
    turned off for graphs without depthwise layers (the registration trait
    ``depthwise``). ``FLAXJS_FUSION_EMITTERS=1|0`` forces the choice.
    """
    options = default_compiler_options()
    if jax.default_backend() != "cpu":
        return options
    forced = settings.fusion_emitters()
    if forced is not None:
        return {**options, "xla_cpu_use_fusion_emitters": forced}
    depthwise = any(reg is not None and reg.depthwise for reg in (
        registry.traits_of(spec.class_name, custom) for _, spec in graph.walk()))
    return options if depthwise else {**options, "xla_cpu_use_fusion_emitters": False}


def micro_batch() -> int | None:
    """Images per compiled call for ``Model.__call__`` on the default backend (None = whole)."""
    value = settings.micro_batch()
    if value is not None:
        return value or None
    return CPU_MICRO_BATCH if jax.default_backend() == "cpu" else None


# ---------------------------------------------------------------- jit with options
_UNKNOWN_OPTION = re.compile(r"No such compile option: '([^']+)'")
#: options this jaxlib refused; dropped for the rest of the process.
_REJECTED: set[str] = set()
_REJECTED_LOCK = threading.Lock()


def _jaxlib_version() -> str:
    try:
        import jaxlib
    except ImportError:  # pragma: no cover - jax always brings jaxlib
        return "unknown"
    return str(getattr(jaxlib, "__version__", "unknown"))


def _reject(name: str, err: Exception) -> None:
    """Drop ``name`` from every later compilation; warn once per option."""
    with _REJECTED_LOCK:
        if name in _REJECTED:
            return
        _REJECTED.add(name)
    warnings.warn(f"flaxjs: jaxlib {_jaxlib_version()} does not know the XLA option {name!r} "
                  f"({err}); flaxjs compiles without it from now on (upgrade jaxlib, or set "
                  "FLAXJS_XLA_DEFAULTS=0 to not pass flaxjs's options)",
                  RuntimeWarning, stacklevel=4)


class Jitted:
    """``jax.jit(fn)`` compiled with flaxjs's XLA options (see :func:`jit`)."""

    def __init__(self, fn: Callable[..., Any], graph: Any, jit_kwargs: dict[str, Any],
                 custom: Mapping[str, Any] | None = None,
                 options: Mapping[str, Any] | None = None):
        self._fn, self._graph, self._custom = fn, graph, custom
        self._preset = None if options is None else dict(options)
        self._user_options = dict(jit_kwargs.pop("compiler_options", None) or {})
        self._jit_kwargs = jit_kwargs
        self._options: dict[str, Any] | None = None  # decided at the first call
        self._jitted: Any = None
        self._built_with = 0  # len(_REJECTED) when self._jitted was built
        self._lock = threading.Lock()
        functools.update_wrapper(self, fn)

    def _current(self) -> Any:
        """The ``jax.jit`` function for the options still accepted (rebuilt after a refusal)."""
        if self._jitted is not None and self._built_with == len(_REJECTED):
            return self._jitted
        with self._lock:
            heap.install()
            if self._options is None:
                if self._preset is not None:
                    ours = self._preset
                elif self._graph is not None:
                    ours = compiler_options(self._graph, self._custom)
                else:
                    ours = default_compiler_options()
                self._options = {**ours, **self._user_options}
            self._built_with = len(_REJECTED)
            self._options = {k: v for k, v in self._options.items()
                             if k not in _REJECTED or k in self._user_options}
            self._jitted = jax.jit(self._fn, compiler_options=self._options or None,
                                   **self._jit_kwargs)
            return self._jitted

    @property
    def compiler_options(self) -> dict[str, Any] | None:
        """The XLA options it compiles with (``None`` before the first call decides them)."""
        return None if self._options is None else dict(self._options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        while True:
            jitted = self._current()
            try:
                return jitted(*args, **kwargs)
            except RuntimeError as err:  # jax.errors.JaxRuntimeError, raised when compiling
                match = _UNKNOWN_OPTION.search(str(err))
                name = match.group(1) if match else None
                if (name is None or name not in (self._options or {})
                        or name in self._user_options):
                    raise
                _reject(name, err)

    def __getattr__(self, name: str) -> Any:  # lower, trace, eval_shape, ... of jax.jit
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._current(), name)


def jit(fn: Callable[..., Any], *, graph: Any = None, custom: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None, **jit_kwargs: Any) -> Jitted:
    """``jax.jit(fn, **jit_kwargs)`` compiled with flaxjs's XLA options.

    The options (``options`` when given: a model's own, decided by the caller; else
    :func:`compiler_options` of ``graph``, else :func:`default_compiler_options`; a
    ``compiler_options`` of your own wins) are decided at the first call, so creating
    the function starts no JAX backend. An option this jaxlib does not know (``No such
    compile option``) is dropped for the rest of the process with one warning, and the
    call is compiled again without it.
    """
    return Jitted(fn, graph, dict(jit_kwargs), custom, options)
