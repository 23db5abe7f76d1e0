"""What a zoo file must be before it is pinned: model.json a model, shards the right size.

A hash pinned at first download only proves that later downloads equal the
first one, so the first one is checked for what it claims to be: the model
file must parse as a TF.js model.json (not an HTML error page, not some other
JSON), and the weight files together must hold exactly the bytes its
``weightsManifest`` declares (not a half shard whose Content-Length matched).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import FlaxjsError, IntegrityError
from ..io import jsmodule
from ..io.source import JS_SHARD_SUFFIXES, parse_model_text
from ..weights.manifest import parse_manifest


def model_json(data: bytes, *, where: str) -> dict[str, Any]:
    """The parsed model file; :class:`IntegrityError` when it is not a TF.js model.json."""
    if data[:256].lstrip().startswith(b"<"):
        raise IntegrityError(f"{where}: an HTML/XML page, not a model.json (the server "
                             "answered with an error or login page); not cached")
    try:
        parsed = parse_model_text(data, location=where)
        topology = parsed.get("modelTopology")
        if not isinstance(topology, Mapping):
            raise IntegrityError(f"{where}: no 'modelTopology' object; not a TF.js "
                                 "model.json")
        parse_manifest(parsed.get("weightsManifest"), source=where)
    except IntegrityError as err:
        raise IntegrityError(f"{err}; not cached") from None
    except (FlaxjsError, ValueError, RecursionError, LookupError, TypeError) as err:
        raise IntegrityError(f"{where}: not a TF.js model.json ({err}); not cached") from None
    return parsed


def declared_bytes(parsed: Mapping[str, Any], *, where: str) -> int | None:
    """The bytes all weight files hold together per the manifest (``None`` with strings)."""
    return parse_manifest(parsed.get("weightsManifest"), source=where).total_bytes


def weight_bytes(path: Path, name: str) -> int:
    """Bytes of weight data in the shard ``name`` stored at ``path`` (decoded for
    JS-module shards)."""
    if name.endswith(JS_SHARD_SUFFIXES):
        try:
            return len(jsmodule.parse_shard_module(path.read_bytes(), location=str(path)))
        except (FlaxjsError, ValueError, RecursionError, LookupError) as err:
            raise IntegrityError(f"{path}: not a weight module ({err})") from None
    return path.stat().st_size
