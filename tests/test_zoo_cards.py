"""The built-in zoo cards are valid and complete; lookup, variants and registration work."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

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
        assert len(prep["size"]) == 2 and prep["channels"] in (1, 3)
        assert list(card.inputs[0]["shape"][1:3]) == list(prep["size"])
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


def test_unknown_name_suggests_similar():
    with pytest.raises(ZooError, match="similar: .*mobilenet_v1_0.25_224"):
        zoo.card("v1_0.25")


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
])
def test_malformed_cards_are_refused(bad, message):
    with pytest.raises(Exception, match=message):
        cards.parse_family(bad)


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
