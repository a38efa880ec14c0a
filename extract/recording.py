"""Record and replay format: a folder with ``manifest.jsonl`` and one file per response body.

The format is the one of ``../shared/recordings`` (see its README). Each manifest line
is a JSON object::

    {"source": "openweather", "key": {"city": "Berlin"},
     "request": {"method": "GET", "url": "https://...", "params": {...}},   # never an API key
     "fetched_at": "2024-06-18T10:30:00Z",      # UTC, YYYY-MM-DDTHH:MM:SS[.ffffff]Z
     "fetched_at_estimated": false, "status": 200, "content_type": "application/json",
     "body": "openweather/berlin_20240618T103000Z.json",   # relative to the folder
     "note": "...", "captured_by": "..."}

:class:`Recorder` appends to a folder (live ``--record`` and the spool of unlanded
batches); :func:`read_manifest` reads one back in ``fetched_at`` order (ties keep file order).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extract.http import redact, redact_body, strip_secrets
from extract.instants import format_instant, parse_instant
from extract.response import Response

MANIFEST = "manifest.jsonl"
_EXTENSIONS = {"json": ".json", "html": ".html", "xml": ".xml"}


class ManifestError(ValueError):
    """A manifest line is not valid JSON or lacks a required field; the message names the file and line."""


@dataclass(frozen=True)
class ManifestEntry:
    """One manifest line: the recorded :class:`~extract.response.Response` (its body not yet read)
    and how it was recorded. ``directory`` is the folder holding the manifest, ``line`` the
    1-based line number, ``body`` the body file's path relative to ``directory``."""

    directory: Path
    line: int
    response: Response
    body: str
    fetched_at_estimated: bool = False
    note: str | None = None
    captured_by: str | None = None

    @property
    def source(self) -> str:
        """The recorded response's source."""
        return self.response.source

    @property
    def key(self) -> dict[str, Any]:
        """The recorded response's request key."""
        return self.response.key

    @property
    def fetched_at(self) -> datetime:
        """The recorded response's UTC fetch instant."""
        return self.response.fetched_at

    @property
    def body_path(self) -> Path:
        """Absolute path of the body file."""
        return self.directory / self.body

    def read(self) -> Response:
        """The response with its body read from :attr:`body_path`; :class:`OSError` when it cannot be read."""
        return self.response.with_body(self.body_path.read_bytes())


def _entry(directory: Path, line_no: int, text: str) -> ManifestEntry:
    where = f"{directory / MANIFEST}:{line_no}"
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ManifestError(f"{where}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: expected a JSON object")
    try:
        request = data["request"]
        response = Response(
            source=str(data["source"]),
            key=dict(data["key"]),
            method=str(request.get("method", "GET")),
            url=str(request["url"]),
            params=dict(request.get("params") or {}),
            fetched_at=parse_instant(str(data["fetched_at"])),
            status=int(data["status"]),
            content_type=str(data.get("content_type") or ""),
        )
        entry = ManifestEntry(
            directory=directory,
            line=line_no,
            response=response,
            body=str(data["body"]),
            fetched_at_estimated=bool(data.get("fetched_at_estimated", False)),
            note=data.get("note"),
            captured_by=data.get("captured_by"),
        )
    except KeyError as exc:
        raise ManifestError(f"{where}: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise ManifestError(f"{where}: bad field: {exc}") from None
    if Path(entry.body).is_absolute() or ".." in Path(entry.body).parts:
        raise ManifestError(f"{where}: body path must be relative and inside the folder: {entry.body!r}")
    return entry


def read_manifest(directory: str | Path, sources: set[str] | frozenset[str] | None = None) -> list[ManifestEntry]:
    """The entries of ``directory/manifest.jsonl`` (only ``sources``, when given), sorted by ``fetched_at``.

    Blank lines are skipped. Raises :class:`FileNotFoundError` when there is no manifest and
    :class:`ManifestError` on a malformed line (nothing is returned then).
    """
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no {MANIFEST} in {directory}")
    entries = []
    with path.open(encoding="utf-8") as handle:
        for line_no, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            entry = _entry(directory, line_no, text)
            if sources is None or entry.source in sources:
                entries.append(entry)
    return sorted(entries, key=lambda e: (e.fetched_at, e.line))


def _slug(key: dict[str, Any]) -> str:
    text = "_".join(str(v) for v in key.values())
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").lower()[:60] or "key"
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:8]
    return f"{slug}-{digest}"


class Recorder:
    """Writes responses into ``directory`` in the manifest format (creating it); safe across threads.

    Query parameters that look like keys are dropped, the URL is redacted and so is the
    body, so no API key reaches a recording: registered secrets (:func:`extract.http.register_secret`)
    are replaced by ``***`` in every body, ``appid=...``-style values only in bodies of non-2xx
    responses (error pages echo the request URL; a 2xx body is kept as received, Wikipedia
    pages do contain ``key=`` links). ``note`` and ``captured_by`` go on every line.
    """

    def __init__(self, directory: str | Path, note: str | None = None, captured_by: str = "gans-extract"):
        self.directory = Path(directory)
        self.note = note
        self.captured_by = captured_by
        self.count = 0
        self._lock = threading.Lock()

    @property
    def manifest(self) -> Path:
        """Path of the manifest file."""
        return self.directory / MANIFEST

    def record(self, fetched: Response, note: str | None = None) -> ManifestEntry:
        """Write ``fetched``'s body and append its manifest line; returns the entry as written."""
        kind = fetched.content_type.split(";")[0].split("/")[-1].strip().lower()
        ext = _EXTENSIONS.get(kind, ".json" if kind.endswith("json") else ".txt")
        if fetched.fetched_at.tzinfo is None:
            raise ValueError("fetched_at must be timezone-aware")
        stamp = fetched.fetched_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")  # file name; the line keeps µs
        with self._lock:
            folder = self.directory / fetched.source
            folder.mkdir(parents=True, exist_ok=True)
            base = f"{_slug(fetched.key)}_{stamp}"
            name, n = base + ext, 1
            while (folder / name).exists():
                n += 1
                name = f"{base}_{n}{ext}"
            body = redact_body(fetched.body, patterns=not 200 <= fetched.status < 300)
            (folder / name).write_bytes(body)
            line: dict[str, Any] = {
                "source": fetched.source,
                "key": fetched.key,
                "request": {
                    "method": fetched.method,
                    "url": redact(fetched.url),
                    "params": strip_secrets(fetched.params),
                },
                "fetched_at": format_instant(fetched.fetched_at),
                "fetched_at_estimated": False,
                "status": fetched.status,
                "content_type": fetched.content_type,
                "note": (note or self.note or "exact bytes as received")
                + ("" if body is fetched.body else "; API keys in the body replaced by ***"),
                "captured_by": self.captured_by,
                "body": f"{fetched.source}/{name}",
            }
            with self.manifest.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            self.count += 1
        return _entry(self.directory, 0, json.dumps(line))
