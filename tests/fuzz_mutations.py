"""The fuzzer's cases: small corpus models, copied and damaged by seeded mutation families.

``make_case(seed, index, work)`` builds the same folder every time: a copy of one of
:data:`BASES` with one or two mutations of :data:`FAMILIES` applied (byte flips,
truncation, wrong-typed/huge/negative/NaN JSON values in the manifest, topology and
layer configs, symbolic links out of the folder, FIFOs, sparse huge files, deep
nesting, other encodings, damaged JS modules, ...). ``fuzz.py`` runs them.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import os
import random
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from corpus import CORPUS

#: small corpus models the cases start from (those present are used).
BASES = (
    "synthetic/dense_relu", "synthetic/weights_two_groups_sharded_quant",
    "synthetic/weights_sharded_1000_bytes", "synthetic/model_nested_sequential_in_functional",
    "synthetic/lstm_default", "synthetic/conv2d_valid_k3_relu", "synthetic/upsampling2d_nearest",
    "synthetic/average_pooling2d_same", "synthetic/embedding_mask_zero_lstm",
    "synthetic/quant_uint8_int32_weight", "synthetic/batchnorm_image_axis_last",
    "synthetic/model_multi_input_multi_output", "synthetic/dense_regularizers_constraints",
    "synthetic/separable_conv2d_valid", "synthetic/max_pooling2d_default",
    "synthetic/reshape_minus1", "synthetic/zero_padding2d_default",
    "synthetic/cropping2d_symmetric", "synthetic/conv1d_same_stride2",
    "synthetic/layernorm_default", "synthetic/prelu_full", "synthetic/time_distributed_dense",
    "synthetic/bidirectional_concat_lstm_seq", "synthetic/gru_default",
    "synthetic/resizing_bilinear", "synthetic/quant_float16_all",
    "wild/tictactoe-dense", "wild/browser-functional-batchnorm", "wild/color-lstm-tfjs062",
    "wild/sentiment-embedding-gru", "wild/conv-autoencoder-upsampling",
)
SPARSE_SIZE = 16 << 30
_EVIL = [None, True, False, -1, 0, 1, -(2**31), 2**31, 2**63, 10**30, 1e308, -1e308,
         math.nan, math.inf, -math.inf, 0.5, -0.5, "", "x", "float64", "string", "../x",
         "/etc/passwd", "\udcff", [], {}, [0], [[]], [None], {"a": 1}, [-1, -1],
         [2**31, 2**31], {"class_name": "x", "config": "y"}, "A" * 20000, list(range(300))]
_NAMES = ["Dense", "Conv2D", "InputLayer", "Sequential", "Model", "Functional", "LSTM",
          "Lambda", "float16", "uint8", "int32", "bool", "complex64", "channels_first",
          "same", "valid", "relu", "softmax", "glorot_uniform", "kernel", "bias"]


# ----------------------------------------------------------------------------- mutations


@dataclasses.dataclass
class Target:
    """A case's folders and random stream, handed to each mutation."""

    folder: Path  # the model folder given to flaxjs.load
    bait: Path  # outside it: files a loader must never open
    rng: random.Random

    @property
    def model_file(self) -> Path:
        return self.folder / "model.json"

    def shards(self) -> list[Path]:
        return sorted(p for p in self.folder.iterdir()
                      if p.is_file() and p.name not in ("model.json", "metadata.json"))

    def shard(self) -> Path | None:
        shards = self.shards()
        return self.rng.choice(shards) if shards else None

    def model(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self.model_file.read_bytes())
        except (OSError, ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None

    def write(self, model: dict[str, Any], deep: int = 0) -> None:
        """Write ``model``; the string ``"__DEEP__"`` becomes ``deep`` nested lists."""
        text = json.dumps(model)
        if deep:
            text = text.replace('"__DEEP__"', "[" * deep + "0" + "]" * deep, 1)
        self.model_file.write_text(text, encoding="utf-8")

    def evil(self, old: Any) -> Any:
        """A wrong value: of another type, huge, negative, NaN, or a plausible neighbour."""
        rng = self.rng
        if rng.random() < 0.4:
            if isinstance(old, bool):
                return not old
            if isinstance(old, int):
                return rng.choice([0, -1, -old, old + 1, old * 1000, 2**40, 10**20])
            if isinstance(old, float):
                return rng.choice([math.nan, math.inf, -old, old * 1e30, 0.0])
            if isinstance(old, str):
                return rng.choice(_NAMES)
            if isinstance(old, list) and old:
                return rng.choice([old[:-1], old + old[-1:], old[::-1], [old], old * 50])
        return rng.choice(_EVIL)


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _is_config(path: tuple) -> bool:
    """Whether ``path`` lies inside a layer's own ``config`` (not the topology around it)."""
    return any(path[i] in ("layers", "config") and isinstance(path[i + 1], int)
               and path[i + 2] == "config" for i in range(len(path) - 2))


def _region(path: tuple, region: str) -> bool:
    if not path:
        return region == "any"
    if region == "manifest":
        return path[0] == "weightsManifest"
    if region == "config":
        return path[0] == "modelTopology" and _is_config(path)
    if region == "topology":
        return path[0] == "modelTopology" and not _is_config(path)
    return True


def _set(root: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        root = root[key]
    root[path[-1]] = value


def _get(root: Any, path: tuple) -> Any:
    for key in path:
        root = root[key]
    return root


def _json_value(region: str) -> Callable[[Target], str]:
    def mutate(t: Target) -> str:
        model = t.model()
        candidates = [p for p in _paths(model) if p and _region(p, region)] if model else []
        if not candidates:
            return "no-op"
        path = t.rng.choice(candidates)
        assert model is not None
        new = t.evil(_get(model, path))
        _set(model, path, new)
        t.write(model)
        return f"{'/'.join(map(str, path))} = {_short(new)}"
    return mutate


def _delete_key(t: Target) -> str:
    model = t.model()
    candidates = [p for p in _paths(model) if p and isinstance(p[-1], str)] if model else []
    if not candidates:
        return "no-op"
    assert model is not None
    path = t.rng.choice(candidates)
    del _get(model, path[:-1])[path[-1]]
    t.write(model)
    return f"del {'/'.join(map(str, path))}"


def _swap_class(t: Target) -> str:
    model = t.model()
    paths = [p for p in _paths(model) if p and p[-1] == "class_name"] if model else []
    if not paths:
        return "no-op"
    assert model is not None
    path = t.rng.choice(paths)
    new = t.rng.choice(_NAMES)
    _set(model, path, new)
    t.write(model)
    return f"{'/'.join(map(str, path))} = {new}"


def _flip(path: Path, rng: random.Random) -> str:
    data = bytearray(path.read_bytes())
    if not data:
        return "empty"
    n = rng.randint(1, 8)
    for _ in range(n):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))
    return f"{n} bit(s) in {path.name}"


