"""Transfer learning end to end: the library behind ``flaxjs demo`` and the notebook.

A pretrained TF.js base from the zoo is cut at a feature layer (its card's first
suggested cut point) and frozen; a new Keras head (GlobalAveragePooling2D →
Dropout → Dense softmax) learns to tell apart shapes drawn with Pillow; then the
top block of the base is unfrozen and fine-tuned with a ten times lower learning
rate than the head (discriminative learning rates). Only the base's download
needs the network.

Speed on a CPU: the frozen layers compute the same thing every epoch, so their
output is computed once (feature caching, as in Keras's transfer-learning guide)
and the training steps run only what comes after it — the top block and the
head (:func:`tail`). The variables keep their Keras names throughout, so the
trained ones drop back into the full model for evaluation on raw images and
export (:func:`merge_variables`).

Example:
  >>> from flaxjs import demo
  >>> result = demo.run(quick=True, out="demo-out")  # doctest: +SKIP
  >>> result["accuracy"]  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from . import surgery
from .errors import FlaxjsError
from .topology.spec import InputSpec, LayerSpec

if TYPE_CHECKING:
    from jax.sharding import Mesh

    from .model import Model

#: the shapes of the data set, in label order.
CLASSES = ("circle", "square", "triangle", "star", "cross", "ring")

#: the default base: the zoo entry reachable from machines that see only package registries.
DEFAULT_BASE = "nsfwjs_mobilenet_v2"

#: feature layer → the layer before its top block (MobileNetV2, MobileNet v1, InceptionV3):
#: the frozen part ends there, and the layers in between can be fine-tuned.
TOP_BLOCK_STARTS = {
    "out_relu": "block_15_add",
    "conv_pw_13_relu": "conv_pw_12_relu",
    "mixed10": "mixed9",
}

#: layer classes kept frozen when the top block is fine-tuned: a BatchNormalization layer
#: that trains switches to batch statistics, which small batches of a new task would spoil
#: (Keras's fine-tuning guide keeps them in inference mode for the same reason).
KEEP_FROZEN = frozenset({"BatchNormalization"})


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


# ---------------------------------------------------------------- the data set
def _polygon(cx: float, cy: float, r: float, n: int, angle: float,
             inner: float | None = None) -> list[tuple[float, float]]:
    """A regular ``n``-gon (or an ``n``-pointed star when ``inner`` is a radius ratio)."""
    points = []
    steps = 2 * n if inner else n
    for k in range(steps):
        radius = r * (inner if inner and k % 2 else 1.0)
        a = angle + 2 * math.pi * k / steps
        points.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
    return points


def _colours(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A background and a foreground colour that differ enough to be seen."""
    while True:
        back, fore = rng.integers(0, 256, (2, 3))
        if np.abs(back.astype(int) - fore.astype(int)).sum() > 150:
            return tuple(int(v) for v in back), tuple(int(v) for v in fore)


