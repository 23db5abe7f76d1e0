"""Zoo cards: what a named model is, where its files live, how to feed and read it.

Cards are data (the JSON files of the repository's ``zoo/`` folder, schema
``flaxjs-zoo/1``, described in ``zoo/README.md``); this module turns them into
frozen dataclasses and checks them, so a broken card fails when it is read, not
halfway through a download.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ZooError
from ..io.paths import check_relative

SCHEMA = "flaxjs-zoo/1"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NPM_NAME = re.compile(r"^(@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_QUERY = re.compile(r"^\?[A-Za-z0-9._~%!$&'()*+,;=:@/?-]+$")  # RFC 3986 query characters
OUTPUT_KINDS = ("probabilities", "logits", "sigmoid", "scores", "features", "regression")
PREPROCESSING_KINDS = ("image", "none", "znorm", "text")
_ENTRY_KEYS = {
    "name", "aliases", "family", "description", "variant", "sources", "files",
    "weights_from_manifest", "inputs", "preprocessing", "labels", "label_offset", "output",
    "output_names", "cut_points", "task", "license", "homepage", "notes", "data",
}
_MERGED = ("preprocessing",)  # dict fields merged one level deep with the defaults


@dataclasses.dataclass(frozen=True)
class FileSpec:
    """One file of a model: its path in the model folder, size and sha256 when known."""

    path: str
    size: int | None = None
    sha256: str | None = None


@dataclasses.dataclass(frozen=True)
class SourceSpec:
    """Where the files come from: an URL prefix, or a folder inside an npm package.

    ``query``: a query string (``"?tfjs-format=file"``) appended to the URL of every
    file of an URL source, model.json and weight shards alike, as TF.js's HTTP
    handler does for a model URL with a query (``tf.loadGraphModel(url,
    {fromTFHub: true})``).
    """

    url: str | None = None
    npm: str | None = None
    version: str | None = None
    path: str = ""
    query: str = ""

    def describe(self) -> str:
        if self.url:
            return f"{self.url}<file>{self.query}" if self.query else self.url
        return f"npm {self.npm}@{self.version} /{self.path}"


@dataclasses.dataclass(frozen=True)
class Card:
    """A zoo entry.

    Attributes:
      name: the canonical name (also the cache folder name).
      family: the family it belongs to; ``variant`` picks siblings within it.
      aliases: other names ``zoo.load`` accepts.
      variant: the values that tell this entry from its siblings (``alpha`` ...).
      sources: tried in order; later ones are mirrors of the first.
      files: files with pinned sizes/hashes where known.
      weights_from_manifest: also fetch the shards model.json's manifest names.
      inputs: ``[{"shape": [...], "dtype": ...}]`` per model input.
      preprocessing: how ``model.preprocess`` turns raw data into the input.
      labels: ``{"file"|"list"|"metadata": ...}`` or ``None``.
      label_offset: output index of ``labels[0]`` (1 with a background class).
      output: how ``model.decode`` reads the output (see ``OUTPUT_KINDS``).
      cut_points: suggested layer names to cut at, with what they give.
      top_blocks: for a cut point, the layer after which its top block starts: the
        layers between the two are what fine-tuning unfreezes (a cut point written as
        ``{"about": ..., "top_block_after": layer}`` in the card file).
      extra: every other card field (``description``, ``license``, ``notes``...).
    """

    name: str
    family: str
    aliases: tuple[str, ...] = ()
    variant: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    sources: tuple[SourceSpec, ...] = ()
    files: tuple[FileSpec, ...] = ()
    weights_from_manifest: bool = False
    inputs: tuple[Mapping[str, Any], ...] = ()
    preprocessing: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    labels: Mapping[str, Any] | None = None
    label_offset: int = 0
    output: str | None = None
    cut_points: Mapping[str, str] = dataclasses.field(default_factory=dict)
    top_blocks: Mapping[str, str] = dataclasses.field(default_factory=dict)
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def description(self) -> str:
        return str(self.extra.get("description", ""))

    @property
    def license(self) -> str:
        return str(self.extra.get("license", "unknown"))

    @property
    def task(self) -> str:
        return str(self.extra.get("task", ""))

    @property
    def model_file(self) -> str:
        """The file that holds the topology (the first file of the card)."""
        return self.files[0].path

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON-ready data (the shape of a card file entry)."""
        out: dict[str, Any] = {"name": self.name, "family": self.family}
        if self.aliases:
            out["aliases"] = list(self.aliases)
        if self.variant:
            out["variant"] = dict(self.variant)
        out["sources"] = [{k: v for k, v in dataclasses.asdict(s).items() if v}
                          for s in self.sources]
        out["files"] = [{k: v for k, v in dataclasses.asdict(f).items() if v is not None}
                        for f in self.files]
        out["weights_from_manifest"] = self.weights_from_manifest
        for key in ("inputs", "preprocessing", "labels", "label_offset", "output"):
            value = getattr(self, key)
            if value not in (None, (), {}):
                out[key] = _plain(value)
        if self.cut_points:
            out["cut_points"] = {
                name: ({"about": about, "top_block_after": self.top_blocks[name]}
                       if name in self.top_blocks else about)
                for name, about in self.cut_points.items()}
        out.update(_plain(self.extra))
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _fail(where: str, message: str) -> ZooError:
    return ZooError(f"zoo card {where}: {message}")


