"""The workspace on disk: where runs, jobs and uploaded files live.

Default `./workspace`; the environment variable CAPGAP_HOME moves it. Uploads are kept by content hash
(`uploads/<sha256[:16]>/<original name>`), so the same file uploaded twice is stored once and survives a
restart of the app. All writes are atomic (analysis.atomic_io).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from analysis.atomic_io import write_bytes_atomic

UPLOADS_DIR = "uploads"
_SAFE_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def workspace_root(workspace: str | os.PathLike | None = None) -> Path:
    """The workspace folder: `workspace` if given, else $CAPGAP_HOME, else ./workspace (created if missing)."""
    root = Path(workspace or os.environ.get("CAPGAP_HOME") or "workspace").expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"workspace {root} exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    return root


# A name that becomes a folder of the workspace (a run, a sweep): never a path, never an option, never hidden.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_name(name: str, what: str = "name") -> str:
    """A folder-safe name (letters, digits, '.', '_', '-'; up to 64 characters; starting with a letter or digit),
    or ValueError saying so. Every entry point that turns a name into a folder calls it: the app's forms, the CLI,
    the engine and the job runner, so `../../x`, `/tmp/x` or `--workspace=/etc` never becomes a path."""
    text = name if isinstance(name, str) else ""
    if not NAME_PATTERN.match(text) or ".." in text:
        raise ValueError(f"{what} {name!r}: expected letters, digits, '.', '_' or '-' (up to 64 characters, "
                         f"starting with a letter or digit; no '..')")
    return text


def content_hash(data: bytes) -> str:
    """First 16 hex digits of the SHA-256 of `data`: the id of an upload and the provenance of a dataset."""
    return hashlib.sha256(data).hexdigest()[:16]


def safe_filename(name: str) -> str:
    """A file name with no folders and only harmless characters ('../x y.csv' -> 'x_y.csv')."""
    base = Path(name.replace("\\", "/")).name
    cleaned = "".join(c if c in _SAFE_CHARS else "_" for c in base).lstrip(".")
    return cleaned or "upload"


@dataclass(frozen=True)
class Upload:
    """One stored upload: its content hash, original (sanitised) name, path and size."""

    upload_id: str
    name: str
    path: Path
    n_bytes: int


def store_upload(data: bytes, name: str, workspace: str | os.PathLike | None = None) -> Upload:
    """Keep `data` under uploads/<hash>/<name>; storing the same bytes again is a no-op."""
    upload_id = content_hash(data)
    folder = workspace_root(workspace) / UPLOADS_DIR / upload_id
    path = folder / safe_filename(name)
    existing = list_folder_files(folder)
    if existing:
        return Upload(upload_id, existing[0].name, existing[0], existing[0].stat().st_size)
    write_bytes_atomic(path, data)
    return Upload(upload_id, path.name, path, len(data))


def list_folder_files(folder: Path) -> list[Path]:
    """The visible files of `folder` (none if it does not exist), sorted by name."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def list_uploads(workspace: str | os.PathLike | None = None) -> list[Upload]:
    """Every stored upload, oldest first."""
    base = workspace_root(workspace) / UPLOADS_DIR
    uploads = []
    for folder in base.iterdir() if base.is_dir() else []:
        files = list_folder_files(folder)
        if folder.is_dir() and files:
            uploads.append(Upload(folder.name, files[0].name, files[0], files[0].stat().st_size))
    return sorted(uploads, key=lambda u: u.path.stat().st_mtime)


def remove_upload(upload_id: str, workspace: str | os.PathLike | None = None) -> bool:
    """Delete one upload by id; True if something was removed. Ids are checked to be plain hashes."""
    if not upload_id or not all(c in "0123456789abcdef" for c in upload_id):
        raise ValueError(f"not an upload id: {upload_id!r} (expected hex digits)")
    folder = workspace_root(workspace) / UPLOADS_DIR / upload_id
    if not folder.is_dir():
        return False
    shutil.rmtree(folder)
    return True
