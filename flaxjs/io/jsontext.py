"""Decode and parse a model's JSON files as TF.js does, with errors that name the file and byte.

TF.js reads model.json with ``response.json()``, which decodes UTF-8 only; a file
saved as UTF-16 or with bytes that are not UTF-8 is refused with the offset of the
first bad byte. Nesting is bounded (:data:`MAX_DEPTH`) so that neither the parser
nor the recursive code that walks topologies and configs can run out of stack.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from ..errors import ModelFormatError

#: the deepest nesting of objects and arrays accepted. Real models reach 15 (Teachable
#: Machine's nested Sequential models); every nested model adds about four levels.
MAX_DEPTH = 100

_UTF16_32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE,
                  codecs.BOM_UTF16_BE)


def looks_like_text(data: bytes) -> bool:
    """Whether bytes the format sniffer calls binary are text in another encoding (a
    byte-order mark, UTF-16/32 JSON, or mostly printable ASCII such as Latin-1 JSON),
    which :func:`decode` then names, rather than some other binary file."""
    if data.startswith(_UTF16_32_BOMS):
        return True
    head = data[:4096]
    if head[:8].strip(b"\x00 \t\r\n")[:1] in (b"{", b"["):  # JSON's first character
        return True
    printable = sum(32 <= b < 127 or b in b"\t\r\n" for b in head)
    return b"\x00" not in head and printable >= 0.9 * len(head)


def decode(data: bytes, *, location: str) -> str:
    """UTF-8 text (a UTF-8 byte-order mark is dropped) or a :class:`ModelFormatError`."""
    # without a byte-order mark, UTF-16/32 JSON shows a NUL within its first two bytes
    if data.startswith(_UTF16_32_BOMS) or (len(data) > 1 and b"\x00" in data[:2]):
        raise ModelFormatError(f"{location}: the file is UTF-16 or UTF-32 encoded; TF.js reads "
                               "only UTF-8, so save it again as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ModelFormatError(f"{location}: not UTF-8 text: byte {err.start} "
                               f"({data[err.start:err.start + 1]!r}) {err.reason}; TF.js reads "
                               "only UTF-8, so save the file again as UTF-8") from None


def loads(text: str, *, location: str) -> Any:
    """``json.loads`` with its errors (and over-deep nesting) as :class:`ModelFormatError`."""
    try:
        value = json.loads(text)
    except ValueError as err:  # JSONDecodeError, or e.g. an integer of 5,000 digits
        raise ModelFormatError(f"{location}: not valid JSON ({err})") from None
    except RecursionError:
        raise ModelFormatError(f"{location}: JSON nested too deeply to parse (more than "
                               f"{MAX_DEPTH} levels are refused)") from None
    check_depth(value, location=location)
    return value


def check_depth(value: Any, *, location: str) -> None:
    """Refuse objects and arrays nested deeper than :data:`MAX_DEPTH` (checked without
    recursion, so any depth is measured safely)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise ModelFormatError(f"{location}: JSON nested more than {MAX_DEPTH} levels deep; "
                                   "no TF.js model needs that, the file is damaged or hostile")
        stack.extend((child, depth + 1) for child in children)
