"""The built-in zoo cards are valid and complete; lookup, variants and registration work."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from flaxjs import zoo
from flaxjs.errors import ZooError
from flaxjs.zoo import cards, registry

ROOT = Path(__file__).resolve().parents[1]
BUILTIN = sorted(zoo.builtin_cards())
REQUIRED = [
    "mobilenet_v1_0.25_224", "mobilenet_v1_0.50_224", "mobilenet_v1_0.75_224",
    "mobilenet_v1_1.0_224", "iris_v1", "mnist_transfer_cnn_v1", "sentiment_cnn_v1",
    "speech_commands_18w", "simple_object_detection", "snake_dqn", "tm_mobilenet_v2_0.35_224",
    "tm_mobilenet_v2_0.50_224", "tm_mobilenet_v2_0.75_224", "tm_mobilenet_v2_1.00_224",
    "nsfwjs_mobilenet_v2", "nsfwjs_inception_v3",
]


def test_required_entries_exist():
    assert set(REQUIRED) <= set(zoo.list())
    assert zoo.card("mobilenet").name == "mobilenet_v1_1.0_224"


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_card_is_complete(name):
    card = zoo.card(name)
    assert card.sources and card.files and card.license != "unknown"
    assert card.preprocessing.get("kind") in cards.PREPROCESSING_KINDS
    if card.preprocessing["kind"] == "image":
        prep = card.preprocessing
        assert prep["channels"] in (1, 3)
        height_width = card.inputs[0]["shape"][1:3]
        if prep.get("size") is None:  # fed at the image's own size (COCO-SSD)
            assert "size" in prep and height_width == [None, None]
        else:  # a dynamic model input takes the size the package resizes to
            assert len(prep["size"]) == 2
            assert all(d in (None, s) for d, s in zip(height_width, prep["size"], strict=True))
    assert card.inputs, "input shape and dtype"
    labels = registry.labels_of(card, {"wordLabels": ["a"]})
    if card.output in ("probabilities", "logits", "scores", "sigmoid"):
        assert labels, "classifiers name their labels"
    info = zoo.info(name)
    json.dumps(info)  # JSON-ready
    assert info["files"][0]["path"] == card.model_file


def test_names_and_aliases_are_unique():
    seen: dict[str, str] = {}
    for card in zoo.builtin_cards().values():
        for name in (card.name, *card.aliases):
            assert name not in seen, f"{name} used by {seen.get(name)} and {card.name}"
            seen[name] = card.name


def test_variants_within_a_family_are_distinct():
    families: dict[str, set] = {}
    for card in zoo.builtin_cards().values():
        key = json.dumps(card.variant, sort_keys=True)
        assert key not in families.setdefault(card.family, set()), card.name
        families[card.family].add(key)


def test_imagenet_labels():
    labels = registry.labels_of(zoo.card("mobilenet"))
    assert len(labels) == 1000 and labels[0].startswith("tench")
    assert labels[999].startswith("toilet tissue")
    assert zoo.card("mobilenet").label_offset == 0


def test_nsfwjs_files_are_pinned():
    for name in ("nsfwjs_mobilenet_v2", "nsfwjs_inception_v3"):
        card = zoo.card(name)
        assert card.sources[0].npm == "nsfwjs" and card.sources[0].version == "4.4.0"
        assert all(f.sha256 and f.size for f in card.files)
        assert [f["pinned_by"] for f in zoo.info(name)["files"]] == ["card"] * len(card.files)
    assert len(zoo.card("nsfwjs_inception_v3").files) == 7


def test_variants_switch_within_the_family():
    assert zoo.card("mobilenet", alpha=0.25).name == "mobilenet_v1_0.25_224"
    assert zoo.card("mobilenet_v1_0.25_224", alpha=0.5).name == "mobilenet_v1_0.50_224"
    assert zoo.card("mobilenet_v1", alpha=0.75).name == "mobilenet_v1_0.75_224"
    assert zoo.card("tm_mobilenet_v2", alpha=1).name == "tm_mobilenet_v2_1.00_224"
    assert zoo.card("speech_commands", version="0.3").name == "speech_commands_18w_v0.3"
    assert zoo.card("nsfwjs", arch="inception_v3").name == "nsfwjs_inception_v3"
    with pytest.raises(ZooError, match="no variant alpha=0.3"):
        zoo.card("mobilenet", alpha=0.3)
    with pytest.raises(ZooError, match="no variant option"):
        zoo.card("mobilenet", depth=3)


@pytest.mark.parametrize("typo, meant", [
    ("v1_0.25", "mobilenet_v1_0.25_224"),  # a fragment
    ("mobilnet", "mobilenet"),  # a misspelt alias
    ("mobilenet_v1_1.0_24", "mobilenet_v1_1.0_224"),  # a misspelt name
    ("nsfw", "nsfwjs"),
])
def test_unknown_name_asks_did_you_mean(typo, meant):
    with pytest.raises(ZooError, match=rf"no zoo model named '{typo}'; did you mean .*"
                                       rf"'{re.escape(meant)}'.*\?"):
        zoo.card(typo)
    with pytest.raises(ZooError, match=r"no zoo model named 'xyzzy'\. See flaxjs.zoo.list"):
        zoo.card("xyzzy")


def test_list_patterns():
    assert zoo.list("mobilenet_v1*") == [n for n in REQUIRED if n.startswith("mobilenet_v1")]
    assert "nsfwjs_mobilenet_v2" in zoo.list("nsfwjs")
    assert zoo.list("speech-commands") == ["speech_commands_18w"]  # by alias


def test_register_and_replace(zoo_env, tmp_path):
    entry = {"name": "mine", "aliases": ["my_alias"], "sources": ["https://example.org/m/"],
             "files": ["model.json"], "weights_from_manifest": True,
             "labels": {"list": ["a", "b"]}, "output": "logits"}
    (card,) = zoo.register(entry)
    assert zoo.card("my_alias") is card and "mine" in zoo.list()
    assert card.sources[0].url == "https://example.org/m/"
    with pytest.raises(ZooError, match="already exists"):
        zoo.register({**entry, "labels": {"list": ["c"]}})
    zoo.register({**entry, "labels": {"list": ["c"]}}, replace=True)
    assert registry.labels_of(zoo.card("mine")) == ["c"]
    path = tmp_path / "family.json"
    path.write_text(json.dumps({"family": "fam", "defaults": {"files": ["model.json"],
                                                              "sources": ["https://x.org/"]},
                                "models": [{"name": "fam_a", "variant": {"k": 1}},
                                           {"name": "fam_b", "variant": {"k": 2}}]}))
    zoo.register(str(path))
    assert zoo.card("fam", k=2).name == "fam_b"
    zoo.unregister("fam_a")
    assert "fam_a" not in zoo.list()


def test_registered_cards_last_for_the_block_only():
    entry = {"name": "scoped", "sources": ["https://example.org/m/"], "files": ["model.json"]}
    before = zoo.list()
    with zoo.registered(entry, {**entry, "name": "scoped_too"}) as cards:
        assert [c.name for c in cards] == ["scoped", "scoped_too"]
        assert zoo.card("scoped") is cards[0]
    assert zoo.list() == before
    with pytest.raises(ZooError, match="no zoo model named 'scoped'"):
        zoo.card("scoped")


def test_registration_scope_undoes_registers_replacements_and_unregisters():
    entry = {"name": "outer", "sources": ["https://example.org/m/"], "files": ["model.json"],
             "labels": {"list": ["a"]}}
    with zoo.registration_scope():
        (outer,) = zoo.register(entry)
        with zoo.registration_scope():
            zoo.register({**entry, "labels": {"list": ["b"]}}, replace=True)
            zoo.register({**entry, "name": "inner"})
            assert registry.labels_of(zoo.card("outer")) == ["b"]
            zoo.unregister("outer")
            assert "outer" not in zoo.list()
        assert zoo.card("outer") is outer and "inner" not in zoo.list()
        with pytest.raises(ValueError), zoo.registered({**entry, "name": "failing"}):
            raise ValueError("the block fails")
        assert "failing" not in zoo.list()
    assert "outer" not in zoo.list()


def test_builtin_cards_are_a_copy_without_user_cards():
    cards_now = zoo.builtin_cards()
    cards_now.clear()
    assert zoo.builtin_cards(), "clearing the copy leaves the registry alone"
    with zoo.registered({"name": "user_only", "sources": ["https://example.org/m/"],
                         "files": ["model.json"]}):
        assert "user_only" not in zoo.builtin_cards() and "user_only" in zoo.list()


@pytest.mark.parametrize("bad, message", [
    ({"files": ["model.json"], "sources": ["https://x.org/"]}, "needs a 'name'"),
    ({"name": "x", "sources": ["https://x.org/"]}, "no 'files'"),
    ({"name": "x", "files": ["model.json"]}, "no 'sources'"),
    ({"name": "x", "files": [{"path": "m.json", "sha256": "abc"}], "sources": ["https://x/"]},
     "64 hex digits"),
    ({"name": "x", "files": ["../m.json"], "sources": ["https://x.org/"]}, "leaves"),
    ({"name": "x", "files": ["m.json"], "sources": ["ftp://x.org/"]}, "http"),
    ({"name": "x", "files": ["m.json"], "sources": [{"npm": "p"}]}, "exact 'version'"),
    ({"name": "x", "files": ["m.json"], "sources": ["https://x.org/"], "colour": 1},
     "unknown field"),
    ({"name": "x", "files": ["m.json"], "sources": ["https://x.org/"], "output": "odds"},
     "output must be"),
    ({"name": "x", "files": ["m.json"], "sources": ["https://x.org/"],
      "preprocessing": {"kind": "video"}}, "preprocessing kind"),
    ({"name": "x", "files": ["m.json"], "sources": [{"url": "https://x.org/",
                                                     "query": "tfjs-format=file"}]},
     "query string"),
    ({"name": "x", "files": ["m.json"], "sources": [{"url": "https://x.org/",
                                                     "query": "?a b"}]}, "query string"),
    ({"name": "x", "files": ["m.json"], "sources": [{"url": "https://x.org/", "query": 1}]},
     "query string"),
    ({"name": "x", "files": ["m.json"], "sources": [{"url": "https://x.org/m/?tfjs-format=file"}]},
     "'query'"),
    ({"name": "x", "files": ["m.json"], "sources": [{"url": "file:///models/",
                                                     "query": "?tfjs-format=file"}]},
     "only http"),
    ({"name": "x", "files": ["m.json"], "sources": [{"npm": "p", "version": "1.0.0",
                                                     "query": "?tfjs-format=file"}]},
     "URL sources only"),
])
def test_malformed_cards_are_refused(bad, message):
    with pytest.raises(Exception, match=message):
        cards.parse_family(bad)


def test_url_source_query():
    entry = {"name": "hub", "files": ["model.json"], "weights_from_manifest": True,
             "sources": [{"url": "https://hub.example.org/m/1", "query": "?tfjs-format=file"},
                         "https://mirror.example.org/m/"]}
    (card,) = cards.parse_family(entry)
    assert card.sources[0] == cards.SourceSpec(url="https://hub.example.org/m/1/",
                                               query="?tfjs-format=file")
    assert card.sources[1].query == ""  # per source: a mirror without it
    assert card.sources[0].describe() == "https://hub.example.org/m/1/<file>?tfjs-format=file"
    data = card.to_dict()
    assert data["sources"] == [{"url": "https://hub.example.org/m/1/",
                                "query": "?tfjs-format=file"},
                               {"url": "https://mirror.example.org/m/"}]
    assert cards.parse_family(data) == [card]  # the card's dict reads back the same


# ---------------------------------------------------------------- tfjs-models graph models
TFJS_MODELS = {c.name: c for c in zoo.builtin_cards().values() if c.family == "tfjs_models"}
TFJS_MODELS_COMMIT = "tensorflow/tfjs-models@18a73420e555"
COCO_KEYPOINTS = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
                  "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
                  "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
                  "right_ankle"]


def test_tfjs_models_cards_exist():
    wanted = {
        "tfhub_mobilenet_v1_1.00_224", "tfhub_mobilenet_v2_1.00_224",
        "movenet_singlepose_lightning", "movenet_singlepose_thunder",
        "movenet_multipose_lightning", "blazeface", "blazepose_detector",
        "blazepose_landmark_full", "face_detection_short", "hand_landmark_full",
        "selfie_segmentation_general", "posenet_mobilenet_v1_075_stride16_float",
        "posenet_resnet50_stride32_quant2", "coco_ssd_lite_mobilenet_v2",
        "coco_ssd_mobilenet_v1", "coco_ssd_mobilenet_v2"}
    assert wanted <= set(TFJS_MODELS)
    assert zoo.card("movenet").name == "movenet_singlepose_lightning"
    assert zoo.card("coco-ssd").name == "coco_ssd_lite_mobilenet_v2"
    assert zoo.card("posenet").name == "posenet_mobilenet_v1_075_stride16_float"
    assert zoo.card("tfhub_mobilenet").name == "tfhub_mobilenet_v1_1.00_224"


@pytest.mark.parametrize("name", sorted(TFJS_MODELS))
def test_tfjs_models_card_sources(name):
    """Published locations, hashes pinned at first use, TF Hub's query on every file."""
    card = TFJS_MODELS[name]
    assert card.weights_from_manifest and card.license == "Apache-2.0"
    model_file = f"model-stride{card.variant['stride']}.json" if "stride" in card.variant \
        else "model.json"
    assert [f.path for f in card.files] == [model_file]
    assert all(f.sha256 is None and f.size is None for f in card.files)
    (source,) = card.sources
    assert source.url
    if source.url.startswith("https://tfhub.dev/"):
        assert source.query == "?tfjs-format=file"  # tf.loadGraphModel(url, {fromTFHub: true})
    else:
        assert source.url.startswith("https://storage.googleapis.com/tfjs-models/savedmodel/")
        assert source.query == ""
    assert TFJS_MODELS_COMMIT in card.extra["notes"]
    assert card.preprocessing.get("reference")
    assert [f["pinned_by"] for f in zoo.info(name)["files"]] == [None]  # pinned on first use


