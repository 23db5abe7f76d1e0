"""Trainable masks (Keras flags, patterns, both), optax labels, and what a step differentiates."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import flaxjs
from corpus import CORPUS
from flaxjs import finetune as ft
from flaxjs.finetune import masks

pytestmark = pytest.mark.skipif(not (CORPUS / "synthetic").is_dir(),
                                reason="../shared/corpus/synthetic is not present")

SYN = CORPUS / "synthetic"


def _load(case):
    return flaxjs.load(SYN / case)


def _flat(mask):
    return {"/".join(masks.path_names(p)): v
            for p, v in jax.tree_util.tree_flatten_with_path(mask)[0]}


def test_flags_mask_follows_freeze_and_unfreeze():
    model = _load("batchnorm_train_step")
    assert all(_flat(ft.trainable_mask(model)).values())
    frozen = model.freeze().unfreeze("dense_2")
    flat = _flat(ft.trainable_mask(frozen))
    assert flat == {"batch_normalization_1/beta": False, "batch_normalization_1/gamma": False,
                    "dense_1/bias": False, "dense_1/kernel": False,
                    "dense_2/bias": True, "dense_2/kernel": True}


def test_patterns_flags_and_both():
    model = _load("batchnorm_train_step").freeze("dense_1")
    by_pattern = _flat(ft.trainable_mask(model, ["dense*"], flags=False))
    assert by_pattern["dense_1/kernel"] and by_pattern["dense_2/kernel"]
    assert not by_pattern["batch_normalization_1/gamma"]
    both = _flat(ft.trainable_mask(model, ["dense*"]))
    assert not both["dense_1/kernel"] and both["dense_2/kernel"]
    assert not both["batch_normalization_1/gamma"]
    weights_only = _flat(ft.trainable_mask(model, "bias", flags=False))
    assert [k for k, v in weights_only.items() if v] == ["dense_1/bias", "dense_2/bias"]


def test_nested_models_inherit_the_outer_flag():
    model = _load("model_nested_two_levels")
    frozen = model.freeze("mid_functional")
    flat = _flat(ft.trainable_mask(frozen))
    assert flat["dense_2/kernel"]
    assert not any(v for k, v in flat.items() if k.startswith("mid_functional/"))
    inner = _flat(ft.trainable_mask(model.freeze("dense_1")))
    assert not inner["mid_functional/deep_sequential/dense_1/kernel"]
    assert inner["mid_functional/deep_sequential/batch_normalization_1/gamma"]
    by_inner_name = _flat(ft.trainable_mask(model, "batch_normalization_1", flags=False))
    assert [k for k, v in by_inner_name.items() if v] == [
        "mid_functional/deep_sequential/batch_normalization_1/beta",
        "mid_functional/deep_sequential/batch_normalization_1/gamma"]


def test_integer_weights_never_train():
    model = _load("weights_int32_embedding")
    assert _flat(ft.trainable_mask(model)) == {"embedding_1/embeddings": False}
    assert _flat(ft.trainable_mask(model, "*", flags=False)) == {"embedding_1/embeddings": False}
    state = ft.TrainState.create(model, optax.sgd(0.1))
    assert state.trainable == (False,)
    ids = np.array([[1, 2], [3, 4]], np.int32)
    new_state, logs = ft.train_step(state, (ids, np.zeros((2, 2, 3), np.float32)))
    assert np.isfinite(float(logs["loss"]))
    assert np.array_equal(new_state.params["embedding_1"]["embeddings"],
                          state.params["embedding_1"]["embeddings"])


def test_lr_labels_and_discriminative_rates():
    model = _load("batchnorm_train_step")
    lrs = {"dense_2": 1.0, "dense_1": 0.01}
    labels = _flat(ft.lr_labels(model.params, lrs))
    assert labels["dense_2/kernel"] == "dense_2" and labels["dense_1/bias"] == "dense_1"
    assert labels["batch_normalization_1/gamma"] == "frozen"
    grads = jax.tree_util.tree_map(jnp.ones_like, model.params)
    tx = ft.discriminative(lrs, optax.sgd)
    updates, _ = tx.update(grads, tx.init(model.params), model.params)
    assert np.all(np.asarray(updates["dense_2"]["kernel"]) == -1.0)
    assert np.allclose(updates["dense_1"]["kernel"], -0.01)
    assert np.all(np.asarray(updates["batch_normalization_1"]["gamma"]) == 0.0)
    with pytest.raises(ValueError, match="reserved"):
        ft.discriminative({"frozen": 1.0})


def test_discriminative_state_differentiates_only_the_listed_layers():
    model = _load("batchnorm_train_step")
    lrs = {"dense_2": 0.1, "dense_1": 0.01}
    state = ft.TrainState.create(model, ft.discriminative(lrs, optax.sgd), trainable=lrs)
    assert sum(state.trainable) == 4
    x = np.ones((4, 4), np.float32)
    new, _ = ft.train_step(state, (x, np.zeros((4, 2), np.float32)))
    bn = "batch_normalization_1"
    assert np.array_equal(new.params[bn]["gamma"], state.params[bn]["gamma"])
    assert not np.array_equal(new.params["dense_2"]["kernel"], state.params["dense_2"]["kernel"])


def test_freeze_optimizer_and_labels_for_full_tree_loops():
    model = _load("batchnorm_train_step").freeze("dense_1")
    mask = ft.trainable_mask(model)
    assert _flat(ft.mask_labels(mask))["dense_1/kernel"] == "frozen"
    tx = ft.freeze_optimizer(optax.sgd(1.0), mask)
    grads = jax.tree_util.tree_map(jnp.ones_like, model.params)
    updates, _ = tx.update(grads, tx.init(model.params), model.params)
    assert np.all(np.asarray(updates["dense_1"]["kernel"]) == 0)
    assert np.all(np.asarray(updates["dense_2"]["kernel"]) == -1)


def test_trainable_view_round_trip():
    model = _load("batchnorm_train_step").freeze("dense_1")
    mask = ft.trainable_mask(model)
    view = ft.trainable_view(model.params, mask)
    assert isinstance(view["dense_1"]["kernel"], optax.MaskedNode)
    bumped = jax.tree_util.tree_map(lambda p: p + 1, view)
    merged = ft.merge_view(bumped, model.params, mask)
    assert np.array_equal(merged["dense_1"]["kernel"], model.params["dense_1"]["kernel"])
    assert np.allclose(merged["dense_2"]["kernel"], model.params["dense_2"]["kernel"] + 1)
    assert masks.count(model.params, mask) == (5 + 5 + 5 * 2 + 2, 4 * 5 + 5 + 5 + 5 + 5 * 2 + 2)


def _count_convs(state, batch):
    jaxpr = jax.make_jaxpr(lambda s, b: ft.steps._train_step(s, b, "mse", ()))(state, batch)
    text = str(jaxpr)
    return text.count("conv_general_dilated")


def test_frozen_layers_are_not_differentiated():
    """Conv2D → Flatten → Dense: a trainable first conv needs a forward and a kernel-gradient
    convolution; a frozen one only the forward one."""
    model = _load("conv2d_train_step")
    batch = (np.zeros((2, 6, 6, 2), np.float32), np.zeros((2, 2), np.float32))
    trainable = ft.TrainState.create(model, optax.sgd(0.1))
    frozen = ft.TrainState.create(model.freeze("conv2d_1"), optax.sgd(0.1))
    assert _count_convs(trainable, batch) == 2
    assert _count_convs(frozen, batch) == 1
    opt_leaves = jax.tree_util.tree_leaves(frozen.opt_state)
    assert opt_leaves == [], "plain SGD keeps no state, and none for frozen leaves"
    adam = ft.TrainState.create(model.freeze("conv2d_1"), optax.adam(1e-3))
    shapes = sorted(x.shape for x in jax.tree_util.tree_leaves(adam.opt_state) if x.ndim)
    assert (3, 3, 2, 3) not in shapes and (48, 2) in shapes