def _file(raw: Any, where: str) -> FileSpec:
    if isinstance(raw, str):
        raw = {"path": raw}
    if not isinstance(raw, Mapping) or not isinstance(raw.get("path"), str):
        raise _fail(where, f"each file needs a 'path', got {raw!r}")
    path = check_relative(raw["path"], model=where)
    sha = raw.get("sha256")
    if sha is not None and not (isinstance(sha, str) and _SHA256.match(sha.lower())):
        raise _fail(where, f"file {path!r}: sha256 must be 64 hex digits, got {sha!r}")
    size = raw.get("size")
    if size is not None and (not isinstance(size, int) or size < 0):
        raise _fail(where, f"file {path!r}: size must be a non-negative integer")
    return FileSpec(path, size, sha.lower() if sha else None)


def _source(raw: Any, where: str) -> SourceSpec:
    if isinstance(raw, str):
        raw = {"url": raw}
    if not isinstance(raw, Mapping):
        raise _fail(where, f"a source must be an object, got {raw!r}")
    if raw.get("url"):
        url = str(raw["url"])
        if not re.match(r"^(https?|file)://", url):
            raise _fail(where, f"source URL {url!r} must be http(s):// or file://")
        if "?" in url or "#" in url:
            raise _fail(where, f"source URL {url!r} is a folder: give its query string as "
                               "'query' (appended to every file URL), and no fragment")
        query = _query(raw.get("query"), url, where)
        return SourceSpec(url=url if url.endswith("/") else url + "/", query=query)
    if "query" in raw:
        raise _fail(where, f"'query' belongs to URL sources only: {raw!r}")
    if raw.get("npm"):
        name, version = str(raw["npm"]), raw.get("version")
        if not _NPM_NAME.match(name) or not isinstance(version, str) or not version:
            raise _fail(where, f"npm source needs a package name and an exact 'version': {raw!r}")
        path = str(raw.get("path", "")).strip("/")
        if path:
            path = check_relative(path, model=where) + "/"
        return SourceSpec(npm=name, version=version, path=path)
    raise _fail(where, f"a source needs 'url' or 'npm': {raw!r}")


