"""One place for settings: every ``FLAXJS_*`` variable is read by flaxjs.settings, with one
rule for flags, checked numbers, one cache home, and all of them documented."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from flaxjs import settings, slot_cache, zoo
from flaxjs.errors import FlaxjsError, SettingsError
from flaxjs.zoo import cache, sources

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "flaxjs"
NAME = re.compile(r"\bFLAXJS_[A-Z0-9_]*[A-Z0-9]\b")
FLAGS = {
    "FLAXJS_CACHE": (settings.slot_cache, True),
    "FLAXJS_COMPILE_CACHE": (settings.compile_cache, True),
    "FLAXJS_XLA_DEFAULTS": (settings.xla_defaults, True),
    "FLAXJS_OFFLINE": (settings.offline, False),
    "FLAXJS_TRIM_HEAP": (settings.trim_heap, True),
}


@pytest.fixture
def clean_env(monkeypatch):
    for name in settings.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# ---------------------------------------------------------------- one rule for flags
@pytest.mark.parametrize("name", sorted(FLAGS))
def test_every_flag_follows_one_rule(clean_env, name):
    read, default = FLAGS[name]
    assert read() is default
    for word in ("1", "true", "TRUE", " Yes ", "on"):
        clean_env.setenv(name, word)
        assert read() is True, word
    for word in ("0", "false", "No", "OFF", "", "  "):
        clean_env.setenv(name, word)
        assert read() is False, word
    clean_env.setenv(name, "maybe")
    with pytest.raises(SettingsError) as err:
        read()
    message = str(err.value)
    assert f"{name}='maybe'" in message and "1, true, yes or on" in message
    assert "0, false, no, off or empty" in message
    assert isinstance(err.value, FlaxjsError)


def test_fusion_emitters_is_a_flag_or_unset(clean_env):
    assert settings.fusion_emitters() is None
    clean_env.setenv("FLAXJS_FUSION_EMITTERS", "yes")
    assert settings.fusion_emitters() is True
    clean_env.setenv("FLAXJS_FUSION_EMITTERS", "0")
    assert settings.fusion_emitters() is False
    clean_env.setenv("FLAXJS_FUSION_EMITTERS", "2")
    with pytest.raises(SettingsError, match="FLAXJS_FUSION_EMITTERS='2' is not a yes/no"):
        settings.fusion_emitters()


# ---------------------------------------------------------------- numbers
@pytest.mark.parametrize("name, read, default, good, bad", [
    ("FLAXJS_ZOO_RETRIES", settings.zoo_retries, 4, ("0", 0), ["-1", "2.5", "many"]),
    ("FLAXJS_ZOO_BACKOFF", settings.zoo_backoff, 0.5, ("0", 0.0), ["-0.1", "nan", "soon"]),
    ("FLAXJS_ZOO_TIMEOUT", settings.zoo_timeout, 10.0, (" 2.5 ", 2.5), ["0", "-3", "x"]),
    ("FLAXJS_MICRO_BATCH", settings.micro_batch, None, ("0", 0), ["-2", "1.5", "big"]),
])
def test_numbers_are_parsed_with_a_clear_error(clean_env, name, read, default, good, bad):
    assert read() == default
    clean_env.setenv(name, "")
    assert read() == default, "empty means the default"
    clean_env.setenv(name, good[0])
    assert read() == good[1]
    for value in bad:
        clean_env.setenv(name, value)
        with pytest.raises(SettingsError, match=f"{name}={value!r} is (not|out of range)") as err:
            read()
        assert "unset it for the default" in str(err.value)


def test_a_bad_setting_surfaces_where_it_is_used(clean_env):
    clean_env.setenv("FLAXJS_ZOO_RETRIES", "lots")
    with pytest.raises(SettingsError, match="FLAXJS_ZOO_RETRIES"):
        sources.http_options(progress=False)
    clean_env.setenv("FLAXJS_OFFLINE", "perhaps")
    with pytest.raises(SettingsError, match="FLAXJS_OFFLINE"):
        sources.offline()


def test_npm_and_mirrors(clean_env):
    assert settings.npm() == "npm" and settings.zoo_mirrors() == []
    for word, expected in (("", "npm"), ("on", "npm"), ("0", None), ("Off", None),
                           ("/opt/node/bin/npm", "/opt/node/bin/npm")):
        clean_env.setenv("FLAXJS_NPM", word)
        assert settings.npm() == expected, word
    clean_env.setenv("FLAXJS_NPM", "no")
    assert sources.npm_command() is None
    clean_env.setenv("FLAXJS_ZOO_MIRROR", " https://a.example/  /srv/mirror ")
    assert settings.zoo_mirrors() == ["https://a.example/", "/srv/mirror"]


# ---------------------------------------------------------------- one home
def test_one_home_for_every_cache(clean_env, tmp_path):
    clean_env.setenv("FLAXJS_HOME", str(tmp_path / "h"))
    assert settings.home() == tmp_path / "h"
    assert settings.zoo_dir() == tmp_path / "h" / "zoo"
    assert settings.xla_cache_dir() == tmp_path / "h" / "xla-cache"
    assert settings.slots_dir() == tmp_path / "h" / "slots"
    assert zoo.home() == settings.home()
    assert cache.model_dir("m") == tmp_path / "h" / "zoo" / "m"
    assert slot_cache._folder() == tmp_path / "h" / "slots"
    clean_env.setenv("FLAXJS_CACHE", "0")
    assert slot_cache._folder() is None


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="the XDG rule is for Linux")
def test_default_home_is_the_platform_user_cache(clean_env, tmp_path):
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert settings.home() == tmp_path / "xdg" / "flaxjs"
    clean_env.setenv("FLAXJS_HOME", "")
    assert settings.home() == tmp_path / "xdg" / "flaxjs"
    clean_env.delenv("XDG_CACHE_HOME")
    assert settings.home() == Path.home() / ".cache" / "flaxjs"
    assert settings.xla_cache_dir().parent == settings.slots_dir().parent == settings.home()


# ---------------------------------------------------------------- only here, all documented
def _names_in_code(path: Path) -> set[str]:
    """FLAXJS_* names used as whole string constants (what an environment read needs)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and NAME.fullmatch(node.value)}


