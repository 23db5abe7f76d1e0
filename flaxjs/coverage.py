"""The layer coverage table, generated from the converter registry so it cannot drift.

``python -m flaxjs.coverage > docs/coverage.md`` rewrites the published table; a
test checks that the committed file equals this output.
"""

from __future__ import annotations

from .layers import registry
from .topology.spec import MODEL_CLASSES

#: the 69 layer and model classes TF.js 4.22's npm package can deserialize
#: (``registerClass`` calls reachable from ``tfjs-layers``'s entry point).
TFJS_CLASSES = frozenset("""
Activation Add AlphaDropout Average AveragePooling1D AveragePooling2D AveragePooling3D
BatchNormalization Bidirectional CategoryEncoding CenterCrop Concatenate Conv1D Conv2D
Conv2DTranspose Conv3D Conv3DTranspose ConvLSTM2D ConvLSTM2DCell Cropping2D Dense
DepthwiseConv2D Dot Dropout ELU Embedding Flatten Functional GRU GRUCell GaussianDropout
GaussianNoise GlobalAveragePooling1D GlobalAveragePooling2D GlobalMaxPooling1D
GlobalMaxPooling2D InputLayer LSTM LSTMCell LayerNormalization Model LeakyReLU Masking
MaxPooling1D MaxPooling2D MaxPooling3D Maximum Minimum Multiply PReLU Permute RNN RandomWidth
ReLU RepeatVector Rescaling Reshape Resizing SeparableConv2D Sequential SimpleRNN
SimpleRNNCell Softmax SpatialDropout1D StackedRNNCells ThresholdedReLU TimeDistributed
UpSampling2D ZeroPadding2D
""".split())

_BUILT_IN = {
    "InputLayer": ("graph", "model inputs; shape from batch_input_shape / input_shape / Keras 3 "
                            "batch_shape, dtype from the config (never cast, as TF.js)"),
    "Sequential": ("graph", "list or {name, layers} config; nested as a sub-module"),
    "Model": ("graph", "functional graph; shared layers, nested models (node 0 is internal), "
                       "multiple inputs/outputs, Keras 3 call events"),
    "Functional": ("graph", "same as Model"),
}


def rows() -> list[tuple[str, str, str, str, str]]:
    """``(class, TF.js 4.22, flaxjs, family, notes)`` for every known class."""
    regs = {r.class_name: r for r in registry.registrations()}
    out = []
    for name in sorted(TFJS_CLASSES | set(regs) | MODEL_CLASSES):
        tfjs = "yes" if name in TFJS_CLASSES else "no"
        if name in _BUILT_IN:
            family, notes = _BUILT_IN[name]
            out.append((name, tfjs, "yes", family, notes))
        elif name in regs:
            reg = regs[name]
            out.append((name, tfjs, "yes", reg.family, reg.notes))
        else:
            out.append((name, tfjs, "**no**", "", "no converter yet"))
    return out


def markdown() -> str:
    """The coverage table as Markdown."""
    table = rows()
    supported_tfjs = sum(1 for r in table if r[1] == "yes" and r[2] == "yes")
    extra = sum(1 for r in table if r[1] == "no" and r[2] == "yes")
    lines = [
        "# Layer coverage",
        "",
        "Generated from the converter registry by `python -m flaxjs.coverage`; do not edit.",
        "",
        f"flaxjs converts {supported_tfjs} of the {len(TFJS_CLASSES)} classes TF.js 4.22 can "
        f"load, plus {extra} Keras classes TF.js cannot load. Semantics follow TF.js for files "
        "TF.js loads; where TF.js has an outright bug and the corpus records the Keras result, "
        "flaxjs produces the Keras result (said in the notes). `Lambda` layers are never "
        "converted: their Python bytecode is not executed; register a converter instead.",
        "",
        "| class | TF.js 4.22 | flaxjs | family | notes |",
        "|---|---|---|---|---|",
    ]
    for row in table:
        lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ")
                                        for cell in row) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