def _query(value: Any, url: str, where: str) -> str:
    """A source's ``query``: ``""``, or ``"?k=v[&...]"`` sent with every file of an
    http(s) source."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not _QUERY.match(value):
        raise _fail(where, f"source query {value!r} must be a URL query string such as "
                           "'?tfjs-format=file' (starting with '?', no spaces or '#')")
    if not url.lower().startswith(("http://", "https://")):
        raise _fail(where, f"source query {value!r}: only http(s) sources take a query")
    return value


def parse_entry(raw: Mapping[str, Any], *, family: str | None = None,
                defaults: Mapping[str, Any] | None = None, where: str = "<card>") -> Card:
    """One card from a card-file entry (``defaults`` = the file's ``defaults``)."""
    merged: dict[str, Any] = dict(defaults or {})
    for key, value in raw.items():
        if key in _MERGED and isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    name = merged.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(where, f"an entry needs a 'name' of letters, digits, '_', '.', '-': {name!r}")
    where = f"{where} {name!r}"
    unknown = sorted(set(merged) - _ENTRY_KEYS)
    if unknown:
        raise _fail(where, f"unknown field(s) {', '.join(unknown)}")
    files = tuple(_file(f, where) for f in merged.get("files") or ())
    if not files:
        raise _fail(where, "no 'files' (the first one is the model file)")
    if len({f.path for f in files}) != len(files):
        raise _fail(where, "a file is listed twice")
    sources = tuple(_source(s, where) for s in merged.get("sources") or ())
    if not sources:
        raise _fail(where, "no 'sources'")
    output = merged.get("output")
    if output is not None and output not in OUTPUT_KINDS:
        raise _fail(where, f"output must be one of {', '.join(OUTPUT_KINDS)}, got {output!r}")
    prep = dict(merged.get("preprocessing") or {"kind": "none"})
    if prep.get("kind", "none") not in PREPROCESSING_KINDS:
        raise _fail(where, f"preprocessing kind must be one of {', '.join(PREPROCESSING_KINDS)}")
    labels = merged.get("labels")
    if labels is not None and not (isinstance(labels, Mapping) and len(labels) == 1
                                   and next(iter(labels)) in ("file", "list", "metadata")):
        raise _fail(where, "labels must be {'file': ...}, {'list': [...]} or {'metadata': key}")
    offset = merged.get("label_offset", 0)
    if not isinstance(offset, int) or offset < 0:
        raise _fail(where, "label_offset must be a non-negative integer")
    variant = merged.get("variant") or {}
    if not isinstance(variant, Mapping):
        raise _fail(where, "variant must be an object")
    aliases = merged.get("aliases") or ()
    if isinstance(aliases, str) or not all(isinstance(a, str) and _NAME.match(a)
                                           for a in aliases):
        raise _fail(where, "aliases must be a list of names")
    inputs = merged.get("inputs") or ()
    cuts = _cut_points(merged.get("cut_points") or {}, where)
    handled = {"name", "aliases", "family", "variant", "sources", "files",
               "weights_from_manifest", "inputs", "preprocessing", "labels", "label_offset",
               "output", "cut_points"}
    return Card(
        name=name, family=str(merged.get("family") or family or name),
        aliases=tuple(aliases), variant=dict(variant), sources=sources, files=files,
        weights_from_manifest=bool(merged.get("weights_from_manifest", False)),
        inputs=tuple(dict(i) for i in inputs), preprocessing=prep,
        labels=dict(labels) if labels is not None else None, label_offset=offset,
        output=output, cut_points={k: v[0] for k, v in cuts.items()},
        top_blocks={k: v[1] for k, v in cuts.items() if v[1] is not None},
        extra={k: v for k, v in merged.items() if k not in handled})


def _cut_points(value: Any, where: str) -> dict[str, tuple[str, str | None]]:
    """``{layer: about}`` or ``{layer: {"about", "top_block_after"}}`` → (about, top block)."""
    if not isinstance(value, Mapping):
        raise _fail(where, "cut_points must be an object {layer: description}")
    out: dict[str, tuple[str, str | None]] = {}
    for name, spec in value.items():
        if isinstance(spec, str):
            out[str(name)] = (spec, None)
        elif (isinstance(spec, Mapping) and set(spec) <= {"about", "top_block_after"}
              and isinstance(spec.get("top_block_after", ""), str)):
            after = spec.get("top_block_after")
            out[str(name)] = (str(spec.get("about", "")), str(after) if after else None)
        else:
            raise _fail(where, f"cut point {name!r} must be a description or "
                               "{'about': ..., 'top_block_after': layer}")
    return out


def parse_family(data: Mapping[str, Any] | str | bytes, *, where: str = "<card file>"
                 ) -> list[Card]:
    """Every card of one card file (its text, or the parsed object)."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as err:
            raise _fail(where, f"not valid JSON: {err}") from None
    if not isinstance(data, Mapping):
        raise _fail(where, "a card file holds a JSON object")
    if "models" not in data:  # a single entry
        return [parse_entry(data, where=where)]
    schema = data.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise _fail(where, f"schema {schema!r} is not {SCHEMA!r}; upgrade flaxjs")
    defaults = dict(data.get("defaults") or {})
    for key in ("license", "homepage", "description"):
        if key in data and key not in defaults:
            defaults[key] = data[key]
    family = data.get("family")
    return [parse_entry(entry, family=family, defaults=defaults, where=where)
            for entry in data["models"]]


def variant_matches(card: Card, wanted: Mapping[str, Any]) -> bool:
    """Whether every ``wanted`` value equals the card's (numbers compared as numbers)."""
    for key, value in wanted.items():
        have = card.variant.get(key, object())
        if isinstance(value, (int, float)) and isinstance(have, (int, float)):
            if float(value) != float(have):
                return False
        elif str(have) != str(value):
            return False
    return True


def describe_variants(cards: Sequence[Card]) -> str:
    return "; ".join(f"{c.name}: " + ", ".join(f"{k}={v!r}" for k, v in c.variant.items())
                     for c in cards if c.variant)
