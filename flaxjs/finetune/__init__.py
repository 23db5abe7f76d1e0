"""Transfer learning and fine-tuning on loaded TF.js models, with flax and optax idioms.

The usual path: cut a pretrained model, freeze it, add a head, train the head,
then unfreeze the top blocks with a lower learning rate.

Example:
  >>> import flaxjs, optax
  >>> from flaxjs import keras as K, finetune as ft
  >>> base = flaxjs.load("mobilenet/model.json").truncate("conv_pw_13_relu")  # doctest: +SKIP
  >>> model = base.freeze().extend([K.GlobalAveragePooling2D(),
  ...                               K.Dense(5, activation="softmax")])        # doctest: +SKIP
  >>> state = ft.TrainState.create(model, optax.adam(1e-3))                   # doctest: +SKIP
  >>> state, hist = ft.fit(state, x, y, epochs=5, loss="categorical_crossentropy",
  ...                      metrics=["accuracy"], validation_split=0.2)        # doctest: +SKIP
  >>> flaxjs.save(state, "web/model")        # the trained model, state.model  # doctest: +SKIP
  >>> lrs = {"dense*": 1e-3, "conv_pw_13*": 1e-5}                             # doctest: +SKIP
  >>> tuned = state.model.unfreeze("conv_pw_13*")                            # doctest: +SKIP
  >>> state2 = ft.TrainState.create(tuned, ft.discriminative(lrs), trainable=lrs)  # doctest: +SKIP

Modules: :mod:`.masks` (what trains, optax labels), :mod:`.losses`,
:mod:`.state` (``TrainState``), :mod:`.steps` (jitted steps), :mod:`.fit`,
:mod:`.callbacks` (``EarlyStopping``, ``ModelCheckpoint``), :mod:`.progress` (``verbose``),
:mod:`flaxjs.parallel` (``jax.sharding`` data parallelism, re-exported here),
:mod:`.regularizers` (Keras weight penalties in the training loss);
``save_checkpoint`` / ``restore_checkpoint``
are :mod:`flaxjs.checkpoint`'s, re-exported here.
"""

from ..checkpoint import restore_checkpoint, save_checkpoint
from ..parallel import data_mesh, replicate, shard_batch
from .callbacks import Callback, EarlyStopping, ModelCheckpoint
from .fit import History, array_batches, evaluate, fit
from .losses import (
    BinaryCrossEntropy,
    CrossEntropy,
    MeanAbsoluteError,
    MeanSquaredError,
    accuracy,
    binary_accuracy,
    binary_cross_entropy,
    get_loss,
    mean_absolute_error,
    mean_squared_error,
    softmax_cross_entropy,
)
from .masks import (
    discriminative,
    flags_mask,
    freeze_optimizer,
    lr_labels,
    mask_labels,
    merge_view,
    pattern_mask,
    trainable_mask,
    trainable_view,
)
from .regularizers import Penalty, penalties, regularization_loss
from .state import TrainState, updated_model
from .steps import eval_step, make_train_step, predict_step, train_step
from .transfer import KEEP_FROZEN, TransferPlan, default_cut, transfer_plan, with_new_head

__all__ = [
    "KEEP_FROZEN", "BinaryCrossEntropy", "Callback", "CrossEntropy", "EarlyStopping", "History",
    "MeanAbsoluteError", "MeanSquaredError", "ModelCheckpoint", "Penalty", "TrainState",
    "TransferPlan", "accuracy", "array_batches", "binary_accuracy", "binary_cross_entropy",
    "data_mesh", "default_cut", "discriminative", "eval_step",
    "evaluate", "fit", "flags_mask", "freeze_optimizer", "get_loss", "lr_labels", "make_train_step",
    "mask_labels", "mean_absolute_error", "mean_squared_error", "merge_view", "pattern_mask",
    "penalties", "predict_step", "regularization_loss", "replicate", "restore_checkpoint",
    "save_checkpoint", "shard_batch", "softmax_cross_entropy", "train_step", "trainable_mask",
    "trainable_view", "transfer_plan", "updated_model", "with_new_head",
]