def test_only_settings_reads_flaxjs_variables():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "settings.py":
            continue
        text = path.read_text(encoding="utf-8")
        found = _names_in_code(path)
        found |= {m.group(1) for m in re.finditer(
            r"(?:environ|getenv)\b[^\n]*?(FLAXJS_\w*)", text)}
        if found:
            offenders[str(path.relative_to(ROOT))] = sorted(found)
    assert not offenders, f"read FLAXJS_* variables through flaxjs.settings: {offenders}"
    assert _names_in_code(PACKAGE / "settings.py") == set(settings.VARIABLES)


def test_the_scan_finds_an_environment_read(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text('import os\nX = os.environ.get("FLAXJS_SOMETHING", "1")\n')
    assert _names_in_code(sample) == {"FLAXJS_SOMETHING"}


def test_every_variable_is_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    for name in settings.VARIABLES:
        assert f"`{name}`" in section, f"{name} missing from README's Settings section"
    mentioned = set()
    for path in PACKAGE.rglob("*.py"):
        mentioned |= set(NAME.findall(path.read_text(encoding="utf-8")))
    assert mentioned <= set(settings.VARIABLES), "flaxjs mentions variables it does not define"


def test_test_and_notebook_variables_are_listed_in_the_readme():
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Settings", 1)[1]
    section = section.split("\n## ", 1)[0]
    files = [*(ROOT / "tests").glob("*.py"), *(ROOT / "notebooks").glob("*.ipynb"),
             *(ROOT / "benchmarks").rglob("*.py")]
    used = set()
    for path in files:
        used |= set(NAME.findall(path.read_text(encoding="utf-8")))
    used -= {"FLAXJS_SOMETHING"}  # this file's own scanner test
    missing = sorted(n for n in used if f"`{n}`" not in section)
    assert not missing, f"list these in README's Settings section: {missing}"
