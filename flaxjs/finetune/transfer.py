"""Where to cut a pretrained base, what to cache, and what fine-tuning unfreezes.

The usual transfer-learning recipe on a zoo base: cut it at a feature layer (its
card's ``cut_points``), freeze it, train a new head; then unfreeze the top block
(the layers between the card's ``top_block_after`` layer and the cut) with a
lower learning rate. Everything below the top block never trains, so its output
can be computed once (``model.truncate(plan.split).predict(x)``) and training
runs only ``model.tail(plan.split)``.

:func:`with_new_head` does the first step in one call (what ``zoo.load(name,
num_classes=N)`` returns, like timm's ``create_model(name, num_classes=N)``).

Example:
  >>> model = with_new_head(base, 5)                 # doctest: +SKIP
  >>> plan = transfer_plan(base)                     # doctest: +SKIP
  >>> model = base.truncate(plan.cut).freeze().extend(keras.classifier_head(5))  # doctest: +SKIP
  >>> features = model.truncate(plan.split).predict(x)  # doctest: +SKIP
  >>> head = model.tail(plan.split)                  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import jax

from .. import keras
from ..errors import FlaxjsError
from ..model import Model

if TYPE_CHECKING:
    from ..graph.model import GraphModel

#: layer classes kept frozen when a top block is fine-tuned: a BatchNormalization layer
#: that trains switches to batch statistics, which small batches of a new task would spoil
#: (Keras's fine-tuning guide keeps them in inference mode for the same reason).
KEEP_FROZEN = frozenset({"BatchNormalization"})


@dataclasses.dataclass(frozen=True)
class TransferPlan:
    """Where to cut a base, what stays frozen, what fine-tuning unfreezes.

    Attributes:
      cut: the feature layer the head sits on.
      split: the last layer whose output can be cached (the frozen part ends there).
      top: the layers between ``split`` and ``cut`` that fine-tuning trains (those of the
        ``keep_frozen`` classes excluded); empty when the base has no known top block.
    """

    cut: str
    split: str
    top: tuple[str, ...]


def transfer_plan(model: Model, cut: str | None = None, *,
                  keep_frozen: Collection[str] = KEEP_FROZEN) -> TransferPlan:
    """The cut (default: the zoo card's first suggested cut point) and its top block.

    Args:
      model: the pretrained base (from :func:`flaxjs.zoo.load` for the card's cut points).
      cut: the feature layer; default the card's first cut point.
      keep_frozen: layer classes that stay frozen inside the top block.
    """
    card = model.card
    cut = default_cut(model) if cut is None else cut
    base = model.truncate(cut)
    start = card.top_blocks.get(cut) if card is not None else None
    if start is None or start not in base.graph.layer_map:
        # no known top block (or it sits in a nested model): cache the whole cut base
        return TransferPlan(cut, base.graph.outputs[0].layer, ())
    lower = set(model.truncate(start).params)
    top = tuple(s.name for s in base.graph.layers
                if s.name in base.params and s.name not in lower
                and s.class_name not in keep_frozen)
    return TransferPlan(cut, start, top)


def default_cut(model: Model | GraphModel) -> str:
    """The zoo card's first suggested cut point (its main feature layer or node)."""
    card = model.card
    points = list(card.cut_points) if card is not None else []
    if not points:
        raise FlaxjsError(f"model {model.name!r} has no suggested cut point in its zoo card; "
                          "pass cut= a feature layer of your choice")
    return points[0]


#: global average pooling per feature rank (batch axis included)
_POOLING = {3: "GlobalAveragePooling1D", 4: "GlobalAveragePooling2D",
            5: "GlobalAveragePooling3D"}


def with_new_head(model: Any, num_classes: int, *, cut: str | None = None,
                  dropout: float = 0.2, activation: str = "softmax",
                  key: jax.Array | None = None) -> Any:
    """The frozen base cut at a feature layer, plus a new trainable classifier head.

    The head is global average pooling (when the features have spatial axes),
    Dropout and a ``num_classes``-unit Dense, all :mod:`flaxjs.keras` layers, so the
    result trains with :mod:`flaxjs.finetune` and exports with :func:`flaxjs.save`.

    Args:
      model: a pretrained :class:`~flaxjs.Model` or :class:`~flaxjs.GraphModel`.
      num_classes: the new task's classes.
      cut: the feature layer (node) to cut at; default the zoo card's first cut point.
      dropout: the Dropout rate before the Dense layer (0 leaves Dropout out).
      activation: the Dense layer's activation (``"softmax"`` gives probabilities, for
        ``loss="categorical_crossentropy"``; ``"linear"`` gives logits).
      key: PRNG key of the head's initializers.

    Example:
      >>> model = with_new_head(zoo.load("mobilenet"), 5)  # doctest: +SKIP
    """
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise FlaxjsError(f"num_classes must be a positive integer, got {num_classes!r}")
    cut = default_cut(model) if cut is None else cut
    base = model.truncate(cut).freeze()
    outputs = jax.tree_util.tree_leaves(base.output_spec())
    if len(outputs) != 1:
        raise FlaxjsError(f"the cut at {cut!r} has {len(outputs)} outputs; a new head needs one")
    rank = len(outputs[0].shape)
    head = [keras.Dense(num_classes, activation)]
    if dropout:
        head.insert(0, keras.Dropout(dropout))
    if rank > 2:
        if rank not in _POOLING:
            raise FlaxjsError(f"the features at the cut have rank {rank}; pass cut= a layer "
                              "with 2- to 5-dimensional outputs")
        head.insert(0, keras.Layer(_POOLING[rank]))
    return base.extend(head, key=key)