def _flip_model(t: Target) -> str:
    return _flip(t.model_file, t.rng)


def _flip_shard(t: Target) -> str:
    shard = t.shard()
    return _flip(shard, t.rng) if shard else "no-op"


def _truncate(path: Path, rng: random.Random) -> str:
    size = path.stat().st_size
    cut = rng.randint(0, max(size - 1, 0))
    os.truncate(path, cut)
    return f"{path.name} cut to {cut} of {size}"


def _truncate_model(t: Target) -> str:
    return _truncate(t.model_file, t.rng)


def _truncate_shard(t: Target) -> str:
    shard = t.shard()
    return _truncate(shard, t.rng) if shard else "no-op"


def _extend_shard(t: Target) -> str:
    shard = t.shard()
    if not shard:
        return "no-op"
    extra = t.rng.randint(1, 4096)
    with open(shard, "ab") as f:
        f.write(t.rng.randbytes(extra))
    return f"{extra} bytes appended to {shard.name}"


def _victim(t: Target) -> Path:
    """model.json, metadata.json or a shard: the file a file-level mutation replaces."""
    choice = t.rng.choice(["model", "metadata", "shard", "shard"])
    shard = t.shard()
    if choice == "shard" and shard:
        return shard
    return t.folder / ("metadata.json" if choice == "metadata" else "model.json")


def _symlink_out(t: Target) -> str:
    victim = _victim(t)
    bait = t.bait / victim.name
    if victim.exists():
        shutil.copyfile(victim, bait)  # the same content: only the link gives it away
    else:
        bait.write_text('{"labels": ["LEAKED"]}')
    victim.unlink(missing_ok=True)
    kind = t.rng.choice(["absolute", "relative", "dev"])
    target: Any = {"absolute": bait, "relative": Path("..") / t.bait.name / victim.name,
                   "dev": Path("/dev/zero")}[kind]
    os.symlink(target, victim)
    return f"{victim.name} -> {kind} link out"