@pytest.mark.parametrize("name", sorted(TFJS_MODELS))
def test_tfjs_models_preprocessing_gives_the_model_input(name):
    from flaxjs.preprocessing import preprocess

    card = TFJS_MODELS[name]
    (spec,) = card.inputs
    image = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    x = preprocess(image, card.preprocessing, input_shape=spec["shape"], dtype=spec["dtype"])
    size = card.preprocessing["size"] or [96, 128]
    assert x.shape == (1, *size, 3) and x.dtype == np.dtype(spec["dtype"])
    low, high = card.preprocessing["range"]
    assert x.min() >= low - 1e-5 and x.max() <= high + 1e-5


def test_movenet_int32_input_and_keypoints():
    from flaxjs.preprocessing import preprocess

    for name, size in [("movenet_singlepose_lightning", 192),
                       ("movenet_singlepose_thunder", 256), ("movenet_multipose_lightning", 256)]:
        card = zoo.card(name)
        assert registry.labels_of(card) == COCO_KEYPOINTS
        assert card.inputs[0]["dtype"] == "int32" and card.preprocessing["dtype"] == "int32"
        assert card.output == "regression"
        image = np.full((300, 400, 3), 200.7, np.float32)
        x = preprocess(image, card.preprocessing, input_shape=card.inputs[0]["shape"])
        assert x.shape == (1, size, size, 3) and x.dtype == np.int32
        assert (x == 200).all()  # 0-255 pixels, truncated as tf.cast(x, 'int32')
    assert zoo.card("movenet", type="singlepose_thunder").name == "movenet_singlepose_thunder"


