"""Settings: `.env.example` lists every setting, the ones of :class:`Settings` and those read elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

from extract.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# variables dbt and the Lambda runtime set for themselves, not settings of ours
NOT_SETTINGS = {"PATH", "LAMBDA_TASK_ROOT", "AWS_LAMBDA_LOG_LEVEL", "DBT_LOG_FORMAT_FILE"}


def _example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return {name.strip(): value for name, value in pairs}


def _read_in_code() -> set[str]:
    names: set[str] = set()
    patterns = [
        r"""environ(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']""",
        r"""env\.get\(\s*["']([A-Z][A-Z0-9_]+)["']""",
        r"""env_var\(\s*["']([A-Z][A-Z0-9_]+)["']""",
        r"""_ENV = ["']([A-Z][A-Z0-9_]+)["']""",
    ]
    files = [*ROOT.glob("extract/**/*.py"), *ROOT.glob("transform/*.py"), *ROOT.glob("localdb/*.py")]
    files += [*ROOT.glob("gans/*.py"), *ROOT.glob("lambda/gans_lambda/*.py"), ROOT / "profiles.example.yml"]
    for path in files:
        text = path.read_text(encoding="utf-8")
        for pattern in patterns:
            names.update(re.findall(pattern, text))
        if 'f"GANS_DB_SECRET_{role.upper()}"' in text:  # one variable per database role
            roles = re.search(r"DB_ROLES[^=]*= \(([^)]*)\)", text).group(1)
            names.update(f"GANS_DB_SECRET_{role.upper()}" for role in re.findall(r'"(\w+)"', roles))
    return names - NOT_SETTINGS


def test_env_example_lists_every_settings_field_with_its_default():
    example = _example()
    for name, field in Settings.model_fields.items():
        assert field.alias in example, f"{field.alias} ({name}) missing from .env.example"


def test_env_example_lists_every_variable_read_outside_settings():
    missing = _read_in_code() - set(_example())
    assert not missing, f"read in the code but not in .env.example: {sorted(missing)}"


def test_env_example_names_only_real_settings():
    known = {f.alias for f in Settings.model_fields.values()} | _read_in_code()
    assert set(_example()) - known == set()
