"""Weight decoding is bit-identical to TF.js's ``tf.io.decodeWeights`` on the edge cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tfjs_node
from corpus import CORPUS
from flaxjs.errors import ShardSizeError, WeightsError
from flaxjs.weights.decode import MAX_STRING_BYTES, check_stream_size, decode_weights
from flaxjs.weights.manifest import parse_manifest

needs_tfjs = pytest.mark.skipif(not tfjs_node.available(), reason="node/npm or the oracle missing")


def _edge_case_specs_and_bytes():
    """A stream with every encoding, at unaligned offsets, values chosen to hit rounding."""
    rng = np.random.default_rng(0)
    half = np.array([0, 1, 0x3C00, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x8001, 0x03FF, 0xC000],
                    dtype="<u2")  # zero, subnormals, 1.0, max, +-inf, nan, -2
    specs = [
        {"name": "u8", "shape": [3, 5], "dtype": "float32",
         "quantization": {"dtype": "uint8", "min": -0.1234567, "scale": 0.00123456789}},
        {"name": "f32_unaligned", "shape": [4], "dtype": "float32"},
        {"name": "u16", "shape": [7], "dtype": "float32",
         "quantization": {"dtype": "uint16", "min": -3.3, "scale": 1.0 / 7919}},
        {"name": "empty", "shape": [0, 3], "dtype": "float32"},
        {"name": "f16", "shape": [10], "dtype": "float32", "quantization": {"dtype": "float16"}},
        {"name": "i32_u8", "shape": [6], "dtype": "int32",
         "quantization": {"dtype": "uint8", "min": -2.5, "scale": 0.5}},
        {"name": "i32", "shape": [2, 2], "dtype": "int32"},
        {"name": "flag", "shape": [3], "dtype": "bool"},
        {"name": "scalar", "shape": [], "dtype": "float32"},
    ]
    parts = [
        rng.integers(0, 256, 15, dtype=np.uint8).tobytes(),
        rng.standard_normal(4).astype("<f4").tobytes(),
        rng.integers(0, 65536, 7, dtype=np.uint16).astype("<u2").tobytes(),
        b"",
        half.tobytes(),
        np.array([0, 1, 2, 3, 4, 5], np.uint8).tobytes(),  # -2.5, -2, -1.5, ... exercises .5
        np.array([[1, -2], [2**31 - 1, -(2**31)]], "<i4").tobytes(),
        bytes([0, 1, 1]),
        np.array([3.25], "<f4").tobytes(),
    ]
    return specs, b"".join(parts)


@needs_tfjs
def test_edge_cases_match_tfjs_bit_for_bit(tmp_path):
    specs, data = _edge_case_specs_and_bytes()
    tfjs = tfjs_node.tfjs_decode(specs, data, tmp_path)
    ours = decode_weights(parse_manifest([{"paths": ["a"], "weights": specs}]), [data])
    assert list(ours) == [s["name"] for s in specs]
    for name, (dtype, shape, raw) in tfjs.items():
        value = ours[name]
        assert list(value.shape) == shape, name
        storage = {"float32": "<f4", "int32": "<i4", "bool": "u1"}[dtype]
        assert np.ascontiguousarray(value).astype(storage).tobytes() == raw, name


@pytest.mark.parametrize("cuts", [[1], [3, 4, 5], [17, 60], list(range(1, 90, 7))])
def test_weights_spanning_files_decode_as_one_stream(cuts):
    specs, data = _edge_case_specs_and_bytes()
    manifest_one = parse_manifest([{"paths": ["all"], "weights": specs}])
    whole = decode_weights(manifest_one, [data])
    bounds = [0, *[c for c in cuts if c < len(data)], len(data)]
    files = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    paths = [f"g1-shard{i}" for i in range(len(files))]
    split = decode_weights(parse_manifest([{"paths": paths, "weights": specs}]), files)
    for name in whole:
        np.testing.assert_array_equal(whole[name], split[name])


def _string_stream():
    """String weights (4-byte little-endian length, then UTF-8) between numeric ones."""
    words = ["", "a", "héllo", "x" * 300, "漢字"]
    encoded = b"".join(len(w.encode()).to_bytes(4, "little") + w.encode() for w in words)
    specs = [{"name": "before", "shape": [3], "dtype": "float32"},
             {"name": "words", "shape": [5], "dtype": "string"},
             {"name": "after", "shape": [2], "dtype": "float32"}]
    data = (np.arange(3, dtype="<f4").tobytes() + encoded
            + np.array([1.5, -2.5], "<f4").tobytes())
    return specs, data


@needs_tfjs
def test_string_weights_match_tfjs_across_any_file_split(tmp_path):
    specs, data = _string_stream()
    (_, shape, strings) = tfjs_node.tfjs_decode(specs, data, tmp_path)["words"]
    for cut in range(0, len(data), 5):
        files = [data[:cut], data[cut:]]
        paths = ["g1-shard1of2", "g1-shard2of2"]
        ours = decode_weights(parse_manifest([{"paths": paths, "weights": specs}]), files)
        assert list(ours["words"].shape) == shape
        assert [w.encode() for w in ours["words"]] == strings
        np.testing.assert_array_equal(ours["after"], np.array([1.5, -2.5], np.float32))


def test_groups_are_one_stream_across_group_boundaries():
    specs, data = _edge_case_specs_and_bytes()
    first, second = specs[:4], specs[4:]
    cut = 15 + 16 + 14 + 7  # mid-way through the float16 weight of the second group
    manifest = parse_manifest([{"paths": ["a"], "weights": first},
                               {"paths": ["b"], "weights": second}])
    ours = decode_weights(manifest, [data[:cut], data[cut:]])
    whole = decode_weights(parse_manifest([{"paths": ["x"], "weights": specs}]), [data])
    for name in whole:
        np.testing.assert_array_equal(whole[name], ours[name])


def test_optimizer_weights_are_skipped_and_last_duplicate_wins():
    data = np.arange(6, dtype="<f4").tobytes()
    specs = [{"name": "w", "shape": [2], "dtype": "float32"},
             {"name": "opt/m", "shape": [2], "dtype": "float32", "group": "optimizer"},
             {"name": "w", "shape": [2], "dtype": "float32"}]
    out = decode_weights(parse_manifest([{"paths": ["a"], "weights": specs}]), [data])
    assert list(out) == ["w"]
    np.testing.assert_array_equal(out["w"], [4, 5])


def test_short_shard_names_file_bytes_and_first_weight():
    specs = [{"name": "a", "shape": [4], "dtype": "float32"},
             {"name": "b", "shape": [4], "dtype": "float32"},
             {"name": "c", "shape": [4], "dtype": "float32"}]
    manifest = parse_manifest([{"paths": ["s1", "s2", "s3"], "weights": specs}])
    data = np.arange(12, dtype="<f4").tobytes()
    with pytest.raises(ShardSizeError) as err:
        decode_weights(manifest, [data[:16], data[16:20], data[32:]])  # s2 is 12 bytes short
    message = str(err.value)
    assert "'s2'" in message and "48 bytes" in message and "36 bytes" in message
    assert "'b'" in message and "[16, 32)" in message


def test_trailing_bytes_are_an_error():
    manifest = parse_manifest([{"paths": ["a"], "weights": [
        {"name": "a", "shape": [1], "dtype": "float32"}]}])
    with pytest.raises(ShardSizeError, match="trailing"):
        decode_weights(manifest, [b"\0" * 8])


@pytest.mark.parametrize("bad, field", [
    ({"name": "x", "shape": [2], "dtype": "float64"}, "dtype"),
    ({"name": "x", "shape": [2], "dtype": ["float32"]}, "dtype"),
    ({"name": "x", "shape": [-1], "dtype": "float32"}, "shape"),
    ({"name": "x", "shape": [True, 2], "dtype": "float32"}, "shape"),
    ({"name": "x", "shape": [1] * 65, "dtype": "float32"}, "shape"),
    ({"name": "x", "shape": "22", "dtype": "float32"}, "shape"),
    ({"name": "x", "shape": [2], "dtype": "float32", "group": ["optimizer"]}, "group"),
    ({"name": "x", "shape": [2], "dtype": "float32", "quantization": "uint8"}, "quantization"),
    ({"name": "x", "shape": [2], "dtype": "float32", "quantization": [1]}, "quantization"),
    ({"name": "x", "shape": [2], "dtype": "float32", "quantization": {"dtype": ["uint8"]}},
     "quantization"),
    ({"name": "x", "shape": [2], "dtype": "float32", "quantization": {"dtype": "uint8"}},
     "scale"),
    ({"name": "x", "shape": [2], "dtype": "float32",
      "quantization": {"dtype": "uint8", "scale": float("nan"), "min": 0}}, "scale"),
    ({"name": "x", "shape": [2], "dtype": "float32",
      "quantization": {"dtype": "uint16", "scale": 1, "min": "0"}}, "min"),
    ({"name": "x", "shape": [2], "dtype": "float32",
      "quantization": {"dtype": "uint16", "scale": 10**400, "min": 0}}, "scale"),
    ({"name": "x", "shape": [2], "dtype": "int32", "quantization": {"dtype": "float16"}},
     "float16"),
    ({"name": "x", "shape": [2], "dtype": "float32", "quantization": {"dtype": "int8"}},
     "quantization"),
])
def test_malformed_entries_name_the_weight_and_the_field(bad, field):
    with pytest.raises(WeightsError, match=f"'x'.*{field}"):
        parse_manifest([{"paths": ["a"], "weights": [bad]}])


@pytest.mark.parametrize("group, field", [
    ({"paths": ["a"], "weights": None}, "'weights'"),
    ({"paths": "a", "weights": []}, "'paths'"),
    ({"paths": [1], "weights": []}, "'paths'"),
    ({"paths": ["a"], "weights": [{"name": 5, "shape": [1]}]}, r"weights\[0\], field 'name'"),
    ({"paths": ["a"], "weights": [[1]]}, r"weights\[0\]: a weight entry must be an object"),
])
def test_malformed_groups_name_the_group_and_the_field(group, field):
    with pytest.raises(WeightsError, match=rf"model.json: weightsManifest\[1\].*{field}"):
        parse_manifest([{"paths": [], "weights": []}, group])


def test_string_weights_that_are_not_utf8_name_the_weight():
    manifest = parse_manifest([{"paths": ["a"], "weights": [
        {"name": "vocab", "shape": [2], "dtype": "string"}]}])
    data = b"".join(len(w).to_bytes(4, "little") + w for w in [b"ok", b"\xffno"])
    with pytest.raises(WeightsError, match=r"'vocab' .*element 1 is not UTF-8 \(byte 10"):
        decode_weights(manifest, [data])


@pytest.mark.skipif(not (CORPUS / "synthetic").is_dir(), reason="corpus missing")
def test_corpus_shards_split_anywhere_decode_the_same():
    case = CORPUS / "synthetic" / "weights_two_groups_sharded_quant"
    model = json.loads((case / "model.json").read_text())
    manifest = parse_manifest(model["weightsManifest"])
    files = [(case / p).read_bytes() for p in manifest.paths]
    whole = decode_weights(manifest, files)
    data = b"".join(files)
    specs = [w for g in model["weightsManifest"] for w in g["weights"]]
    resplit = [data[i:i + 333] for i in range(0, len(data), 333)]
    other = parse_manifest([{"paths": [f"p{i}" for i in range(len(resplit))], "weights": specs}])
    again = decode_weights(other, resplit)
    for name in whole:
        np.testing.assert_array_equal(whole[name], again[name])


def test_decoded_arrays_never_share_the_shard_bytes():
    """JAX adopts decoded arrays without copying and a donated train step may write into
    them, so none may be a view of the (possibly caller-owned) shard bytes."""
    specs, data = _edge_case_specs_and_bytes()
    shards = [data[:40], data[40:]]
    paths = ["g1-shard1of2", "g1-shard2of2"]
    out = decode_weights(parse_manifest([{"paths": paths, "weights": specs}]), shards)
    views = [np.frombuffer(s, np.uint8) for s in shards]
    for name, value in out.items():
        if value.dtype != object:
            assert not any(np.shares_memory(value, v) for v in views), name
            assert value.size == 0 or value.ctypes.data % 64 == 0 or value.dtype == bool, name


def test_string_weights_bound_the_shard_bytes():
    manifest = parse_manifest([{"paths": ["a"], "weights": [
        {"name": "vocab", "shape": [3], "dtype": "string"},
        {"name": "w", "shape": [2], "dtype": "float32"}]}])
    check_stream_size(manifest, [20])  # three empty strings and two floats
    for size in (19, 20 + MAX_STRING_BYTES + 1):
        with pytest.raises(ShardSizeError, match="between 20 and"):
            check_stream_size(manifest, [size])