def test_coco_ssd_sparse_label_map():
    card = zoo.card("coco_ssd")
    labels = registry.labels_of(card)
    assert len(labels) == 90 and card.label_offset == 0  # score column j = class id j + 1
    assert labels[0] == "person" and labels[89] == "toothbrush" and labels[12] == "stop sign"
    unused = [i + 1 for i, label in enumerate(labels) if label.startswith("unused_id_")]
    assert unused == [12, 26, 29, 30, 45, 66, 68, 69, 71, 83]
    assert all(labels[i - 1] == f"unused_id_{i}" for i in unused)
    assert len(set(labels)) == 90
    scores = np.zeros((1917, 90), np.float32)
    scores[5, 17] = 0.9  # id 18: dog
    assert zoo.card("coco_ssd").preprocessing["size"] is None
    from flaxjs.preprocessing import decode
    assert decode(scores, labels, output=card.output, top=1)[5] == [("dog", pytest.approx(0.9))]
    assert zoo.card("coco_ssd", base="mobilenet_v2").sources[0].url.endswith(
        "/savedmodel/ssd_mobilenet_v2/")


def test_tfhub_mobilenet_background_class_and_input_range():
    from flaxjs.preprocessing import decode, preprocess

    for version, alphas in [(1, (0.25, 0.5, 0.75, 1.0)), (2, (0.5, 0.75, 1.0))]:
        for alpha in alphas:
            card = zoo.card("tfhub_mobilenet", version=version, alpha=alpha)
            assert card.label_offset == 1 and card.output == "logits"
            assert card.preprocessing["range"] == [0, 1]
    card = zoo.card("tfhub_mobilenet_v2")
    labels = registry.labels_of(card)
    assert len(labels) == 1000
    logits = np.zeros(1001, np.float32)
    logits[1], logits[0] = 5.0, 9.0  # column 1 = tench; column 0 (background) is left out
    assert decode(logits, labels, output="logits", label_offset=1, top=1)[0][0].startswith("tench")
    x = preprocess(np.full((224, 224, 3), 255, np.uint8), card.preprocessing)
    assert np.allclose(x, 1.0)
    assert list(card.cut_points) == ["module_apply_default/MobilenetV2/Logits/AvgPool"]


