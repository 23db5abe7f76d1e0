"""Which parameters train: bool masks over ``params`` and optax helpers built on them.

A *mask* is a pytree of Python bools shaped like ``params`` (True = trainable).
It comes from the model's Keras ``trainable`` flags (the default, see
:meth:`flaxjs.Model.freeze`), from layer-name patterns, or from both (their
intersection). Integer leaves (e.g. int32 Embedding tables) are never trainable.

Patterns are shell-style (``fnmatch``) and match a parameter when they match
any prefix of its path joined with ``/``: the layer (``"conv_pw_13"``), a nested
layer (``"model_1/dense"`` or just ``"dense"``), or one weight
(``"conv_pw_13_bn/gamma"``, or ``"bias"`` for every bias).

Example:
  >>> mask = trainable_mask(model)                       # doctest: +SKIP
  >>> mask = trainable_mask(model, ["conv_pw_13*", "dense*"])  # doctest: +SKIP
  >>> tx = discriminative({"dense*": 1e-3, "conv_pw_1[2-3]*": 1e-5})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
import optax

from ..graph.model import GraphModel
from ..surgery import matcher
from ..topology.spec import ModelGraph

if TYPE_CHECKING:
    from ..model import Model

Patterns = str | Sequence[str]
#: the optax label of parameters that do not train.
FROZEN = "frozen"
#: the optax label of parameters that train (see :func:`mask_labels`).
TRAINABLE = "trainable"


def is_float(leaf: Any) -> bool:
    """Whether a leaf can be trained (a floating-point array)."""
    dtype = getattr(leaf, "dtype", None)
    return dtype is not None and np.issubdtype(np.dtype(dtype), np.floating)


def key_name(key: Any) -> str:
    """One pytree path entry as text (dict keys, attributes, sequence indices)."""
    for attr in ("key", "name", "idx"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def path_names(path: Sequence[Any]) -> tuple[str, ...]:
    return tuple(key_name(k) for k in path)


def path_matcher(patterns: Patterns) -> Callable[[Sequence[str]], bool]:
    """A predicate on parameter paths: does a pattern match any prefix of the path?"""
    match = matcher(patterns)

    def hit(names: Sequence[str]) -> bool:
        return any(match("/".join(names[:i])) for i in range(1, len(names) + 1))

    return hit


def pattern_mask(params: Any, patterns: Patterns) -> Any:
    """True for the float leaves whose path matches one of ``patterns``.

    Example:
      >>> pattern_mask({"dense": {"kernel": w, "bias": b}}, "dense*")  # doctest: +SKIP
      {'dense': {'bias': True, 'kernel': True}}
    """
    hit = path_matcher(patterns)
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: bool(is_float(leaf) and hit(path_names(path))), params)


def flags_mask(params: Any, graph: ModelGraph) -> Any:
    """True for the float leaves of layers whose Keras ``trainable`` flag is set.

    A nested model's flag applies to everything inside it (as in Keras). Layers the
    graph does not know (not expected) count as trainable.
    """

    def walk(tree: Any, g: ModelGraph | None, inherited: bool) -> Any:
        if not isinstance(tree, Mapping):
            return jax.tree_util.tree_map(lambda leaf: bool(inherited and is_float(leaf)), tree)
        out = {}
        for name, sub in tree.items():
            spec = g.layer_map.get(name) if g is not None else None
            flag = inherited and (spec.trainable if spec is not None else True)
            inner = spec.graph if spec is not None and spec.graph is not None else None
            if inner is not None:
                out[name] = walk(sub, inner, flag)
            else:
                out[name] = jax.tree_util.tree_map(lambda leaf, f=flag: bool(f and is_float(leaf)),
                                                   sub)
        return out

    return walk(params, graph, True)


def trainable_mask(model: Model | GraphModel,
                   patterns: Patterns | Mapping[str, Any] | None = None, *,
                   flags: bool = True) -> Any:
    """The bool mask of the parameters that train.

    Args:
      model: a :class:`flaxjs.Model`.
      patterns: layer/weight-name patterns that may train (a mapping such as a
        discriminative learning-rate table counts by its keys); ``None`` = all.
      flags: honour the layers' Keras ``trainable`` flags (then a parameter trains
        only if its layer is trainable *and* it matches ``patterns``).

    Returns:
      a pytree of bools shaped like ``model.params``.

    Example:
      >>> head_only = trainable_mask(base.freeze().extend(head))       # doctest: +SKIP
      >>> top = trainable_mask(model, ["conv_pw_13*", "dense*"], flags=False)  # doctest: +SKIP
    """
    params = model.params
    if not flags:
        mask = jax.tree_util.tree_map(is_float, params)
    elif isinstance(model, GraphModel):  # frozen weight nodes, then the head's Keras flags
        mask = {k: bool(is_float(v)) and k not in model.frozen
                for k, v in params.items() if k in model.spec.nodes}
        if model.head is not None:
            mask.update(flags_mask({k: v for k, v in params.items() if k not in mask},
                                   model.head.graph))
    else:
        mask = flags_mask(params, model.graph)
    if patterns is not None:
        if isinstance(patterns, Mapping):
            patterns = list(patterns)
        by_name = pattern_mask(params, patterns)
        mask = jax.tree_util.tree_map(lambda a, b: bool(a and b), mask, by_name)
    return mask


def count(params: Any, mask: Any) -> tuple[int, int]:
    """``(trainable, total)`` numbers of scalar parameters."""
    leaves = jax.tree_util.tree_leaves(params)
    flags = jax.tree_util.tree_leaves(mask)
    total = sum(int(np.prod(np.shape(x))) for x in leaves)
    trained = sum(int(np.prod(np.shape(x))) for x, f in zip(leaves, flags, strict=True) if f)
    return trained, total


# ---------------------------------------------------------------- trainable views
def trainable_view(params: Any, mask: Any) -> Any:
    """``params`` with every frozen leaf replaced by ``optax.MaskedNode()``.

    This is how optax itself hides leaves (``optax.masked``): optimizers,
    ``optax.multi_transform`` label trees and ``optax.apply_updates`` all work on it,
    and a gradient taken with respect to it has no frozen part at all.
    """
    return jax.tree_util.tree_map(lambda p, m: p if m else optax.MaskedNode(), params, mask)


def flatten_up_to(treedef: Any, tree: Any) -> list[Any]:
    """``treedef.flatten_up_to(tree)``: ``tree``'s entries at the leaves of ``treedef``.

    (jaxlib ships no type stubs, so mypy cannot see ``PyTreeDef``'s methods.)
    """
    return treedef.flatten_up_to(tree)


def merge_view(view: Any, params: Any, mask: Any) -> Any:
    """``params`` with the trainable leaves taken from ``view`` (the frozen ones untouched)."""
    leaves, treedef = jax.tree_util.tree_flatten(params)
    flags = flatten_up_to(treedef, mask)
    fresh = iter(jax.tree_util.tree_leaves(view))
    return jax.tree_util.tree_unflatten(treedef, [next(fresh) if f else leaf
                                                  for leaf, f in zip(leaves, flags, strict=True)])


# ---------------------------------------------------------------- optax helpers
def mask_labels(mask: Any) -> Any:
    """``"trainable"``/``"frozen"`` labels for ``optax.multi_transform``/``optax.partition``."""
    return jax.tree_util.tree_map(lambda m: TRAINABLE if m else FROZEN, mask)


def freeze_optimizer(tx: optax.GradientTransformation, mask: Any
                     ) -> optax.GradientTransformation:
    """``tx`` on the trainable leaves and ``optax.set_to_zero()`` on the frozen ones, for
    loops that keep the whole ``params`` tree (the optax-native route).

    :func:`flaxjs.finetune.train_step` does not need this: it differentiates only the
    trainable leaves and never touches the frozen ones (``p + 0.0`` would turn a
    ``-0.0`` weight into ``+0.0``; it leaves them bit-identical).

    Example:
      >>> tx = freeze_optimizer(optax.adam(1e-3), trainable_mask(model))  # doctest: +SKIP
      >>> opt_state = tx.init(model.params)  # doctest: +SKIP
    """
    return optax.multi_transform({TRAINABLE: tx, FROZEN: optax.set_to_zero()},
                                 mask_labels(mask))


def lr_labels(params: Any, lrs: Mapping[str, Any]) -> Any:
    """Per-leaf labels: the first pattern of ``lrs`` that matches, else ``"frozen"``.

    Frozen leaves hidden by ``optax.MaskedNode`` stay hidden, so this works on
    ``params`` and on a :func:`trainable_view` alike.
    """
    hits = [(pattern, path_matcher(pattern)) for pattern in lrs]

    def label(path: Any, leaf: Any) -> str:
        names = path_names(path)
        if is_float(leaf):
            for pattern, hit in hits:
                if hit(names):
                    return pattern
        return FROZEN

    return jax.tree_util.tree_map_with_path(label, params)


def discriminative(lrs: Mapping[str, float | optax.Schedule],
                   optimizer: Callable[..., optax.GradientTransformation] = optax.adam,
                   **kwargs: Any) -> optax.GradientTransformation:
    """One optimizer per pattern group, each with its own learning rate (or schedule).

    Parameters matched by no pattern get ``optax.set_to_zero()``; pass the same
    mapping as ``trainable=`` to :meth:`TrainState.create` so that they are not
    differentiated at all.

    Args:
      lrs: ``{pattern: learning rate}``, first match wins (dict order).
      optimizer: an optax optimizer factory taking the learning rate first.
      **kwargs: passed to every ``optimizer`` call (``b1``, ``weight_decay``...).

    Example:
      >>> lrs = {"dense*": 1e-3, "conv_pw_1[2-3]*": 1e-5}
      >>> tx = discriminative(lrs, optax.adamw, weight_decay=1e-4)
      >>> state = TrainState.create(model, tx, trainable=lrs)  # doctest: +SKIP
    """
    if FROZEN in lrs:
        raise ValueError(f"{FROZEN!r} is reserved for the parameters that do not train")
    transforms = {pattern: optimizer(lr, **kwargs) for pattern, lr in lrs.items()}
    transforms[FROZEN] = optax.set_to_zero()
    partition = getattr(optax, "partition", optax.multi_transform)
    return partition(transforms, lambda params: lr_labels(params, lrs))
