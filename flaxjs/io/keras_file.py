"""Keras's own files as model sources: the Keras 3 ``.keras`` zip and the HDF5 ``.h5``.

Both become the :class:`~flaxjs.io.source.Artifacts` a TF.js folder gives: the Keras
config is the ``modelTopology`` the topology parser reads (as the TF.js converter writes
it), and the weights are named arrays that :mod:`flaxjs.matching` assigns to variables:

* ``.h5`` (tf-keras ``model.save("x.h5")``, Keras 3's legacy HDF5): the ``model_config``
  attribute, and ``model_weights/<layer>/<weight name>`` named by the layer groups'
  ``weight_names``, with ``:0`` dropped as the TF.js converter does.
* ``.keras`` (or the folder ``model.save(path, zipped=False)`` writes): ``config.json``,
  ``metadata.json`` (the Keras version) and ``model.weights.h5``, whose variables are
  stored by position, ``layers/<key>/vars/<i>``, under keys made from class names
  (``layers/lstm`` may hold layer ``lstm_1``). They are
  named ``<layer>/<sublayer>.../vars/<i>`` with the real layer names: the ``name``
  attribute Keras writes on each ``vars`` group, else the layer the config lists at that
  key, or for a sublayer the scope its class's registration gives its attribute
  (:class:`~flaxjs.layers.traits.KerasFileLayout`: ``_query_dense`` → ``query``), so
  nested models, RNN cells, ``Bidirectional`` halves and attention projections are told
  apart. A wrapper's own copies of its layer's variables are left out (the rest keep
  their order, numbered from 0).

Nothing in the file is executed (Lambda payloads stay refused by the layer converters),
zip members are read by name only, size-checked, into memory (nothing is extracted), and
HDF5 links or datasets that point into other files are refused.
h5py is an optional dependency (``pip install "flaxjs[keras]"``).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ..errors import ModelFormatError, SourceError, UnsafePathError, WeightsError
from ..hostmem import aligned_empty, frozen
from ..keras import keras_name
from ..layers import registry
from ..layers.traits import KerasFileLayout
from ..topology.spec import MODEL_CLASSES
from . import localfiles, sniff

#: the largest ``config.json``/``metadata.json`` read from a ``.keras`` zip.
MAX_JSON_BYTES = 64 * 2**20
#: the largest ``model.weights.h5`` read from a ``.keras`` zip (it is held in memory).
MAX_WEIGHTS_BYTES = 16 * 2**30

METADATA_MEMBER = "metadata.json"
CONFIG_MEMBER, WEIGHTS_MEMBER = sniff.KERAS_CONFIG_MEMBER, sniff.KERAS_WEIGHTS_MEMBER

#: class names of TF 2.0-era files that the TF.js converter renames (``translate_class_names``).
_CLASS_ALIASES = {"BatchNormalizationV1": "BatchNormalization", "UnifiedGRU": "GRU",
                  "UnifiedLSTM": "LSTM"}


def h5py_module() -> Any:
    """The h5py module, or an error saying how to install it."""
    try:
        import h5py
    except ImportError:
        raise SourceError('reading Keras .keras and .h5 files needs h5py: '
                          'pip install "flaxjs[keras]"') from None
    return h5py


def open_h5(data: bytes | str, location: str) -> Any:
    """An h5py File over bytes in memory or a path, read-only, without links to other files."""
    h5py = h5py_module()
    try:
        if not isinstance(data, bytes):
            f = h5py.File(data, "r")
        else:
            image = getattr(h5py.h5f, "open_file_image", None)  # HDF5's in-memory file driver
            f = h5py.File(image(data) if image else io.BytesIO(data), "r")
    except (OSError, ValueError) as err:
        raise ModelFormatError(f"{location}: not a readable HDF5 file ({err})") from None
    try:
        _refuse_outside_links(f, location)
    except BaseException:
        f.close()
        raise
    return f


def _refuse_outside_links(f: Any, location: str) -> None:
    """HDF5 external (or user-defined) links would make flaxjs read files the model names,
    as weight paths that leave the model's folder would; :func:`_read` refuses datasets
    whose data lies in other files."""
    h5py = h5py_module()
    found: list[str] = []

    def visit(name: bytes, info: Any) -> int | None:
        if info.type not in (h5py.h5l.TYPE_HARD, h5py.h5l.TYPE_SOFT):
            found.append(name.decode("utf-8", "replace"))
            return 1  # stops the walk
        return None

    f.id.links.visit(visit, info=True)
    if found:
        raise UnsafePathError(f"{location}: /{found[0]} links to another file; flaxjs reads "
                              "weights from the model file only")


# ---------------------------------------------------------------------------- .h5 (Keras 2)
def read_h5(data: bytes | str, location: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(model_json, weights)`` of a Keras ``.h5`` model file (path or bytes)."""
    with open_h5(data, location) as f:
        if "model_config" not in f.attrs:
            raise ModelFormatError(
                f"{location}: an HDF5 file without a 'model_config' attribute: Keras weights "
                "alone (save_weights), not a model. Load the file model.save() wrote "
                "(.keras or .h5), which holds the architecture too")
        config = _json_attr(f.attrs["model_config"], "model_config", location)
        keras_version = _text(f.attrs.get("keras_version", "")) or "2"
        group = f.get("model_weights", f)
        weights: dict[str, np.ndarray] = {}
        for layer in _layer_names(group):
            sub = _child(group, layer, location)
            for name, dataset in _named_datasets(sub, location):
                weights[_normal(name)] = _read(dataset, name, location)
        backend = _text(f.attrs.get("backend", "")) or None
    return _model_json(config, keras_version, backend), weights


