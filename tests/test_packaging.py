"""What the wheel holds (every package of flaxjs/, the zoo cards, the examples, the license),
and the project around it: the notebook's install cell and badges follow pyproject.toml's
repository, CI runs the README's test command, demo outputs stay out of git."""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
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


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11+")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_license_file_is_the_apache_2_text():
    project = _pyproject()
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "END OF TERMS AND CONDITIONS" in text and len(text.splitlines()) > 190


def _notebook() -> dict:
    return json.loads((ROOT / "notebooks" / "transfer_learning.ipynb").read_text())


def _colab_badge(repository: str) -> str:
    path = repository.removeprefix("https://github.com/")
    return (f"(https://colab.research.google.com/github/{path}/blob/main/notebooks/"
            "transfer_learning.ipynb)")


def test_the_repository_is_named_in_pyproject_and_followed_by_notebook_and_badges():
    repository = _pyproject()["urls"]["Repository"]
    cells = _notebook()["cells"]
    install = "".join(cells[1]["source"])
    assert f'REPOSITORY = "{repository}"' in install
    assert _colab_badge(repository) in "".join(cells[0]["source"])
    assert _colab_badge(repository) in (ROOT / "README.md").read_text()


def _run_install_cell(monkeypatch, *, importable: bool, cwd: Path,
                      released: bool) -> list[list[str]]:
    import importlib.util
    import subprocess

    calls: list[list[str]] = []

    def run(argv, check=False):
        calls.append(list(argv[5:]))  # after: python -m pip install -q
        return subprocess.CompletedProcess(argv, 0 if released or "@" in argv[-1] else 1)

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: real_find_spec(name, *a) if importable else None)
    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.chdir(cwd)
    exec("".join(_notebook()["cells"][1]["source"]), {})
    return calls


def test_the_notebook_install_cell(monkeypatch, tmp_path):
    repository = _pyproject()["urls"]["Repository"]
    nowhere = tmp_path  # a folder outside any checkout, as Colab's /content
    assert _run_install_cell(monkeypatch, importable=True, cwd=nowhere,
                             released=True) == []
    assert _run_install_cell(monkeypatch, importable=False, cwd=nowhere,
                             released=True) == [["flaxjs[notebook]"]]
    assert _run_install_cell(monkeypatch, importable=False, cwd=nowhere,
                             released=False) == [["flaxjs[notebook]"],
                                                 [f"flaxjs[notebook] @ git+{repository}"]]
    assert _run_install_cell(monkeypatch, importable=False, cwd=ROOT / "notebooks",
                             released=True) == [["-e", f"{ROOT}[notebook]"]]


def test_demo_and_notebook_outputs_are_ignored_by_git():
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    paths = ["flaxjs-demo/results.json", "notebooks/shapes-tfjs/model.json",
             "shapes-tfjs/group1-shard1of1.bin"]
    done = subprocess.run([git, "check-ignore", "--no-index", *paths], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.stdout.split() == paths


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "pytest" in line
                   and line.startswith("python3 -m venv"))
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert lines[-1] == command
    assert sum("pytest" in line for line in lines) == 1


def test_every_keras_builder_has_a_docstring():
    from flaxjs import keras

    builders = [name for name, value in vars(keras).items() if inspect.isfunction(value)
                and value.__module__ == keras.__name__ and not name.startswith("_")]
    assert "Dense" in builders and "Conv2D" in builders
    assert [name for name in builders if not (getattr(keras, name).__doc__ or "").strip()] == []
