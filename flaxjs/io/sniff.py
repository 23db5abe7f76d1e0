"""Tell model files apart by their first bytes, so a file that is not a model.json gets a
message saying what it is and what to do (instead of a ``UnicodeDecodeError``).

Keras files (HDF5 ``.h5``, zip ``.keras``) are loadable (:mod:`flaxjs.io.keras_file`);
SavedModel, TFLite and ONNX files are recognised and refused with the way forward.
"""

from __future__ import annotations

import os

from ..errors import ModelFormatError

#: the two files of a Keras 3 ``.keras`` zip (or of its unzipped folder) that flaxjs reads
KERAS_CONFIG_MEMBER = "config.json"
KERAS_WEIGHTS_MEMBER = "model.weights.h5"

#: bytes of a file's head that :func:`kind_of` needs (HDF5 may start after a user block).
HEAD_BYTES = 2056

HDF5 = "hdf5"
ZIP = "zip"
TFLITE = "tflite"
SAVED_MODEL = "saved_model"
ONNX = "onnx"
BINARY = "binary"

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_HDF5_OFFSETS = (0, 512, 1024, 2048)  # the format allows a user block of 512 * 2**k bytes


def kind_of(head: bytes, name: str = "") -> str | None:
    """The kind of file whose first bytes are ``head`` (``None``: text, maybe JSON).

    Args:
      head: at least the first :data:`HEAD_BYTES` bytes (or the whole file).
      name: the file name, which tells protocol buffers apart (``.pb`` vs ``.onnx``).
    """
    if any(head[o:o + 8] == _HDF5_SIGNATURE for o in _HDF5_OFFSETS):
        return HDF5
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return ZIP
    if head[4:8] == b"TFL3":  # the flatbuffer file identifier of TFLite models
        return TFLITE
    protobuf = head[:1] == b"\x08"  # field 1 as a varint: both formats start so; JSON never
    if not (protobuf or b"\x00" in head or not _is_text(head)):
        return None
    base = os.path.basename(name).lower()
    if base.endswith(".onnx"):
        return ONNX
    if base.endswith(".pb"):
        return SAVED_MODEL
    if protobuf and head[1:3] == b"\x01\x12":  # saved_model_schema_version 1, meta_graphs
        return SAVED_MODEL
    if protobuf and 3 <= head[1] <= 15:  # ModelProto.ir_version
        return ONNX
    return BINARY


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start >= len(head) - 3  # only a character cut at the end of the head
    return True


_ADVICE = {
    SAVED_MODEL: "a TensorFlow SavedModel or frozen GraphDef (protocol buffer). Convert it "
                 "with tensorflowjs_converter --input_format=tf_saved_model SAVED_MODEL_DIR "
                 "OUT_DIR and load OUT_DIR/model.json (a TF.js graph model); or load the .keras "
                 "or .h5 file it was made from",
    TFLITE: "a TensorFlow Lite model (flatbuffer), which flaxjs cannot read. Load the .keras "
            "or .h5 file or the TF.js model it was converted from",
    ONNX: "an ONNX model, which flaxjs cannot read. Convert it to TensorFlow (e.g. with "
          "onnx2tf) and then with tensorflowjs_converter, or load the Keras or TF.js model it "
          "was made from",
    BINARY: "a binary file, not a TF.js model.json (JSON text). Pass the model.json of a TF.js "
            "model, its folder, or a Keras .keras/.h5 file",
}


def refuse(kind: str, location: str) -> ModelFormatError:
    """The error for a file of ``kind`` that flaxjs cannot load."""
    return ModelFormatError(f"{location}: this is {_ADVICE[kind]}.")


def is_keras_folder(folder: str) -> bool:
    """Whether ``folder`` is a Keras 3 model saved with ``zipped=False``."""
    return all(os.path.isfile(os.path.join(folder, name))
               for name in (KERAS_CONFIG_MEMBER, KERAS_WEIGHTS_MEMBER))