def _subfolder_link(t: Target) -> str:
    """A manifest path through a folder link that points out of the model folder."""
    model = t.model()
    shard = t.shard()
    if not model or not shard or not isinstance(model.get("weightsManifest"), list):
        return "no-op"
    (t.bait / "sub").mkdir(exist_ok=True)
    shutil.copyfile(shard, t.bait / "sub" / shard.name)
    os.symlink(t.bait / "sub", t.folder / "sub")
    for group in model["weightsManifest"]:
        if isinstance(group, dict) and shard.name in group.get("paths", []):
            group["paths"] = [f"sub/{p}" if p == shard.name else p for p in group["paths"]]
    shard.unlink()
    t.write(model)
    return f"sub/{shard.name} through a folder link out"


def _js_shard_link(t: Target) -> str:
    shard = t.shard()
    if not shard:
        return "no-op"
    bait = t.bait / (shard.name + ".min.js")
    bait.write_text(f'module.exports="{base64.b64encode(shard.read_bytes()).decode()}"')
    shard.unlink()
    os.symlink(bait, str(shard) + ".min.js")
    return f"{shard.name}.min.js -> link out"


def _fifo(t: Target) -> str:
    victim = _victim(t)
    victim.unlink(missing_ok=True)
    os.mkfifo(victim)
    return f"{victim.name} is a FIFO"


def _folder_instead(t: Target) -> str:
    victim = _victim(t)
    victim.unlink(missing_ok=True)
    victim.mkdir()
    return f"{victim.name} is a folder"


def _sparse(t: Target) -> str:
    victim = _victim(t)
    if not victim.exists():
        victim.write_bytes(b'{"labels": []}')
    os.truncate(victim, SPARSE_SIZE)
    return f"{victim.name} sparse {SPARSE_SIZE >> 30} GiB"


def _deep(t: Target) -> str:
    depth = t.rng.choice([150, 500, 1000, 5000, 100000])
    if t.rng.random() < 0.3:
        (t.folder / "metadata.json").write_text("[" * depth + "]" * depth)
        return f"metadata.json nested {depth}"
    model = t.model()
    if not model:
        return "no-op"
    region = t.rng.choice(["manifest", "config", "topology", "any"])
    candidates = [p for p in _paths(model) if p and _region(p, region)] or [("extra",)]
    path = t.rng.choice(candidates)
    _set(model, path, "__DEEP__")
    t.write(model, deep=depth)
    return f"{'/'.join(map(str, path))} nested {depth}"


