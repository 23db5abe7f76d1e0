"""``m(x)``'s inputs checked against the model's declared inputs before JAX sees them.

TF.js's ``model.predict`` refuses a wrong rank or fixed size in the same way; here a
wrong input gets an :class:`~flaxjs.errors.InputError` that says what to do (add a
batch axis, resize, drop an alpha channel...) instead of a JAX ``TypeError`` or a
layer's shape error. Python lists become arrays, and values of another dtype of the
same kind are cast to the declared one.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .errors import InputError, did_you_mean
from .topology.spec import InputSpec


def _shape_text(shape: Sequence[int | None]) -> str:
    return "[" + ", ".join("None" if d is None else str(d) for d in shape) + "]"


def gather(inputs: Sequence[Any], specs: Sequence[InputSpec], *, model: str) -> tuple[Any, ...]:
    """The positional inputs of ``m(x1, x2, ...)``, one per declared input.

    A model with several inputs may also be called with one list or tuple of them
    (Keras's ``predict([x1, x2])``), and any model with one ``{input name: array}`` dict.
    """
    names = ", ".join(s.name for s in specs)
    if len(inputs) == 1 and isinstance(inputs[0], Mapping):
        given = inputs[0]
        declared = [s.name for s in specs]
        for key in given:
            if key not in declared:
                raise InputError(f"model {model!r} has no input {key!r}"
                                 f"{did_you_mean(str(key), declared)}; its inputs: {names}")
        missing = [n for n in declared if n not in given]
        if missing:
            raise InputError(f"model {model!r}: no value for input(s) {', '.join(missing)} "
                             f"(its inputs: {names})")
        return tuple(given[n] for n in declared)
    if len(specs) > 1 and len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
        items = inputs[0]
        if len(items) == len(specs):
            return tuple(items)
        raise InputError(f"model {model!r} takes {len(specs)} inputs ({names}), got one "
                         f"{type(items).__name__} of {len(items)} item(s): call "
                         f"m({', '.join(s.name for s in specs)}) with one array each")
    if len(inputs) != len(specs):
        hint = ("; pass one array (np.concatenate several batches into one)"
                if len(specs) == 1 else "; pass them in that order")
        raise InputError(f"model {model!r} takes {len(specs)} input(s) ({names}), got "
                         f"{len(inputs)}{hint}")
    return tuple(inputs)


def _as_array(x: Any, spec: InputSpec, model: str) -> Any:
    if isinstance(x, (jax.Array, np.ndarray)) or (hasattr(x, "shape") and hasattr(x, "dtype")):
        return x
    if isinstance(x, Mapping):
        raise InputError(f"model {model!r} input {spec.name!r}: got a dict; pass an array "
                         "(or one {input name: array} dict for all inputs)")
    try:
        return np.asarray(x)
    except ValueError:  # ragged nested lists
        raise InputError(f"model {model!r} input {spec.name!r}: cannot make an array of the "
                         f"{type(x).__name__} given: its rows must all have the same "
                         "length") from None


def _kind(dtype: Any) -> str:
    """numpy's kind letter, with bfloat16 and the other ml_dtypes floats as ``"f"``."""
    return "f" if jnp.issubdtype(dtype, jnp.floating) else np.dtype(dtype).kind


def _cast(x: Any, spec: InputSpec, model: str) -> Any:
    """``x`` in the declared dtype, or an error when the kinds do not mix."""
    if spec.dtype == "string":
        kind = np.dtype(x.dtype).kind
        if kind not in "OUS":
            raise InputError(f"model {model!r} input {spec.name!r} takes strings, got "
                             f"{np.dtype(x.dtype).name} values")
        return np.asarray(x, dtype=object)
    want, have = jnp.dtype(spec.dtype), jnp.dtype(x.dtype)
    if have == want:
        return x
    what = f"model {model!r} input {spec.name!r} is {want.name}"
    want_kind, have_kind = _kind(want), _kind(have)
    if have_kind not in "fiub":
        raise InputError(f"{what}, got {have.name} values: pass numbers")
    if want_kind == "b" and have_kind != "b":
        raise InputError(f"{what}, got {have.name} values: pass booleans")
    if want_kind in "iu" and have_kind == "f" and not isinstance(x, jax.core.Tracer) \
            and not np.all(np.mod(np.asarray(x, np.float64), 1) == 0):
        raise InputError(f"{what} (e.g. token ids), got {have.name} values with "
                         "fractions: pass integers, e.g. x.astype('int32')")
    return x.astype(want)


def _shape_error(x_shape: tuple[int, ...], spec: InputSpec, model: str) -> str | None:
    want = spec.shape
    bad = [i for i, (d, s) in enumerate(zip(want, x_shape, strict=False))
           if d is not None and d != s]
    if not bad and len(x_shape) == len(want):
        return None
    head = (f"model {model!r} input {spec.name!r} expects {_shape_text(want)}, got "
            f"{tuple(x_shape)}")
    if len(x_shape) != len(want):
        if len(x_shape) + 1 == len(want) and all(
                d is None or d == s for d, s in zip(want[1:], x_shape, strict=True)):
            return f"{head}: add a batch axis (x[None])"
        return f"{head}: {len(x_shape)} axes instead of {len(want)}"
    if len(want) == 4 and 3 in bad and x_shape[1] == want[3]:
        return f"{head}: channels first? the model takes NHWC: x.transpose(0, 2, 3, 1)"
    if len(want) == 4 and bad == [3]:
        channels, got = want[3], x_shape[3]
        if channels == 3 and got == 4:
            hint = "drop the alpha channel: x[..., :3]"
        elif channels == 3 and got == 1:
            hint = "grayscale: repeat it to RGB, np.repeat(x, 3, axis=-1)"
        else:
            hint = f"the model takes {channels} channel(s)"
        return f"{head}: {got} channel(s) instead of {channels}; {hint}"
    if len(want) == 4 and set(bad) <= {1, 2}:
        return (f"{head}: the model is declared for {want[1]}x{want[2]} images; resize them "
                "(m.preprocess does), or declare another size for a fully convolutional "
                "model with m.with_input_size(height, width)")
    if bad == [0]:
        return f"{head}: the model runs on batches of exactly {want[0]}"
    axes = ", ".join(f"axis {i} must be {want[i]}" for i in bad)
    return f"{head}: {axes}"


def check(x: Any, spec: InputSpec, *, model: str,
          preprocessing: Mapping[str, Any] | None = None, stacklevel: int = 3) -> Any:
    """``x`` as an array of ``spec``'s dtype, its shape checked against ``spec.shape``.

    ``preprocessing`` is the model's known preprocessing: raw uint8 images fed to a
    model that scales its images get a :class:`RawImageWarning` (once per model name)
    pointing to ``m.preprocess``; ``stacklevel`` attributes it to the user's call.
    """
    x = _as_array(x, spec, model)
    if spec.shape:
        message = _shape_error(tuple(x.shape), spec, model)
        if message:
            raise InputError(message)
    if (np.dtype(x.dtype) == np.uint8 and spec.dtype.startswith("float") and preprocessing
            and preprocessing.get("kind") == "image" and preprocessing.get("ops")):
        warnings.warn(f"model {model!r} got uint8 images (0-255) but its input is "
                      f"scaled first ({list(preprocessing['ops'])}); pass m.preprocess(images) "
                      "instead, or silence this warning if the values are meant as they are",
                      RawImageWarning, stacklevel=stacklevel)
    return _cast(x, spec, model)


class RawImageWarning(UserWarning):
    """uint8 images went into a model that knows its preprocessing scales them."""


# shown once per model (the message names it), wherever the call comes from
warnings.filterwarnings("once", category=RawImageWarning)
