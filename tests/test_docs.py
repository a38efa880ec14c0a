"""The dbt docs are complete: every macro, model, seed, source and column described, the overview current.

The project is built empty on the session's MariaDB (seeds and models, no landing rows) and
``dbt docs generate`` writes ``manifest.json`` (what the yml files describe) and
``catalog.json`` (the columns the built tables and views really have). A column the
database has and no yml describes is a failure, and so is a macro, a macro argument, a
model, a seed or a source without a description, and an overview that does not name each
landing table and each mart.
"""

from __future__ import annotations

import json
import re

import pytest

from extract import db
from extract.settings import Settings
from transform.dbt_runner import DBT_PROJECT_DIR, mart_names, run_dbt

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def docs(mariadb, tmp_path_factory) -> dict:
    """``{"manifest": ..., "catalog": ...}`` of the project built on empty landing tables."""
    settings = Settings()
    db.bootstrap(settings, reset=True)
    paths = tmp_path_factory.mktemp("docs")
    kwargs = {"target_path": paths / "target", "log_path": paths / "logs", "profiles_dir": paths / "profiles"}
    for command in (["seed"], ["run"], ["docs", "generate"]):
        result = run_dbt(command, settings, **kwargs)
        assert result.success, f"dbt {' '.join(command)} failed: {result.exception}"
    return {
        "manifest": json.loads((paths / "target" / "manifest.json").read_text()),
        "catalog": json.loads((paths / "target" / "catalog.json").read_text()),
    }


def _own(nodes: dict) -> list[dict]:
    return [node for node in nodes.values() if node.get("package_name") == "gans"]


def test_every_macro_and_argument_is_described(docs):
    macros = _own(docs["manifest"]["macros"])
    assert len(macros) > 40
    bare = [m["name"] for m in macros if not m["description"].strip()]
    assert not bare, "macros without a description (macros/<theme>/_<theme>__macros.yml):\n" + "\n".join(bare)
    undocumented = []
    for macro in macros:
        described = {a["name"] for a in macro["arguments"] if a.get("description", "").strip()}
        # the macro's own parameters, from its signature in the SQL file
        signature = re.search(r"macro\s+" + macro["name"] + r"\s*\(([^)]*)\)", macro["macro_sql"])
        params = [p.split("=")[0].strip() for p in signature.group(1).split(",") if p.strip()] if signature else []
        undocumented += [f"{macro['name']}({p})" for p in params if p not in described]
    assert not undocumented, "macro arguments without a description:\n" + "\n".join(undocumented)


def test_every_model_seed_source_and_column_is_described(docs):
    manifest, catalog = docs["manifest"], docs["catalog"]
    nodes = [n for n in _own(manifest["nodes"]) if n["resource_type"] in ("model", "seed")]
    sources = _own(manifest["sources"])
    assert [n["name"] for n in nodes + sources if not n["description"].strip()] == []
    missing = []
    for node in nodes + sources:
        built = (catalog["sources"] if node["resource_type"] == "source" else catalog["nodes"]).get(node["unique_id"])
        assert built is not None, f"{node['name']} is not in the catalog"
        described = {name.lower() for name, c in node["columns"].items() if c["description"].strip()}
        missing += [f"{node['name']}.{name}" for name in built["columns"] if name.lower() not in described]
    assert not missing, "columns without a description in the folder's yml:\n" + "\n".join(missing)


def test_overview_names_every_landing_table_and_mart(docs):
    overview = docs["manifest"]["docs"]["doc.gans.__overview__"]["block_contents"]
    tables = {s["name"] for s in _own(docs["manifest"]["sources"])}
    named = set(re.findall(r"`([a-z_]+)`", overview))
    assert tables - named == set()
    assert set(mart_names()) - named == set()
    assert set(mart_names(DBT_PROJECT_DIR)) == {
        n["name"] for n in _own(docs["manifest"]["nodes"]) if n["resource_type"] == "model" and n["fqn"][1] == "marts"
    }
