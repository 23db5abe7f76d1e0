"""Where to cut a pretrained base, what to cache, and what fine-tuning unfreezes.

The usual transfer-learning recipe on a zoo base: cut it at a feature layer (its
card's ``cut_points``), freeze it, train a new head; then unfreeze the top block
(the layers between the card's ``top_block_after`` layer and the cut) with a
lower learning rate. Everything below the top block never trains, so its output
can be computed once (``model.truncate(plan.split).predict(x)``) and training
runs only ``model.tail(plan.split)``.

Example:
  >>> plan = transfer_plan(base)                     # doctest: +SKIP
  >>> model = base.truncate(plan.cut).freeze().extend(keras.classifier_head(5))  # doctest: +SKIP
  >>> features = model.truncate(plan.split).predict(x)  # doctest: +SKIP
  >>> head = model.tail(plan.split)                  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from ..errors import FlaxjsError
from ..model import Model

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
    if cut is None:
        points = list(card.cut_points) if card is not None else []
        if not points:
            raise FlaxjsError(f"model {model.name!r} has no suggested cut point in its zoo card; "
                              "pass cut= a feature layer of your choice")
        cut = points[0]
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