def draw_shapes(n: int, size: int = 128, *, seed: int = 0,
                classes: Sequence[str] = CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images of shapes (the same number of each class, shuffled).

    Random colours, sizes, positions and rotations, plus a few thin lines of
    clutter; drawn at twice the size and downsampled (anti-aliased edges).

    Returns:
      ``(images uint8 [n, size, size, 3], labels int32 [n])`` — deterministic in ``seed``.
    """
    from PIL import Image, ImageDraw

    unknown = set(classes) - set(CLASSES)
    if unknown:
        raise ValueError(f"unknown shape classes {sorted(unknown)}; known: {', '.join(CLASSES)}")
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.int32) % len(classes)
    rng.shuffle(labels)
    images = np.empty((n, size, size, 3), np.uint8)
    big = 2 * size
    for i, label in enumerate(labels):
        back, fore = _colours(rng)
        image = Image.new("RGB", (big, big), back)
        pen = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(0, 4))):  # clutter
            x0, y0, x1, y1 = (float(v) for v in rng.uniform(0, big, 4))
            pen.line([x0, y0, x1, y1], fill=tuple(int(v) for v in rng.integers(0, 256, 3)),
                     width=int(rng.integers(1, 4)))
        r = float(rng.uniform(0.2, 0.4)) * big
        cx, cy = (float(v) for v in rng.uniform(r, big - r, 2))
        angle = float(rng.uniform(0, 2 * math.pi))
        shape = classes[label]
        if shape == "circle":
            pen.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fore)
        elif shape == "ring":
            pen.ellipse([cx - r, cy - r, cx + r, cy + r], outline=fore,
                        width=max(2, int(r * rng.uniform(0.2, 0.35))))
        elif shape == "square":
            pen.polygon(_polygon(cx, cy, r, 4, angle), fill=fore)
        elif shape == "triangle":
            pen.polygon(_polygon(cx, cy, r, 3, angle), fill=fore)
        elif shape == "star":
            pen.polygon(_polygon(cx, cy, r, 5, angle, inner=0.45), fill=fore)
        else:  # cross
            arm = r * float(rng.uniform(0.25, 0.4))
            c, s = math.cos(angle), math.sin(angle)
            for dx, dy in ((c, s), (-s, c)):
                pen.line([cx - r * dx, cy - r * dy, cx + r * dx, cy + r * dy], fill=fore,
                         width=int(2 * arm))
        images[i] = np.asarray(image.resize((size, size), Image.Resampling.LANCZOS))
    return images, labels


def split(x: np.ndarray, y: np.ndarray, held_out: float) -> tuple[tuple[Any, Any], ...]:
    """``((x_train, y_train), (x_held_out, y_held_out))``: the last ``held_out`` fraction."""
    n_val = max(1, int(round(len(x) * held_out)))
    return (x[:-n_val], y[:-n_val]), (x[-n_val:], y[-n_val:])


# ---------------------------------------------------------------- model surgery
def with_input_size(model: Model, height: int, width: int | None = None) -> Model:
    """The model declared for ``height × width`` images (the same variables).

    A fully convolutional base runs at any size; declaring it keeps ``summary()``,
    ``preprocess`` (which resizes to the declared size) and an export for TF.js
    (which checks input shapes) in line with the data the head is trained on.
    """
    width = height if width is None else width
    graph = model.graph
    if len(graph.inputs) != 1:
        raise ValueError(f"model {model.name!r} has {len(graph.inputs)} inputs; expected one")
    ref, spec = graph.inputs[0], graph.input_specs[0]
    if len(spec.shape) != 4:
        raise ValueError(f"model {model.name!r} does not take images (input {spec.shape})")
    shape = (spec.shape[0], height, width, spec.shape[3])
    layers = []
    for layer in graph.layers:
        if layer.name == ref.layer and layer.class_name == "InputLayer":
            config = dict(layer.config)
            for key in ("batch_input_shape", "batch_shape"):
                if key in config:
                    config[key] = list(shape)
            layer = dataclasses.replace(layer, config=config)
        layers.append(layer)
    graph = dataclasses.replace(graph, layers=tuple(layers),
                                input_specs=(dataclasses.replace(spec, shape=shape),))
    out = model.derive(graph)
    if model.preprocessing is not None:
        out.preprocessing = {**model.preprocessing, "size": [height, width]}
    return out


def output_spec(model: Model) -> jax.ShapeDtypeStruct:
    """Shape and dtype of the output for one input of the declared shape (batch 1), without
    computing anything."""
    specs = [jax.ShapeDtypeStruct((1, *s.shape[1:]), s.dtype) for s in model.input_specs]
    return jax.eval_shape(lambda *xs: model.apply(model.variables, *xs), *specs)


def tail(model: Model, layer: str) -> Model:
    """The part of ``model`` after ``layer``, as a model whose input is ``layer``'s output.

    ``layer`` must be a top-level layer through which everything after it flows (no
    connection skips over it). The variables keep their names, so
    :func:`merge_variables` puts trained ones back into ``model``.
    """
    graph = model.graph
    if layer not in graph.layer_map:
        raise ValueError(f"{layer!r} is not a top-level layer of model {model.name!r}")
    out = output_spec(model.truncate(layer))
    shape, dtype = (None, *out.shape[1:]), str(out.dtype)
    source = LayerSpec("InputLayer", layer, {"name": layer, "batch_input_shape": list(shape),
                                              "dtype": dtype})
    # later layers read the ref of the layer's first output (node 1 for a nested model)
    ref = surgery.first_output(graph.layer_map[layer])
    rewired = dataclasses.replace(
        graph, layers=tuple(source if s.name == layer else s for s in graph.layers),
        inputs=(ref,), input_specs=(InputSpec(layer, shape, dtype),))
    pruned = surgery.prune(rewired)
    stray = [s.name for s in pruned.layers if s.class_name == "InputLayer" and s.name != layer]
    if stray or list(pruned.inputs) != [ref]:
        raise ValueError(f"cannot split model {model.name!r} at {layer!r}: later layers also "
                         "read earlier ones")
    variables = {c: {k: v for k, v in tree.items() if k != layer}
                 for c, tree in model.variables.items()}
    return model.derive(pruned, variables)


def merge_variables(model: Model, variables: Mapping[str, Any]) -> Model:
    """``model`` with some layers' variables replaced (e.g. those trained on a :func:`tail`)."""
    merged = {c: dict(tree) for c, tree in model.variables.items()}
    for collection, tree in jax.device_get(dict(variables)).items():
        merged.setdefault(collection, {}).update(tree)
    return model.derive(model.graph, jax.device_put(merged))


@dataclasses.dataclass(frozen=True)
class Plan:
    """Where to cut a base, what stays frozen, what the fine-tuning stage unfreezes.

    Attributes:
      cut: the feature layer the head sits on.
      split: the last layer whose output is cached (the frozen part ends there).
      top: the layers between ``split`` and ``cut`` that fine-tuning trains
        (BatchNormalization excluded); empty when the base has no known top block.
    """

    cut: str
    split: str
    top: tuple[str, ...]


def plan_for(model: Model, cut: str | None = None) -> Plan:
    """The cut (default: the zoo card's first suggested cut point) and the top block."""
    if cut is None:
        points = list((getattr(model.card, "cut_points", None) or {}))
        if not points:
            raise FlaxjsError(f"model {model.name!r} has no suggested cut point in its zoo card; "
                              "pick a feature layer yourself")
        cut = points[0]
    base = model.truncate(cut)
    start = TOP_BLOCK_STARTS.get(cut)
    if start is None or start not in base.graph.layer_map:
        # no known top block (or it sits in a nested model): cache the whole cut base
        return Plan(cut, base.graph.outputs[0].layer, ())
    lower = set(model.truncate(start).params)
    top = tuple(s.name for s in base.graph.layers
                if s.name in base.params and s.name not in lower
                and s.class_name not in KEEP_FROZEN)
    return Plan(cut, start, top)


def head(num_classes: int, *, dropout: float = 0.2) -> list[LayerSpec]:
    """The new head: GlobalAveragePooling2D → Dropout → Dense softmax (Keras layers,
    exportable to TF.js)."""
    from . import keras as K
    return [K.GlobalAveragePooling2D(name="pool"), K.Dropout(dropout, name="dropout"),
            K.Dense(num_classes, activation="softmax", name="classifier")]


# ---------------------------------------------------------------- running
def features(model: Model, x: np.ndarray, *, batch_size: int = 64, mesh: Mesh | None = None,
             prepare: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """``model``'s outputs for ``x``, in batches, as one numpy array.

    With a mesh of several devices each batch is sharded over them (the variables
    replicated); otherwise the model's own jitted inference runs (on CPU it splits
    batches into the micro-batches XLA:CPU runs fastest). ``prepare`` (e.g.
    ``model.preprocess``) is applied to each batch first, so raw uint8 images never
    exist all at once as float32.
    """
    from .finetune import parallel

    prepare = prepare or (lambda batch: batch)
    if mesh is None or mesh.size == 1:
        run = model
    else:
        variables = parallel.replicate(model.variables, mesh)
        apply = jax.jit(lambda v, batch: model.apply(v, batch))
        batch_size = max(mesh.size, batch_size - batch_size % mesh.size)

        def run(batch):
            return apply(variables, parallel.shard_batch(batch, mesh))

    return np.concatenate([np.asarray(run(prepare(x[i:i + batch_size])))
                           for i in range(0, len(x), batch_size)])


def accuracy(model: Model, x: np.ndarray, y: np.ndarray, *, batch_size: int = 64,
             prepare: Callable[[np.ndarray], np.ndarray] | None = None) -> float:
    """Top-1 accuracy of ``model`` (class scores out) on ``x``."""
    scores = features(model, x, batch_size=batch_size, prepare=prepare)
    return float(np.mean(np.argmax(scores, axis=-1) == y))


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
      "plan", "plot", "export", ...}`` — also written to ``<out>/results.json``.
    """
    import optax

    from . import finetune as ft
    from . import zoo
    from .finetune.masks import count

    try:
        import PIL  # noqa: F401
    except ImportError:
        raise FlaxjsError('the demo draws its data set with Pillow: pip install "flaxjs[demo]"'
                          ) from None
    if settings is None:
        settings = Settings.quick() if quick else Settings()
    settings = dataclasses.replace(settings, **changes)
    s = settings
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
    pretrained = with_input_size(pretrained, s.image_size)
    plan = plan_for(pretrained)
    classes = list(CLASSES)
    model = pretrained.truncate(plan.cut).freeze().extend(head(len(classes)),
                                                          key=jax.random.key(s.seed))
    model.labels = classes
    feature_shape = output_spec(pretrained.truncate(plan.cut)).shape
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
    f_train = features(frozen, x_img, mesh=mesh, prepare=model.preprocess)
    f_val = features(frozen, xv_img, mesh=mesh, prepare=model.preprocess)
    say(f"      {list(f_train.shape[1:])} per image  [{lap('features'):.1f} s]")

    # 4. train the head
    trainable = tail(model, plan.split)
    state = ft.TrainState.create(trainable, optax.adam(s.learning_rate), seed=s.seed)
    n_train, n_total = count(model.params, ft.trainable_mask(model))
    say(f"[4/6] head: {s.epochs} epochs, adam({s.learning_rate:g}), batch {s.batch_size}, "
        f"{n_train:,} of {_fmt_count(n_total)} parameters train")
    total_epochs = s.epochs + (s.fine_tune_epochs if plan.top else 0)
    printer = _EpochPrinter(total_epochs, 0, say)
    fit_args = dict(batch_size=s.batch_size, loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"], validation_data=(f_val, yv), progress=False,
                    mesh=mesh)
    state, history = ft.fit(state, f_train, y, epochs=s.epochs, seed=s.seed,
                            callbacks=[printer], **fit_args)
    curves = {k: list(v) for k, v in history.history.items()}
    head_accuracy = curves["val_accuracy"][-1]
    lap("head")

    # 5. fine-tune the top block with a lower learning rate
    fine_tune_start = None
    if plan.top and s.fine_tune_epochs > 0:
        tuned = ft.updated_model(trainable, state).unfreeze(list(plan.top))
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
        state, history = ft.fit(state, f_train, y, epochs=s.fine_tune_epochs, seed=s.seed + 1,
                                callbacks=[printer], **fit_args)
        for k, v in history.history.items():
            curves[k].extend(v)
        lap("fine_tune")
    else:
        say("[5/6] fine-tune: skipped (no known top block for this cut, or 0 epochs)")
        timings["fine_tune"] = 0.0

    # 6. the trained head back on the full model: raw images in, classes out
    final = merge_variables(model, state.variables)
    final.labels = classes
    acc = accuracy(final, xv_img, yv, prepare=final.preprocess)
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
        from .export import save
        exported = save(final, s.export, metadata={"labels": classes})
        say(f"      exported for TF.js: {exported}")
    lap("write")
    timings["total"] = time.perf_counter() - t_start
    say(f"held-out accuracy {acc:.3f} (head only: {head_accuracy:.3f}); total "
        f"{timings['total']:.1f} s (" + ", ".join(
            f"{k} {v:.1f}" for k, v in timings.items() if k != "total") + ")")
    result = {
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


# ---------------------------------------------------------------- the plot
_BLUE, _ORANGE, _GREY, _INK = (31, 119, 180), (255, 127, 14), (150, 150, 150), (30, 30, 30)


def _font(size: int):
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


def _ticks(low: float, high: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering ``[low, high]``."""
    span = max(high - low, 1e-9)
    raw = span / n
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    return [first + i * step for i in range(int(math.ceil((high - first) / step - 1e-9)) + 1)]


def _dashed(pen, start: tuple[float, float], end: tuple[float, float], fill, dash: int = 6):
    (x0, y0), (x1, y1) = start, end
    length = math.hypot(x1 - x0, y1 - y0)
    for a in range(0, int(length), 2 * dash):
        b = min(a + dash, length)
        pen.line([x0 + (x1 - x0) * a / length, y0 + (y1 - y0) * a / length,
                  x0 + (x1 - x0) * b / length, y0 + (y1 - y0) * b / length], fill=fill, width=1)


def _panel(pen, box: tuple[int, int, int, int], series: Mapping[str, tuple[list[float], Any]],
           title: str, fine_tune_start: int | None, fonts: tuple[Any, Any],
           unit_range: bool) -> None:
    left, top, right, bottom = box
    font, small = fonts
    values = [v for ys, _ in series.values() for v in ys if math.isfinite(v)]
    n = max(len(ys) for ys, _ in series.values())
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if unit_range:
        low, high = min(low, 1.0), 1.0
    ticks = _ticks(low if unit_range else 0.0, high)
    y0, y1 = ticks[0], ticks[-1]
    if unit_range:
        y0, y1 = max(0.0, y0), min(1.0, max(y1, high))
        ticks = [t for t in ticks if y0 - 1e-9 <= t <= y1 + 1e-9]

    def px(i: float) -> float:
        return left + (right - left) * ((i - 1) / max(n - 1, 1))

    def py(v: float) -> float:
        return bottom - (bottom - top) * (v - y0) / max(y1 - y0, 1e-9)

    pen.text(((left + right) / 2, top - 26), title, fill=_INK, font=font, anchor="mm")
    for t in ticks:
        pen.line([left, py(t), right, py(t)], fill=(230, 230, 230))
        pen.text((left - 6, py(t)), f"{t:g}", fill=_INK, font=small, anchor="rm")
    step = max(1, math.ceil(n / 10))
    for i in range(1, n + 1, step):
        pen.line([px(i), bottom, px(i), bottom + 4], fill=_INK)
        pen.text((px(i), bottom + 8), str(i), fill=_INK, font=small, anchor="mt")
    pen.text(((left + right) / 2, bottom + 28), "epoch", fill=_INK, font=small, anchor="mt")
    pen.rectangle([left, top, right, bottom], outline=_INK)
    if fine_tune_start is not None and fine_tune_start < n:
        x = (px(fine_tune_start) + px(fine_tune_start + 1)) / 2
        _dashed(pen, (x, top), (x, bottom), _GREY)
        pen.text((x, top - 4), "fine-tune", fill=_GREY, font=small, anchor="mb")
    for ys, colour in series.values():
        points = [(px(i + 1), py(v)) for i, v in enumerate(ys) if math.isfinite(v)]
        if len(points) > 1:
            pen.line(points, fill=colour, width=2)
        for x, y in points:
            pen.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
    legend_y = bottom - 18 * len(series) - 6 if unit_range else top + 8
    for k, (label, (_, colour)) in enumerate(series.items()):
        y = legend_y + 18 * k
        pen.line([right - 150, y + 7, right - 126, y + 7], fill=colour, width=2)
        pen.text((right - 120, y), label, fill=_INK, font=small)


def plot_history(path: str | os.PathLike[str], history: Mapping[str, Sequence[float]], *,
                 fine_tune_start: int | None = None, title: str = "") -> Path:
    """A PNG of the loss and accuracy curves (training and held out), drawn with Pillow.

    Args:
      path: the file to write.
      history: ``{"loss", "accuracy", "val_loss", "val_accuracy"}`` lists per epoch
        (:attr:`flaxjs.finetune.History.history`); missing ones are left out.
      fine_tune_start: the number of epochs before fine-tuning began (a dashed line).
      title: a line above both panels.
    """
    from PIL import Image, ImageDraw

    width, height = 1100, 460
    image = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(image)
    fonts = (_font(16), _font(13))
    if title:
        pen.text((width / 2, 16), title, fill=_INK, font=fonts[0], anchor="mm")
    for k, metric in enumerate(("loss", "accuracy")):
        series = {name: (list(history[key]), colour)
                  for name, key, colour in (("training", metric, _BLUE),
                                            ("held out", f"val_{metric}", _ORANGE))
                  if history.get(key)}
        if not series:
            continue
        left = 70 + k * (width // 2)
        _panel(pen, (left, 80, left + width // 2 - 110, height - 60), series, metric,
               fine_tune_start, fonts, unit_range=metric == "accuracy")
    path = Path(path)
    image.save(path)
    return path