def _layer_names(group: Any) -> list[str]:
    names = group.attrs.get("layer_names")
    return [_text(n) for n in names] if names is not None else list(group)


def _named_datasets(group: Any, location: str) -> Iterator[tuple[str, Any]]:
    """A layer group's weights in ``weight_names`` order (the TF.js converter's walk)."""
    if "weight_names" in group.attrs:
        for raw in group.attrs["weight_names"]:
            name = _text(raw)
            yield name, _child(group, name, location)
        return
    if not hasattr(group, "keys"):
        raise WeightsError(f"{location}: weight {group.name} is not listed in a "
                           "'weight_names' attribute, so its name is unknown")
    for key in group:
        yield from _named_datasets(_child(group, key, location), location)


def _child(group: Any, path: str, location: str) -> Any:
    node = group.get(path)
    if node is None:
        raise WeightsError(f"{location}: {group.name}/{path} is named by the file but does "
                           "not exist")
    return node


def _normal(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


# ---------------------------------------------------------------------------- .keras (Keras 3)
def read_keras(source: bytes | str, location: str
               ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(model_json, weights)`` of a Keras 3 ``.keras`` zip (path or bytes), or of the
    folder ``model.save(path, zipped=False)`` writes."""
    if isinstance(source, str) and os.path.isdir(source):
        return _read_keras_members(lambda name, limit: _file(source, name, limit, location),
                                   lambda: os.listdir(source), location)
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as z:
            return _read_keras_members(lambda name, limit: _member(z, name, limit, location),
                                       z.namelist, location)
    except zipfile.BadZipFile as err:
        raise ModelFormatError(f"{location}: not a readable zip (.keras) file ({err})") from None


def _read_keras_members(read: Callable[[str, int], bytes | None],
                        listing: Callable[[], list[str]], location: str
                        ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    found = {}
    for name, limit in ((CONFIG_MEMBER, MAX_JSON_BYTES), (WEIGHTS_MEMBER, MAX_WEIGHTS_BYTES)):
        data = read(name, limit)
        if data is None:
            names = sorted(listing())
            if any(n.rsplit("/", 1)[-1] == "model.json" for n in names):
                raise ModelFormatError(f"{location}: this zip holds a TF.js model (model.json), "
                                       "not a Keras model: unzip it and load its folder")
            members = ", ".join(names[:10]) or "none"
            raise ModelFormatError(
                f"{location}: no {name} here (members: {members}); a Keras 3 .keras file "
                f"holds {CONFIG_MEMBER} and {WEIGHTS_MEMBER}: save the model with "
                "model.save('x.keras')")
        found[name] = data
    config = _json_attr(found[CONFIG_MEMBER], CONFIG_MEMBER, location)
    metadata_bytes = read(METADATA_MEMBER, MAX_JSON_BYTES)
    metadata = _json_attr(metadata_bytes, METADATA_MEMBER, location) if metadata_bytes else {}
    keras_version = str(metadata.get("keras_version") or "3")
    with open_h5(found[WEIGHTS_MEMBER], f"{location}:{WEIGHTS_MEMBER}") as f:
        weights = keras3_weights(f, config, location)
    return _model_json(config, keras_version, None), weights


def _file(folder: str, name: str, limit: int, location: str) -> bytes | None:
    """One file of an unzipped ``.keras`` folder by exact name, at most ``limit`` bytes."""
    path = os.path.join(folder, name)
    if not os.path.lexists(path):
        return None
    _check_size(name, localfiles.size_inside(folder, path, what=name), limit, location)
    return localfiles.read_inside(folder, path, what=name, limit=limit)


def _member(z: zipfile.ZipFile, name: str, limit: int, location: str) -> bytes | None:
    """One member's bytes by exact name (``None`` if absent), at most ``limit`` bytes."""
    try:
        info = z.getinfo(name)
    except KeyError:
        return None
    _check_size(name, info.file_size, limit, location)
    try:
        with z.open(info) as member:
            data = member.read(limit + 1)
    except (RuntimeError, zipfile.BadZipFile, NotImplementedError, OSError) as err:
        raise ModelFormatError(f"{location}: cannot read {name} from the zip ({err})") from None
    if len(data) > limit:
        raise ModelFormatError(f"{location}: {name} unpacks to over {limit} bytes")
    return data


def _check_size(name: str, size: int, limit: int, location: str) -> None:
    if size > limit:
        raise ModelFormatError(f"{location}: {name} is {size} bytes, over the {limit}-byte "
                               "limit flaxjs reads")


def keras3_weights(f: Any, config: Mapping[str, Any], location: str
                   ) -> dict[str, np.ndarray]:
    """The variables of a ``model.weights.h5``, named ``<layer>/<sublayer>.../vars/<i>``."""
    out: dict[str, np.ndarray] = {}
    _walk_model(f, _entry_config(config), str(config.get("class_name")), [], out, location)
    return out


def _walk_model(group: Any, config: Any, class_name: str, chain: list[str],
                out: dict[str, np.ndarray], location: str) -> None:
    """A model's ``layers`` container: each key → the layer the config lists there."""
    if "layers" not in group:
        return
    container = group["layers"]
    entries = dict(_container_keys(class_name, config))
    for key in container:
        sub = container[key]
        entry = entries.get(key, {})
        name = _saved_name(sub) or str(_entry_config(entry).get("name") or key)
        class_name = str(entry.get("class_name", ""))
        _own_vars(sub, [*chain, name], _layout(class_name), out, location)
        if class_name in MODEL_CLASSES:
            _walk_model(sub, _entry_config(entry), class_name, [*chain, name], out, location)
        else:
            _walk_children(sub, [*chain, name], entry, entry, out, location)


def _walk_children(group: Any, chain: list[str], entry: Mapping[str, Any], owner: Any,
                   out: dict[str, np.ndarray], location: str) -> None:
    """A layer's sub-objects (RNN cells, Bidirectional halves, attention projections...), in
    Keras's creation order where the file's alphabetical order loses it: the order of the
    layer config's list for a list of sub-layers (``StackedRNNCells`` cells), and a
    ``Bidirectional``'s forward half first. (Weights matched by order need it.)
    ``owner`` is the config entry of the object ``group`` holds, when the config has it."""
    keys = [k for k in group if k != "vars"]
    if "vars" not in group:  # a list or dict of sub-layers
        keys = _config_order(keys, entry)
    layout = _layout(owner.get("class_name")) if isinstance(owner, Mapping) else None
    for key in sorted(keys, key=lambda k: k != "forward_layer"):
        sub = group[key]
        if not hasattr(sub, "keys"):
            continue
        attribute = key.lstrip("_")
        scope = layout.sublayers.get(attribute, key) if layout else key
        inner = [*chain, _saved_name(sub) or scope] if "vars" in sub else chain
        held = _held_entry(owner, attribute)
        _own_vars(sub, inner, _layout(held.get("class_name")), out, location)
        _walk_children(sub, inner, entry, held, out, location)


def _held_entry(owner: Any, attribute: str) -> Mapping[str, Any]:
    """The config entry of the sublayer a layer holds as ``attribute`` (a wrapper's
    ``layer``, a Bidirectional half, an RNN's ``cell``), or ``{}``."""
    config = _entry_config(owner)
    held = config.get("layer" if attribute == "forward_layer" else attribute) \
        if isinstance(config, Mapping) else None
    return held if isinstance(held, Mapping) and "class_name" in held else {}


def _layout(class_name: Any) -> KerasFileLayout:
    """Where the class's registration says a ``.keras`` file stores its variables."""
    reg = registry.registration(str(class_name)) if class_name else None
    return reg.keras_file if reg else KerasFileLayout()


def _config_order(keys: list[str], entry: Any) -> list[str]:
    """``keys`` in the order of the list in the layer's config that Keras's keys for the same
    container come from (``_container_keys``), else as they are."""
    if isinstance(entry, Mapping):
        values: Any = entry.values()
    elif isinstance(entry, list):
        if entry and all(isinstance(e, Mapping) and "class_name" in e for e in entry):
            listed = [k for k, _ in _container_keys("", entry)]
            if sorted(listed) == sorted(keys):
                return listed
        values = entry
    else:
        return keys
    for value in values:
        ordered = _config_order(keys, value)
        if ordered is not keys:
            return ordered
    return keys


def _own_vars(group: Any, chain: list[str], layout: KerasFileLayout,
              out: dict[str, np.ndarray], location: str) -> None:
    """The object's own variables, but the copies of its sublayers' ones the layout names,
    numbered from 0 in their stored order."""
    if "vars" not in group:
        return
    found = group["vars"]
    keys = sorted(found, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
    kept = [k for k in keys if not (k.isdigit() and int(k) in layout.repeated)]
    for i, key in enumerate(kept):
        name = "/".join([*chain, "vars", str(i) if key.isdigit() else key])
        out[name] = _read(found[key], name, location)


def _saved_name(group: Any) -> str | None:
    """The layer name Keras writes on a ``vars`` group (recent Keras 3 versions)."""
    if "vars" not in group:
        return None
    attrs = group["vars"].attrs
    return (_text(attrs["name"]) or None) if "name" in attrs else None


def _container_keys(class_name: str, config: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Keras's keys for a model's layers: snake_case Python class names (a registered
    alias's class: ``GroupQueryAttention`` is ``grouped_query_attention``) made unique with
    ``_1``... (``saving_lib._save_container_state``); a Sequential's InputLayer is not
    among them."""
    layers = config.get("layers", []) if isinstance(config, Mapping) else config
    used: dict[str, int] = {}
    for entry in layers or ():
        if not isinstance(entry, Mapping):
            continue
        if class_name == "Sequential" and entry.get("class_name") == "InputLayer":
            continue
        class_name = str(entry.get("class_name", ""))
        reg = registry.registration(class_name)
        key = keras_name(reg.class_name if reg else class_name)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        yield key, entry


def _entry_config(entry: Mapping[str, Any]) -> Any:
    return entry.get("config", {}) if isinstance(entry, Mapping) else {}


# ---------------------------------------------------------------------------- shared
def _model_json(config: dict[str, Any], keras_version: str, backend: str | None
                ) -> dict[str, Any]:
    """The model.json the TF.js converter would write (without its weightsManifest)."""
    _rename_classes(config)
    topology: dict[str, Any] = {"keras_version": keras_version, "model_config": config}
    if backend:
        topology["backend"] = backend
    return {"format": "layers-model", "generatedBy": f"keras v{keras_version}",
            "modelTopology": topology}


def _rename_classes(value: Any) -> None:
    if isinstance(value, dict):
        if value.get("class_name") in _CLASS_ALIASES:
            value["class_name"] = _CLASS_ALIASES[value["class_name"]]
        for item in value.values():
            _rename_classes(item)
    elif isinstance(value, list):
        for item in value:
            _rename_classes(item)


def _read(dataset: Any, name: str, location: str) -> np.ndarray:
    """A weight as the dtype TF.js would hold: float32, int32 or bool."""
    if not hasattr(dataset, "dtype"):
        raise WeightsError(f"{location}: weight {name!r} is a group, not an array")
    if dataset.is_virtual or dataset.external:
        raise UnsafePathError(f"{location}: weight {name!r} keeps its data in other files; "
                              "flaxjs reads weights from the model file only")
    dtype = np.dtype(dataset.dtype)
    if dataset.attrs.get("dtype") == "bfloat16":  # Keras stores bfloat16 bits as uint16
        import ml_dtypes
        return frozen(np.asarray(dataset[()]).view(ml_dtypes.bfloat16).astype(np.float32))
    target: np.dtype[Any]
    if dtype.kind == "f":
        target = np.dtype(np.float32)
    elif dtype.kind in "iu":
        target = np.dtype(np.int32)
    elif dtype.kind == "b":
        target = np.dtype(bool)
    else:
        raise WeightsError(f"{location}: weight {name!r} has dtype {dtype}, which TF.js "
                           "weights cannot hold (float, int or bool)")
    value = aligned_empty(dataset.shape, target)
    if value.size:
        if dtype == target:
            dataset.read_direct(value)
        else:
            value[...] = dataset[()]
    return frozen(value)


def _json_attr(raw: Any, what: str, location: str) -> dict[str, Any]:
    try:
        parsed = json.loads(_text(raw))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFormatError(f"{location}: {what} is not valid JSON ({err})") from None
    if not isinstance(parsed, dict):
        raise ModelFormatError(f"{location}: {what} must hold a JSON object")
    return parsed


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value[()])
    return str(value)
