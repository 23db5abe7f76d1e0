"""Read models that npm packages ship as JavaScript modules, without running any JavaScript.

nsfwjs (and others bundled with browserify) wrap model.json as a minified object
literal (unquoted keys, ``!0``/``!1`` for booleans, ``.5`` numbers) and every
shard as a base64 string, inside a UMD wrapper. This module finds the literal
after ``<module>.exports=`` and parses it with a small literal-only reader: no
identifiers are resolved and no code is evaluated. A damaged module (cut short, bad
escapes, nesting deeper than :data:`~flaxjs.io.jsontext.MAX_DEPTH`) is a
:class:`~flaxjs.errors.ModelFormatError` naming the file and the character offset.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from ..errors import ModelFormatError
from .jsontext import MAX_DEPTH, decode

_EXPORTS = re.compile(r"\{1:\[function\((\w+),(\w+),(\w+)\)\{\2\.exports=")
_PLAIN_EXPORTS = re.compile(r"(?:module\.exports|export\s+default)\s*=?\s*")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
#: the characters of a string literal up to its closing quote or next escape
_STRING_RUNS = {q: re.compile(rf"[^{q}\\]*") for q in "\"'"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def looks_like_js(text: str) -> bool:
    """Whether ``text`` is a UMD/CommonJS module rather than JSON."""
    return bool(_EXPORTS.search(text) or _PLAIN_EXPORTS.search(text))


class _Reader:
    def __init__(self, text: str, pos: int, location: str):
        self.text, self.pos, self.location = text, pos, location
        self.depth = 0

    def fail(self, what: str) -> ModelFormatError:
        snippet = self.text[self.pos:self.pos + 40]
        return ModelFormatError(f"{self.location}: cannot read the JavaScript literal at "
                                f"character {self.pos} ({what}): {snippet!r}")

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def value(self) -> Any:
        self.skip()
        text, pos = self.text, self.pos
        if pos >= len(text):
            raise self.fail("unexpected end")
        ch = text[pos]
        if ch in "{[":
            if self.depth >= MAX_DEPTH:
                raise self.fail(f"nested more than {MAX_DEPTH} levels deep")
            self.depth += 1
            value = self.obj() if ch == "{" else self.array()
            self.depth -= 1
            return value
        if ch in "\"'":
            return self.string()
        if text.startswith("!0", pos) or text.startswith("!1", pos):
            self.pos += 2
            return text[pos + 1] == "0"
        for word, val in (("true", True), ("false", False), ("null", None), ("void 0", None)):
            if text.startswith(word, pos):
                self.pos += len(word)
                return val
        match = _NUMBER.match(text, pos)
        if match:
            self.pos = match.end()
            number = match.group()
            return float(number) if any(c in number for c in ".eE") else int(number)
        raise self.fail("not a literal value")

    def obj(self) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        while True:
            self.skip()
            if self.text[self.pos] == "}":
                self.pos += 1
                return out
            if self.text[self.pos] in "\"'":
                key = self.string()
            else:
                match = _IDENT.match(self.text, self.pos) or _NUMBER.match(self.text, self.pos)
                if not match:
                    raise self.fail("object key")
                key = match.group()
                self.pos = match.end()
            self.skip()
            if self.text[self.pos] != ":":
                raise self.fail("expected ':'")
            self.pos += 1
            out[key] = self.value()
            self.skip()
            if self.text[self.pos] == ",":
                self.pos += 1

    def array(self) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        while True:
            self.skip()
            if self.text[self.pos] == "]":
                self.pos += 1
                return out
            out.append(self.value())
            self.skip()
            if self.text[self.pos] == ",":
                self.pos += 1

    def string(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        parts = []
        while True:
            end = _STRING_RUNS[quote].match(self.text, self.pos).end()  # type: ignore[union-attr]
            if end >= len(self.text):
                raise self.fail("unterminated string")
            parts.append(self.text[self.pos:end])
            self.pos = end + 1
            if self.text[end] == quote:
                return "".join(parts)
            esc = self.text[self.pos]
            if esc in "ux":
                digits = self.text[self.pos + 1:self.pos + (5 if esc == "u" else 3)]
                if len(digits) != (4 if esc == "u" else 2) or not all(
                        c in "0123456789abcdefABCDEF" for c in digits):
                    raise self.fail(f"bad \\{esc} escape")
                parts.append(chr(int(digits, 16)))
                self.pos += 1 + len(digits)
            else:
                parts.append(_ESCAPES.get(esc, esc))
                self.pos += 1


def exported_value(text: str, *, location: str) -> Any:
    """The literal a module exports (browserify ``{1:[function(e,a,n){a.exports=...``)."""
    match = _EXPORTS.search(text) or _PLAIN_EXPORTS.search(text)
    if not match:
        raise ModelFormatError(f"{location}: no 'exports=' found; not a JavaScript model module")
    reader = _Reader(text, match.end(), location)
    try:
        return reader.value()
    except IndexError:  # a lookahead past the end: the module was cut short
        reader.pos = len(text)
        raise reader.fail("unexpected end") from None
    except ValueError as err:  # e.g. an integer literal of thousands of digits
        raise reader.fail(str(err)) from None


def parse_model_module(text: str, *, location: str) -> dict[str, Any]:
    """model.json content from a JS module (e.g. nsfwjs ``model.min.js``)."""
    value = exported_value(text, location=location)
    if not isinstance(value, dict):
        raise ModelFormatError(f"{location}: the module exports a {type(value).__name__}, "
                               "not a model.json object")
    return value


def parse_shard_module(data: bytes, *, location: str) -> bytes:
    """Shard bytes from a JS module that exports them as a base64 string."""
    value = exported_value(decode(data, location=location), location=location)
    if not isinstance(value, str):
        raise ModelFormatError(f"{location}: the shard module exports a {type(value).__name__}, "
                               "not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as err:
        raise ModelFormatError(f"{location}: the shard module's string is not base64: {err}"
                               ) from None
