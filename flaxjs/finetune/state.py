"""``TrainState``: everything a training step reads and writes, as one pytree.

Like ``flax.training.train_state.TrainState`` (``step``, ``params``, ``opt_state``,
static ``apply_fn`` and ``tx``) plus ``batch_stats`` (BatchNormalization moving
statistics), ``rng`` (the Dropout key stream, folded with ``step``) and the static
``trainable`` flags (which leaves of ``params`` train). The optimizer state covers
only the trainable leaves (frozen ones are ``optax.MaskedNode``), so a frozen
backbone costs neither gradient nor optimizer memory.

Example:
  >>> model = base.truncate("conv_pw_13_relu").freeze().extend(head)  # doctest: +SKIP
  >>> state = TrainState.create(model, optax.adam(1e-3))               # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from ..errors import TrainingError
from . import masks, regularizers

if TYPE_CHECKING:
    from ..model import Model


class TrainState(struct.PyTreeNode):
    """Parameters, statistics, optimizer state and RNG of one training run.

    Attributes:
      step: number of updates applied (int32 scalar).
      params: the full ``params`` tree (Keras layer and weight names).
      batch_stats: BatchNormalization moving statistics (``{}`` when none).
      opt_state: ``tx``'s state over :attr:`trainable_params` (frozen leaves hidden).
      rng: raw ``uint32[2]`` PRNG key; step ``n`` uses ``fold_in(rng, n)`` for Dropout.
      apply_fn: ``apply_fn(variables, *inputs, train=, rngs=, mutable=)`` — static
        (:meth:`flaxjs.Model.apply`).
      tx: the optax transformation — static.
      trainable: one bool per leaf of ``params`` in ``jax.tree_util`` order — static;
        :attr:`mask` gives it as a pytree.
      penalties: the layers' weight regularizers, added to the training loss as TF.js
        does (:mod:`flaxjs.finetune.regularizers`) — static.
      template: the model the state was created from (its untrained variables) — static;
        :attr:`model` gives it back holding the state's variables.
    """

    step: jax.Array
    params: Any
    batch_stats: Any
    opt_state: optax.OptState
    rng: jax.Array
    apply_fn: Callable[..., Any] = struct.field(pytree_node=False)
    tx: optax.GradientTransformation = struct.field(pytree_node=False)
    trainable: tuple[bool, ...] = struct.field(pytree_node=False)
    penalties: tuple[regularizers.Penalty, ...] = struct.field(pytree_node=False, default=())
    template: Any = struct.field(pytree_node=False, default=None)

    # ---------------------------------------------------------------- creation
    @classmethod
    def create(cls, model: Model, tx: optax.GradientTransformation, *,
               trainable: masks.Patterns | Mapping[str, Any] | None = None,
               flags: bool = True, seed: int | jax.Array = 0,
               variables: Mapping[str, Any] | None = None) -> TrainState:
        """A fresh state for a :class:`flaxjs.Model`.

        Args:
          model: the model (its ``apply`` becomes :attr:`apply_fn`).
          tx: any optax transformation (see :func:`~flaxjs.finetune.discriminative`).
          trainable: name patterns that may train (or a ``{pattern: lr}`` mapping);
            ``None`` = every layer the Keras flags allow.
          flags: honour the layers' Keras ``trainable`` flags.
          seed: an int or a PRNG key for Dropout.
          variables: start from these instead of ``model.variables``.

        Note:
          The forward pass follows the layers' own ``trainable`` flags: a frozen
          BatchNormalization (``model.freeze(...)``) normalizes with its moving
          statistics and never updates them; a layer merely left out by
          ``trainable`` patterns still runs in training mode. Freeze on the model
          to get both.

        Example:
          >>> state = TrainState.create(model.freeze("conv*"), optax.sgd(0.1))  # doctest: +SKIP
        """
        variables = model.variables if variables is None else variables
        mask = masks.trainable_mask(model, trainable, flags=flags)
        if variables is not model.variables:
            mask = _align(mask, variables.get("params", {}))
        state = cls.new(model.apply, variables.get("params", {}), tx,
                        batch_stats=variables.get("batch_stats", {}), mask=mask, seed=seed,
                        penalties=regularizers.penalties(model))
        return state.replace(template=model)

    @classmethod
    def new(cls, apply_fn: Callable[..., Any], params: Any, tx: optax.GradientTransformation,
            *, batch_stats: Any = None, mask: Any = None,
            seed: int | jax.Array = 0,
            penalties: tuple[regularizers.Penalty, ...] = ()) -> TrainState:
        """A state for any ``apply_fn`` with the :meth:`flaxjs.Model.apply` convention.

        ``mask=None`` trains every float leaf; ``penalties`` are added to the training loss.
        """
        if mask is None:
            mask = jax.tree_util.tree_map(masks.is_float, params)
        leaves, treedef = jax.tree_util.tree_flatten(params)
        flags = tuple(bool(f) for f in masks.flatten_up_to(treedef, mask))
        flags = tuple(f and masks.is_float(x) for f, x in zip(flags, leaves, strict=True))
        if isinstance(seed, int):
            rng = jax.random.PRNGKey(seed)
        elif jnp.issubdtype(seed.dtype, jax.dtypes.prng_key):
            rng = jax.random.key_data(seed)
        else:
            rng = jnp.asarray(seed, jnp.uint32)
        state = cls(step=jnp.zeros((), jnp.int32), params=params,
                    batch_stats=dict(batch_stats or {}), opt_state=None, rng=rng,
                    apply_fn=apply_fn, tx=tx, trainable=flags, penalties=tuple(penalties))
        return state.replace(opt_state=tx.init(state.trainable_params))

    # ---------------------------------------------------------------- views
    @property
    def mask(self) -> Any:
        """The trainable flags as a pytree of bools shaped like ``params``."""
        treedef = jax.tree_util.tree_structure(self.params)
        return jax.tree_util.tree_unflatten(treedef, self.trainable)

    @property
    def trainable_params(self) -> Any:
        """``params`` with the frozen leaves replaced by ``optax.MaskedNode()``."""
        return masks.trainable_view(self.params, self.mask)

    @property
    def variables(self) -> dict[str, Any]:
        """``{"params": ..., "batch_stats": ...}`` for ``apply_fn`` or a :class:`flaxjs.Model`."""
        out = {"params": self.params}
        if self.batch_stats:
            out["batch_stats"] = self.batch_stats
        return out

    @property
    def model(self) -> Model:
        """The model holding this state's (trained) variables: what to call, evaluate or
        :func:`flaxjs.save` after :func:`~flaxjs.finetune.fit`.

        Raises:
          TrainingError: the state was made by :meth:`new` from a bare ``apply_fn``.
        """
        if self.template is None:
            raise TrainingError("this TrainState was made by TrainState.new from a bare "
                                "apply_fn, so it knows no model: use TrainState.create(model, "
                                "tx), or apply_fn(state.variables, x)")
        return self.template.with_variables(self.variables)

    def split(self) -> tuple[list[jax.Array], list[jax.Array]]:
        """``(trainable leaves, frozen leaves)`` of ``params`` in tree order."""
        leaves = jax.tree_util.tree_leaves(self.params)
        return ([x for x, f in zip(leaves, self.trainable, strict=True) if f],
                [x for x, f in zip(leaves, self.trainable, strict=True) if not f])

    def merge(self, trainable_leaves: list[jax.Array]) -> Any:
        """``params`` with the trainable leaves replaced (frozen ones untouched)."""
        leaves, treedef = jax.tree_util.tree_flatten(self.params)
        fresh = iter(trainable_leaves)
        return jax.tree_util.tree_unflatten(
            treedef, [next(fresh) if f else x for x, f in zip(leaves, self.trainable, strict=True)])

    # ---------------------------------------------------------------- updates
    def apply_gradients(self, grads: Any, **changes: Any) -> TrainState:
        """One optimizer update; ``step`` + 1.

        Args:
          grads: gradients of the trainable leaves: a list in tree order (as
            :meth:`split`), a tree shaped like :attr:`trainable_params`, or a full
            ``params``-shaped tree (its frozen part is ignored).
          **changes: other fields to replace (e.g. ``batch_stats``).
        """
        grad_leaves = grads if isinstance(grads, list) else jax.tree_util.tree_leaves(grads)
        n_train = sum(self.trainable)
        if len(grad_leaves) == len(self.trainable) and n_train != len(self.trainable):
            grad_leaves = [g for g, f in zip(grad_leaves, self.trainable, strict=True) if f]
        if len(grad_leaves) != n_train:
            raise ValueError(f"expected gradients for {n_train} trainable leaves, "
                             f"got {len(grad_leaves)}")
        treedef = jax.tree_util.tree_structure(self.params)
        hidden = iter(grad_leaves)
        grad_view = jax.tree_util.tree_unflatten(
            treedef, [next(hidden) if f else optax.MaskedNode() for f in self.trainable])
        params_view = self.trainable_params
        updates, opt_state = self.tx.update(grad_view, self.opt_state, params_view)
        new_view = optax.apply_updates(params_view, updates)
        params = self.merge(jax.tree_util.tree_leaves(new_view))
        return self.replace(step=self.step + 1, params=params, opt_state=opt_state, **changes)

    def step_rng(self) -> jax.Array:
        """This step's Dropout key: ``fold_in(rng, step)``."""
        return jax.random.fold_in(self.rng, self.step)


def _align(mask: Any, params: Any) -> Any:
    """``mask`` restricted/extended to ``params`` (missing leaves: trainable if float)."""

    def pick(path: Any, leaf: Any) -> bool:
        node = mask
        for key in path:
            name = masks.key_name(key)
            if not isinstance(node, Mapping) or name not in node:
                return masks.is_float(leaf)
            node = node[name]
        return bool(node) and masks.is_float(leaf)

    return jax.tree_util.tree_map_with_path(pick, params)


def updated_model(model: Model, state: TrainState) -> Model:
    """``model`` with the state's trained variables (same graph, names and metadata);
    ``state.model`` when ``state`` was created from ``model``.

    Example:
      >>> trained = updated_model(model, state); trained(x)  # doctest: +SKIP
    """
    return model.with_variables(state.variables)
