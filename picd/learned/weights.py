"""Shipped weights of the learned background codec: local files only, checked by hash.

Layout (under ``picd/weights/``)::

    MANIFEST.json                 {"format": 1, "default": <id>,
                                   "models": [{"id": 1, "name": "...",
                                               "files": {"config.json": "<sha256>",
                                                         "model.safetensors": "<sha256>"}}]}
    <name>/config.json            `ModelConfig` as JSON
    <name>/model.safetensors      the state dict plus the frozen tables (``tables.*``)

Model ids are append-only numbers (the learned codec's payload starts with one): an id is
never reused, so an old file always names the exact weights it was coded with. Nothing is ever
downloaded; a missing, unknown or altered model raises `MissingModelError`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from picd.errors import MissingModelError

if TYPE_CHECKING:
    from picd.learned.model import LearnedCodecModel

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
MANIFEST = "MANIFEST.json"
FILES = ("config.json", "model.safetensors")

_cache: dict[tuple[str, int], "LearnedCodecModel"] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class ModelEntry:
    """One line of the manifest."""

    id: int
    name: str
    files: dict[str, str]


def read_manifest(weights_dir: Path = WEIGHTS_DIR) -> tuple[int | None, dict[int, ModelEntry]]:
    """(default id, entries by id). A missing manifest means no models are installed."""
    path = Path(weights_dir) / MANIFEST
    if not path.is_file():
        return None, {}
    try:
        doc = json.loads(path.read_text())
        entries = {}
        for m in doc["models"]:
            e = ModelEntry(int(m["id"]), str(m["name"]), {str(k): str(v) for k, v in m["files"].items()})
            entries[e.id] = e
        default = doc.get("default")
        return (int(default) if default is not None else None), entries
    except (ValueError, KeyError, TypeError) as exc:
        raise MissingModelError(f"learned-codec manifest {path} is unreadable ({exc})") from None


def default_model_id(weights_dir: Path = WEIGHTS_DIR) -> int:
    default, entries = read_manifest(weights_dir)
    if default is None or default not in entries:
        raise MissingModelError(f"no default learned background model installed in {weights_dir}")
    return default


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_model(model_id: int, weights_dir: Path = WEIGHTS_DIR) -> "LearnedCodecModel":
    """The model with this manifest id, in eval mode with its frozen tables, cached per process.

    Raises `MissingModelError` when the id is unknown, a file is missing, a hash differs from
    the manifest, or the files do not make a consistent model.
    """
    key = (str(Path(weights_dir).resolve()), int(model_id))
    with _lock:
        if key in _cache:
            return _cache[key]
        model = _load(int(model_id), Path(weights_dir))
        _cache[key] = model
        return model


def _load(model_id: int, weights_dir: Path) -> "LearnedCodecModel":
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from picd.learned.model import LearnedCodecModel, ModelConfig

    _, entries = read_manifest(weights_dir)
    entry = entries.get(model_id)
    if entry is None:
        raise MissingModelError(
            f"learned background model id {model_id} is not installed in this picd "
            f"(known: {sorted(entries)}); upgrade picd to decode this file"
        )
    folder = weights_dir / entry.name
    for name in FILES:
        path = folder / name
        want = entry.files.get(name)
        if want is None or not path.is_file():
            raise MissingModelError(f"learned background model {entry.name!r}: {name} is missing")
        if _sha256(path) != want:
            raise MissingModelError(
                f"learned background model {entry.name!r}: {name} does not match its SHA-256 in {MANIFEST}"
            )
    try:
        config = ModelConfig.from_dict(json.loads((folder / "config.json").read_text()))
        state = load_file(str(folder / "model.safetensors"))
        model = LearnedCodecModel(config)
        model.load_tables({k: v for k, v in state.items() if k.startswith("tables.")})
        model.load_state_dict({k: v for k, v in state.items() if not k.startswith("tables.")}, strict=True)
    except (ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise MissingModelError(f"learned background model {entry.name!r} is inconsistent ({msg})") from None
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def save_model(model: "LearnedCodecModel", name: str, model_id: int, weights_dir: Path = WEIGHTS_DIR, default: bool = True) -> Path:
    """Write ``<name>/config.json`` and ``model.safetensors`` and add the model to the manifest.

    ``model.update()`` must have been called. An existing id may only be rewritten under the
    same name (re-exporting during development); never reuse a released id for other weights.
    """
    from safetensors.torch import save_file

    weights_dir = Path(weights_dir)
    folder = weights_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(model.config.to_json())
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    state.update(model.tables_state())
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt", "model_id": str(model_id)})
    default_id, entries = read_manifest(weights_dir)
    old = entries.get(model_id)
    if old is not None and old.name != name:
        raise ValueError(f"model id {model_id} already belongs to {old.name!r}")
    entries[model_id] = ModelEntry(model_id, name, {f: _sha256(folder / f) for f in FILES})
    doc = {
        "format": 1,
        "default": model_id if default or default_id is None else default_id,
        "models": [
            {"id": e.id, "name": e.name, "files": dict(sorted(e.files.items()))}
            for e in sorted(entries.values(), key=lambda e: e.id)
        ],
    }
    (weights_dir / MANIFEST).write_text(json.dumps(doc, indent=2) + "\n")
    with _lock:
        _cache.pop((str(weights_dir.resolve()), model_id), None)
    return folder