def test_blazeface_and_posenet_normalisation():
    from flaxjs.preprocessing import preprocess

    white = np.full((50, 70, 3), 255, np.uint8)
    black = np.zeros((50, 70, 3), np.uint8)
    blazeface = zoo.card("blazeface").preprocessing
    assert preprocess(white, blazeface).shape == (1, 128, 128, 3)
    assert np.allclose(preprocess(white, blazeface), 1) and np.allclose(
        preprocess(black, blazeface), -1)
    mobilenet = zoo.card("posenet").preprocessing
    assert np.allclose(preprocess(white, mobilenet), 1) and np.allclose(
        preprocess(black, mobilenet), -1)
    resnet = zoo.card("posenet", architecture="ResNet50", stride=32, multiplier=1.0)
    assert resnet.name == "posenet_resnet50_stride32_float"
    assert np.allclose(preprocess(black, resnet.preprocessing)[0, 0, 0],
                       [-123.15, -115.9, -103.06])
    assert zoo.card("posenet", quant_bytes=1).sources[0].url.endswith(
        "/posenet/mobilenet/quant1/075/")
    assert resnet.extra["output_names"][3] == "heatmap"
    assert len(registry.labels_of(resnet)) == 17


def test_no_package_registry_host_names_in_the_project():
    """Project rule: package managers find their registries themselves."""
    hosts = ["registry." + "npmjs.org", "npmjs." + "com", "pypi." + "org",
             "pythonhosted." + "org", "yarnpkg." + "com"]
    try:
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    offenders = []
    for name in filter(None, listed):
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        text = path.read_bytes().decode("utf-8", "replace").lower()
        offenders += [f"{name}: {h}" for h in hosts if h in text]
    assert not offenders


