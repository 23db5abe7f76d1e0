"""Transfer learning end to end: what ``flaxjs demo`` runs.

A pretrained TF.js base from the zoo is cut at a feature layer (its card's first
suggested cut point) and frozen; a new Keras head (GlobalAveragePooling2D →
Dropout → Dense softmax) learns to tell apart shapes drawn with Pillow; then the
top block of the base is unfrozen and fine-tuned with a ten times lower learning
rate than the head (discriminative learning rates). Only the base's download
needs the network.

Speed on a CPU: the frozen layers compute the same thing every epoch, so their
output is computed once (feature caching, as in Keras's transfer-learning guide)
and the training steps run only what comes after it — the top block and the
head (``Model.tail``). The variables keep their Keras names throughout, so the
trained ones drop back into the full model for evaluation on raw images and
export (``Model.with_variables(..., merge=True)``).

Run ``flaxjs demo`` (``--help`` for the options) or
``python -m flaxjs.examples.transfer_learning``; from Python::

    from flaxjs.examples import transfer_learning
    result = transfer_learning.run(quick=True, out="demo-out")
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
import optax

from flaxjs import finetune as ft
from flaxjs import keras as K
from flaxjs import zoo
from flaxjs.errors import FlaxjsError
from flaxjs.finetune.masks import count

from .plot import plot_history
from .shapes import CLASSES, draw_shapes, split

#: the default base: the zoo entry reachable from machines that see only package registries.
DEFAULT_BASE = "nsfwjs_mobilenet_v2"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything ``flaxjs demo`` lets one choose (the command-line options)."""

    base: str = DEFAULT_BASE
    samples: int = 3000
    image_size: int = 128
    epochs: int = 15
    fine_tune_epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 3e-3
    fine_tune_learning_rate: float = 1e-4
    held_out: float = 0.25
    seed: int = 0
    out: str | None = "flaxjs-demo"
    export: str | None = None

    @classmethod
    def quick(cls, **changes: Any) -> Settings:
        """Tiny settings for tests: a few seconds of training."""
        return cls(**{"samples": 360, "image_size": 64, "epochs": 20, "fine_tune_epochs": 3,
                      **changes})


def _count(tree: Any) -> int:
    return sum(int(np.prod(np.shape(x))) for x in jax.tree_util.tree_leaves(tree))


def _fmt_count(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n:,}"


class _EpochPrinter:
    """A ``fit`` callback printing one line per epoch and timing it."""

    def __init__(self, total: int, offset: int, say: Callable[[str], None]):
        self.total, self.offset, self.say = total, offset, say
        self.start = time.perf_counter()
        self.seconds: list[float] = []

    def __call__(self, epoch: int, logs: dict[str, float], state: Any) -> None:
        now = time.perf_counter()
        self.seconds.append(now - self.start)
        self.start = now
        self.say(f"    epoch {self.offset + epoch + 1:2d}/{self.total}  "
                 f"loss {logs['loss']:.3f}  acc {logs['accuracy']:.3f}  |  "
                 f"held-out loss {logs['val_loss']:.3f}  acc {logs['val_accuracy']:.3f}  "
                 f"({self.seconds[-1]:.1f} s)")


