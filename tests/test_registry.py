"""Every registered class, driven by the registry (as timm's tests run over ``list_models()``).

Each converter declares sample configs (:class:`flaxjs.layers.traits.Sample`). For each,
a one-layer model is built as a ``model.json`` in memory and loaded; it must run
forward, agree with itself under ``jax.jit`` of the pure function, have finite
gradients in training mode, and either be exported by ``flaxjs.save`` (and read back
computing the same) or be refused with the reason its registration declares.
Numeric correctness against TF.js and Keras is the parity suites' job.
"""

from __future__ import annotations

import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flaxjs
from flaxjs.errors import ExportError
from flaxjs.layers import registry
from flaxjs.layers.traits import Sample

CASES = [pytest.param(reg, i, sample, id=f"{reg.class_name}-{i}")
         for reg in registry.registrations() for i, sample in enumerate(reg.samples)]


def _input_layer(name: str, shape: tuple[int, ...], dtype: str, keras3: bool) -> dict:
    key = "batch_shape" if keras3 else "batch_input_shape"
    return {"class_name": "InputLayer",
            "config": {"name": name, key: [None, *shape[1:]], "dtype": dtype}}


def model_json(class_name: str, sample: Sample) -> dict:
    """A Functional model: one input per sample input, then the layer."""
    names = [f"in_{i}" for i in range(len(sample.inputs))]
    layers = [_input_layer(n, s, sample.dtype, sample.keras3)
              for n, s in zip(names, sample.inputs)]
    layers.append({"class_name": class_name, "name": "layer",
                   "config": {"name": "layer", "trainable": True, **sample.config},
                   "inbound_nodes": [[[n, 0, 0, {}] for n in names]]})
    return {"format": "layers-model",
            "modelTopology": {
                "keras_version": "3.8.0" if sample.keras3 else "2.15.0",
                "model_config": {"class_name": "Functional", "config": {
                    "name": "sample", "layers": layers,
                    "input_layers": [[n, 0, 0] for n in names],
                    "output_layers": [["layer", 0, 0]]}}},
            "weightsManifest": [{"paths": [], "weights": []}]}


def build(class_name: str, sample: Sample) -> flaxjs.Model:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # every variable keeps its initializer: said in a warning
        return flaxjs.load(model_json(class_name, sample), weights={}, strict=False)


def inputs(sample: Sample, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(sample.low, sample.high, shape).astype(sample.dtype)
            for shape in sample.inputs]


def _leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def _close(a, b) -> None:
    for x, y in zip(_leaves(a), _leaves(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5)


def test_every_registration_declares_samples_and_an_export():
    for reg in registry.registrations():
        assert reg.samples, f"{reg.class_name} declares no sample configs"
        if not reg.tfjs:
            assert reg.export.refusal, f"{reg.class_name}: TF.js cannot load it, yet no refusal"


@pytest.mark.parametrize(("reg", "index", "sample"), CASES)
def test_sample_runs_jits_differentiates_and_exports(reg, index, sample, tmp_path):
    class_name = sample.class_name or reg.class_name
    model = build(class_name, sample)
    xs = inputs(sample)

    y = model(*xs)
    assert all(np.isfinite(v).all() for v in _leaves(y) if np.issubdtype(v.dtype, np.floating))
    _close(jax.jit(lambda v, *a: model.apply(v, *a))(model.variables, *xs), y)

    if sample.grad:
        floats = [x for x in xs if np.issubdtype(x.dtype, np.floating)]

        def loss(params, floats):
            it = iter(floats)
            args = [next(it) if np.issubdtype(x.dtype, np.floating) else x for x in xs]
            out, _ = model.apply({**model.variables, "params": params}, *args, train=True,
                                 rngs=jax.random.key(0), mutable=["batch_stats"])
            return sum(jnp.sum(jnp.asarray(o, jnp.float32) ** 2) for o in _leaves_jax(out))

        grads = jax.grad(loss, argnums=(0, 1))(model.params, floats)
        assert all(np.isfinite(g).all() for g in _leaves(grads))
        assert _leaves(grads), "nothing to differentiate"

    if reg.export.refusal:
        with pytest.raises(ExportError, match=re.escape(reg.export.refusal[:40])):
            flaxjs.save(model, tmp_path / "out")
    elif sample.exportable:
        path = flaxjs.save(model, tmp_path / "out")
        _close(flaxjs.load(path)(*xs), y)
    else:
        with pytest.raises(ExportError):
            flaxjs.save(model, tmp_path / "out")


def _leaves_jax(tree) -> list:
    return jax.tree_util.tree_leaves(tree)


def test_aliases_share_their_class_registration_and_are_listed_once():
    """A class files name two ways (Keras 3 saves GroupedQueryAttention as
    GroupQueryAttention) has one registration: its samples and coverage row appear once."""
    regs = registry.registrations()
    names = [r.class_name for r in regs]
    assert len(names) == len(set(names))
    aliased = [r for r in regs if r.aliases]
    assert aliased
    for reg in aliased:
        for alias in reg.aliases:
            assert alias not in names and registry.registration(alias) is reg
            with registry.registered(), pytest.raises(flaxjs.FlaxjsError, match=alias):
                registry.register_layer("Other", aliases=[alias])(reg.converter)


@pytest.mark.parametrize("reg", [r for r in registry.registrations() if r.keras_file.sublayers],
                         ids=lambda r: r.class_name)
def test_keras_file_sublayer_scopes_are_the_modules_scopes(reg):
    """The scopes a registration gives a ``.keras`` file's unnamed sublayers are variable
    scopes its module creates (its first sample enables them all)."""
    sample = reg.samples[0]
    model = build(sample.class_name or reg.class_name, sample)
    assert set(reg.keras_file.sublayers.values()) <= set(model.variables["params"]["layer"])
