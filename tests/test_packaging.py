"""What the wheel holds: every package of flaxjs/, the zoo cards and the examples."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")
def test_every_package_is_listed_in_pyproject():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts)
               for p in (ROOT / "flaxjs").rglob("__init__.py")}
    mapped = set(config["package-dir"])
    assert set(config["packages"]) == on_disk | mapped
    assert config["package-dir"] == {"flaxjs.zoo_cards": "zoo", "flaxjs.examples": "examples"}


def test_the_examples_ship_as_flaxjs_examples():
    from flaxjs.examples import transfer_learning

    assert Path(transfer_learning.__file__).parent == ROOT / "examples"