def run(settings: Settings | None = None, *, quick: bool = False,
        say: Callable[[str], None] = print, **changes: Any) -> dict[str, Any]:
    """The whole demo; prints its progress through ``say`` and returns its results.

    Args:
      settings: the options (default :class:`Settings`, or :meth:`Settings.quick`).
      quick: start from the tiny test settings.
      say: where progress lines go.
      **changes: settings to override (``epochs=3``...).

    Returns:
      ``{"accuracy", "head_accuracy", "history", "fine_tune_start", "timings", "settings",
      "plan", "plot", "export", "model", ...}`` — all but the model also written to
      ``<out>/results.json``.
    """
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise FlaxjsError('the demo draws its data set with Pillow: pip install "flaxjs[demo]"'
                          ) from None
    if settings is None:
        settings = Settings.quick() if quick else Settings()
    s = dataclasses.replace(settings, **changes)
    timings: dict[str, float] = {}
    t_start = clock = time.perf_counter()

    def lap(name: str) -> float:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now
        return timings[name]

    mesh = ft.data_mesh()
    devices = jax.devices()
    kinds = sorted({d.platform for d in devices})
    say(f"flaxjs demo: transfer learning from {s.base} on {len(devices)} device(s) "
        f"({', '.join(kinds)})")

    # 1. the base, cut and frozen, with the new head
    say(f"[1/6] base: zoo.load({s.base!r}) ...")
    pretrained = zoo.load(s.base, progress=None)
    specs = pretrained.input_specs
    if len(specs) != 1 or len(specs[0].shape) != 4 or specs[0].shape[-1] != 3:
        raise FlaxjsError(f"the demo needs an RGB image model as its base; {s.base!r} takes "
                          f"{[list(x.shape) for x in specs]}")
    pretrained = pretrained.with_input_size(s.image_size)
    plan = ft.transfer_plan(pretrained)
    classes = list(CLASSES)
    model = (pretrained.truncate(plan.cut).freeze()
             .extend(K.classifier_head(len(classes)), key=jax.random.key(s.seed))
             .with_info(labels=classes))
    feature_shape = pretrained.truncate(plan.cut).output_spec().shape
    say(f"      {len(pretrained.layer_names)} layers, {_fmt_count(_count(pretrained.params))} "
        f"parameters; cut at {plan.cut!r} ({list(feature_shape[1:])} per "
        f"{s.image_size}x{s.image_size} image), frozen; new head: pool -> dropout -> "
        f"classifier ({len(classes)} classes)  [{lap('load'):.1f} s]")

    # 2. the data set
    say(f"[2/6] data: drawing {s.samples} images of {', '.join(classes)} (seed {s.seed}) ...")
    images, labels = draw_shapes(s.samples, s.image_size, seed=s.seed, classes=classes)
    (x_img, y), (xv_img, yv) = split(images, labels, s.held_out)
    say(f"      {len(y)} for training, {len(yv)} held out  [{lap('data'):.1f} s]")

    # 3. the frozen part runs once
    frozen = model.truncate(plan.split)
    say(f"[3/6] features: the frozen layers up to {plan.split!r} run once on every image ...")
    f_train = frozen.predict(x_img, batch_size=64, mesh=mesh, prepare=model.preprocess)
    f_val = frozen.predict(xv_img, batch_size=64, mesh=mesh, prepare=model.preprocess)
    say(f"      {list(f_train.shape[1:])} per image  [{lap('features'):.1f} s]")

    # 4. train the head
    trainable = model.tail(plan.split)
    state = ft.TrainState.create(trainable, optax.adam(s.learning_rate), seed=s.seed)
    n_train, n_total = count(model.params, ft.trainable_mask(model))
    say(f"[4/6] head: {s.epochs} epochs, adam({s.learning_rate:g}), batch {s.batch_size}, "
        f"{n_train:,} of {_fmt_count(n_total)} parameters train")
    total_epochs = s.epochs + (s.fine_tune_epochs if plan.top else 0)
    printer = _EpochPrinter(total_epochs, 0, say)

    def fit(state: ft.TrainState, epochs: int, seed: int) -> tuple[ft.TrainState, Any]:
        return ft.fit(state, f_train, y, epochs=epochs, seed=seed, callbacks=[printer],
                      batch_size=s.batch_size, loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], validation_data=(f_val, yv), verbose=0,
                      mesh=mesh)

    state, history = fit(state, s.epochs, s.seed)
    curves = {k: list(v) for k, v in history.history.items()}
    head_accuracy = curves["val_accuracy"][-1]
    lap("head")

    # 5. fine-tune the top block with a lower learning rate
    fine_tune_start = None
    if plan.top and s.fine_tune_epochs > 0:
        tuned = trainable.with_variables(state.variables).unfreeze(list(plan.top))
        base_lr = s.fine_tune_learning_rate
        steps = s.fine_tune_epochs * math.ceil(len(y) / s.batch_size)
        lrs = {"classifier": optax.cosine_decay_schedule(10 * base_lr, steps),
               **{name: optax.cosine_decay_schedule(base_lr, steps) for name in plan.top}}
        state = ft.TrainState.create(tuned, ft.discriminative(lrs), trainable=lrs,
                                     seed=s.seed + 1)
        n_tuned, _ = count(state.params, state.mask)
        names = ", ".join(plan.top[:4]) + (f" and {len(plan.top) - 4} more"
                                            if len(plan.top) > 4 else "")
        say(f"[5/6] fine-tune: {s.fine_tune_epochs} epochs, {names} unfrozen "
            f"(BatchNormalization stays frozen); adam, lr {base_lr:g} there, "
            f"{10 * base_lr:g} for the head, cosine decay; {n_tuned:,} parameters train")
        printer.offset = s.epochs
        fine_tune_start = s.epochs
        state, history = fit(state, s.fine_tune_epochs, s.seed + 1)
        for k, v in history.history.items():
            curves[k].extend(v)
        lap("fine_tune")
    else:
        say("[5/6] fine-tune: skipped (no known top block for this cut, or 0 epochs)")
        timings["fine_tune"] = 0.0

    # 6. the trained head back on the full model: raw images in, classes out
    final = model.with_variables(state.variables, merge=True)
    scores = final.predict(xv_img, batch_size=64, prepare=final.preprocess)
    acc = float(np.mean(np.argmax(scores, axis=-1) == yv))
    say(f"[6/6] final model (base + trained head) on the {len(yv)} held-out images: "
        f"accuracy {acc:.3f}  [{lap('evaluate'):.1f} s]")
    out = Path(s.out) if s.out else None
    plot = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        plot = out / "training_curves.png"
        plot_history(plot, curves, fine_tune_start=fine_tune_start,
                     title=f"{s.base} cut at {plan.cut} + new head: {len(classes)} shapes")
        say(f"      training curves: {plot}")
    exported = None
    if s.export:
        from flaxjs.export import save
        exported = save(final, s.export, metadata={"labels": classes})
        say(f"      exported for TF.js: {exported}")
    lap("write")
    timings["total"] = time.perf_counter() - t_start
    say(f"held-out accuracy {acc:.3f} (head only: {head_accuracy:.3f}); total "
        f"{timings['total']:.1f} s (" + ", ".join(
            f"{k} {v:.1f}" for k, v in timings.items() if k != "total") + ")")
    result: dict[str, Any] = {
        "accuracy": acc, "head_accuracy": head_accuracy, "history": curves,
        "fine_tune_start": fine_tune_start, "epoch_seconds": printer.seconds,
        "timings": timings, "settings": dataclasses.asdict(s),
        "plan": dataclasses.asdict(plan), "classes": classes,
        "devices": [str(d) for d in devices],
        "plot": str(plot) if plot else None, "export": str(exported) if exported else None,
    }
    if out is not None:
        (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    result["model"] = final
    return result


if __name__ == "__main__":
    from flaxjs.cli import main
    sys.exit(main(["demo", *sys.argv[1:]]))