def _encoding(t: Target) -> str:
    data = t.model_file.read_bytes()
    how = t.rng.choice(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "invalid",
                        "bom"])
    if how == "invalid":
        at = t.rng.randrange(len(data) + 1)
        data = data[:at] + t.rng.choice([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x80"]) + data[at:]
    elif how == "bom":
        data = b"\xef\xbb\xbf" + data
    elif how == "latin-1":
        data = data.decode("utf-8").replace('"name"', '"n\u00e4me"', 1).encode("latin-1",
                                                                             "replace")
    else:
        data = data.decode("utf-8").encode(how)
    t.model_file.write_bytes(data)
    return f"model.json as {how}"


def _metadata(t: Target) -> str:
    content = t.rng.choice([
        t.rng.randbytes(64), b"[1, 2]", b'{"labels": 5}', b'{"labels": [[1], {"a": null}]}',
        b"\xff\xfe{\x00}\x00", b'{"labels": ["\xff"]}', b"1" * 5000, b"{" * 3000,
        b'{"vocabulary": {"x": NaN}}', b""])
    (t.folder / "metadata.json").write_bytes(content)
    return f"metadata.json = {_short(content)}"


def _manifest_shape_bomb(t: Target) -> str:
    model = t.model()
    entries = _entries(model)
    if not entries:
        return "no-op"
    entry = t.rng.choice(entries)
    entry["shape"] = t.rng.choice([[2**31] * 4, [10**6, 10**6], [1] * 65, [2**62, 4],
                                   [0], [3] * 40])
    assert model is not None
    t.write(model)
    return f"{entry.get('name')}.shape = {_short(entry['shape'])}"


def _manifest_dtype(t: Target) -> str:
    model = t.model()
    entries = _entries(model)
    if not entries:
        return "no-op"
    entry = t.rng.choice(entries)
    field = t.rng.choice(["dtype", "quantization"])
    entry[field] = t.rng.choice(
        ["string", "bool", "int32", "float16", "complex64", ["float32"], None, 5]
        if field == "dtype" else
        ["uint8", [1], {"dtype": "uint8"}, {"dtype": "uint8", "scale": "x", "min": 0},
         {"dtype": "uint8", "scale": math.nan, "min": 0}, {"dtype": ["uint8"]},
         {"dtype": "float16"}, {"dtype": "uint16", "scale": 1e308, "min": -1e308}])
    assert model is not None
    t.write(model)
    return f"{entry.get('name')}.{field} = {_short(entry[field])}"


def _manifest_paths(t: Target) -> str:
    model = t.model()
    groups = [g for g in (model or {}).get("weightsManifest") or []
              if isinstance(g, dict) and isinstance(g.get("paths"), list) and g["paths"]]
    if not groups:
        return "no-op"
    group = t.rng.choice(groups)
    new = t.rng.choice(["../outside/secret.bin", "/etc/passwd", "%2e%2e/outside/x.bin",
                        "sub/../../outside/x.bin", "", "a\x00b", "file:///etc/passwd",
                        group["paths"][0], "nonexistent.bin", "model.json", "."])
    group["paths"][t.rng.randrange(len(group["paths"]))] = new
    (t.bait / "secret.bin").write_bytes(b"\0" * 64)
    assert model is not None
    t.write(model)
    return f"a path = {new!r}"


def _string_weight(t: Target) -> str:
    """Re-encode one weight as a string tensor (valid or invalid UTF-8) in one new shard."""
    model = t.model()
    entries = _entries(model)
    stream = b"".join(p.read_bytes() for p in _manifest_files(t, model))
    if not entries or model is None or any(e.get("dtype") == "string" for e in entries):
        return "no-op"
    pos, chunks = 0, []
    for entry in entries:
        n = _nbytes(entry)
        chunks.append(stream[pos:pos + n])
        pos += n
    i = t.rng.randrange(len(entries))
    count = math.prod(entries[i].get("shape") or [])
    if count > 1 << 16:  # e.g. after manifest_shape_bomb: too many strings to write
        return "no-op"
    bad = t.rng.random() < 0.5
    words = [(b"\xff\xfe" if bad else b"w") + str(k).encode() for k in range(count)]
    chunks[i] = b"".join(len(w).to_bytes(4, "little") + w for w in words)
    entries[i]["dtype"] = "string"
    entries[i].pop("quantization", None)
    for p in t.shards():
        p.unlink()
    (t.folder / "weights.bin").write_bytes(b"".join(chunks))
    model["weightsManifest"] = [{"paths": ["weights.bin"], "weights": entries}]
    t.write(model)
    return f"{entries[i].get('name')} as {'invalid ' if bad else ''}strings"


def _js_model(t: Target) -> str:
    """model.json as a JS module (as npm packages ship it), perhaps damaged."""
    text = t.model_file.read_text(encoding="utf-8", errors="replace")
    damage = t.rng.choice(["none", "cut", "escape", "deep", "number", "flip"])
    if damage == "cut":
        text = text[:t.rng.randrange(len(text) + 1)]
    elif damage == "escape":
        at = text.find('"', t.rng.randrange(len(text)))
        text = text[:at + 1] + t.rng.choice(["\\u12", "\\x", "\\u", "\\uzzzz"]) + text[at + 1:]
    elif damage == "deep":
        text = text.replace("{", "{" + '"d":' + "[" * 3000 + "]" * 3000 + ",", 1)
    elif damage == "number":
        text = text.replace("[", "[" + "9" * 6000 + ",", 1)
    module = "module.exports=" + text
    t.model_file.unlink()
    js = t.folder / "model.min.js"
    js.write_text(module, encoding="utf-8")
    if damage == "flip":
        _flip(js, t.rng)
    return f"model.min.js ({damage})"


def _js_shard(t: Target) -> str:
    shard = t.shard()
    if not shard:
        return "no-op"
    text = f'module.exports="{base64.b64encode(shard.read_bytes()).decode()}"'
    damage = t.rng.choice(["none", "cut", "notb64", "object", "bytes"])
    data = text.encode()
    if damage == "cut":
        data = data[:t.rng.randrange(len(data) + 1)]
    elif damage == "notb64":
        data = data.replace(b'="', b'="!!', 1)
    elif damage == "object":
        data = b"module.exports={a:[1,2,{b:'x'}]}"
    elif damage == "bytes":
        data = data[:20] + b"\xff\xfe" + data[20:]
    shard.unlink()
    (shard.parent / (shard.name + ".min.js")).write_bytes(data)
    return f"{shard.name}.min.js ({damage})"


def _entries(model: dict[str, Any] | None) -> list[dict[str, Any]]:
    groups = (model or {}).get("weightsManifest")
    if not isinstance(groups, list):
        return []
    return [w for g in groups if isinstance(g, dict) and isinstance(g.get("weights"), list)
            for w in g["weights"] if isinstance(w, dict)]


def _manifest_files(t: Target, model: dict[str, Any] | None) -> list[Path]:
    groups = (model or {}).get("weightsManifest") or []
    return [t.folder / p for g in groups for p in g.get("paths", [])
            if (t.folder / p).is_file()]


def _nbytes(entry: dict[str, Any]) -> int:
    from flaxjs.weights.manifest import ELEMENT_BYTES

    quant = entry.get("quantization") or {}
    dtype = quant.get("dtype") or entry.get("dtype", "float32")
    return math.prod(entry.get("shape") or []) * ELEMENT_BYTES[dtype]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


#: every mutation family; the ``config``/``topology`` ones exercise layer-config validation.
FAMILIES: dict[str, Callable[[Target], str]] = {
    "flip_model_json": _flip_model,
    "flip_shard": _flip_shard,
    "truncate_model_json": _truncate_model,
    "truncate_shard": _truncate_shard,
    "extend_shard": _extend_shard,
    "manifest_value": _json_value("manifest"),
    "manifest_shape_bomb": _manifest_shape_bomb,
    "manifest_dtype": _manifest_dtype,
    "manifest_paths": _manifest_paths,
    "string_weight": _string_weight,
    "topology_value": _json_value("topology"),
    "config_value": _json_value("config"),
    "swap_class": _swap_class,
    "delete_key": _delete_key,
    "symlink_out": _symlink_out,
    "subfolder_link": _subfolder_link,
    "js_shard_link": _js_shard_link,
    "fifo": _fifo,
    "folder_instead_of_file": _folder_instead,
    "sparse_huge_file": _sparse,
    "deep_nesting": _deep,
    "encoding": _encoding,
    "metadata": _metadata,
    "js_model": _js_model,
    "js_shard": _js_shard,
}
#: families that replace a file by a link, FIFO, folder or sparse file (applied last).
FILE_FAMILIES = ("symlink_out", "subfolder_link", "js_shard_link", "fifo",
                 "folder_instead_of_file", "sparse_huge_file")
#: families aimed at layer configs and topology (validated on the ``configs`` side).
CONFIG_FAMILIES = ("topology_value", "config_value", "swap_class", "delete_key")


# ----------------------------------------------------------------------------- cases


@dataclasses.dataclass(frozen=True)
class Case:
    index: int
    base: str
    mutations: tuple[str, ...]  # "family: what it did"
    folder: Path

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(m.split(":", 1)[0] for m in self.mutations)


def available_bases() -> list[str]:
    return [b for b in BASES if (CORPUS / b / "model.json").is_file()]


def copy_model(base: str, dest: Path) -> Path:
    """The model's files (model.json and shards, no references) in ``dest/model``."""
    folder = dest / "model"
    folder.mkdir(parents=True)
    for f in (CORPUS / base).iterdir():
        if f.is_file() and f.name != "reference.json":
            shutil.copyfile(f, folder / f.name)
    (dest / "outside").mkdir()
    return folder


def plan(seed: int, index: int, families: Sequence[str] | None = None
         ) -> tuple[random.Random, str, list[str]]:
    """Case ``index`` of ``seed``: its random stream, base model and mutation families."""
    rng = random.Random(seed * 1_000_003 + index)
    base = rng.choice(available_bases())
    pool = sorted(families or FAMILIES)
    chosen = [rng.choice(pool) for _ in range(1 if rng.random() < 0.7 else 2)]
    # content mutations first; then at most one that replaces a file (a FIFO or a
    # 16 GiB sparse file must not be read by the mutations themselves)
    content = [f for f in chosen if f not in FILE_FAMILIES]
    return rng, base, content + [f for f in chosen if f in FILE_FAMILIES][:1]


def make_case(seed: int, index: int, work: Path, families: Sequence[str] | None = None
              ) -> Case:
    """Case ``index`` of ``seed``: the same folder every time for the same arguments."""
    rng, base, chosen = plan(seed, index, families)
    dest = work / f"case{index:05d}"
    folder = copy_model(base, dest)
    target = Target(folder, dest / "outside", rng)
    done = []
    for family in chosen:
        try:
            done.append(f"{family}: {FAMILIES[family](target)}")
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
            done.append(f"{family}: not applicable ({type(err).__name__})")
    return Case(index, base, tuple(done), folder)


def model_names(base: str) -> list[str]:
    """The layer, model and weight names of a base model (as error messages may cite them)."""
    model = json.loads((CORPUS / base / "model.json").read_text())
    return sorted({v for p in _paths(model) if p and p[-1] == "name"
                   and isinstance(v := _get(model, p), str) and len(v) >= 3})


def declared_bytes(base: str) -> int:
    from flaxjs.weights.manifest import parse_manifest

    model = json.loads((CORPUS / base / "model.json").read_text())
    return parse_manifest(model.get("weightsManifest")).total_bytes or 0