# ---------------------------------------------------------------- TF Hub feature vectors
FEATURE_VECTORS = {c.name: c for c in zoo.builtin_cards().values()
                   if c.family == "tfhub_feature_vectors"}


def test_tfhub_feature_vector_cards():
    """MobileNet v2 and v3 feature vectors at TF Hub's TF.js locations, hashes pinned on
    first use, images in [0, 1] as the TF Hub image signature takes them."""
    from flaxjs.preprocessing import preprocess

    assert set(FEATURE_VECTORS) == {"mobilenet_v2_1.00_224_feature_vector",
                                    "mobilenet_v3_small_1.00_224_feature_vector",
                                    "mobilenet_v3_large_1.00_224_feature_vector"}
    assert zoo.card("mobilenet_v3_feature_vector").name == \
        "mobilenet_v3_small_1.00_224_feature_vector"
    assert zoo.card("tfhub_feature_vectors", version=3, size="large").name == \
        "mobilenet_v3_large_1.00_224_feature_vector"
    for name, card in FEATURE_VECTORS.items():
        (source,) = card.sources
        assert source.url.startswith("https://tfhub.dev/google/tfjs-model/imagenet/mobilenet_v")
        assert "/feature_vector/" in source.url and source.query == "?tfjs-format=file"
        assert [f.path for f in card.files] == ["model.json"] and card.weights_from_manifest
        assert [f["pinned_by"] for f in zoo.info(name)["files"]] == [None]
        assert card.output == "features" and card.task == "image-feature-vector"
        image = np.full((300, 200, 3), 255, np.uint8)
        x = preprocess(image, card.preprocessing, input_shape=card.inputs[0]["shape"])
        assert x.shape == (1, 224, 224, 3) and x.dtype == np.float32
        np.testing.assert_allclose(x, 1.0, rtol=1e-6)
