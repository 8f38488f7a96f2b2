"""The text corpus a run trains and evaluates on, and its deterministic train/validation split.

Default (offline anywhere): the Python standard library's own `.py` files (test folders and site-packages left
out) plus `pydoc_data.topics`, the text of the `help()` topics. That text differs between Python versions, so
the corpus records the version and a content hash. Users point at their own `.txt`/`.md`/`.py` files, `.jsonl`
files (one JSON object per line, text in `text_field`) or `.parquet` files (a `text_field` column), or folders
of them.

Documents are cut into pieces of about `piece_bytes` at line boundaries and each piece goes to the validation
split when a hash of its text falls below `val_fraction`, so the split does not depend on file order and a
single large file still gets a validation part.
"""
from __future__ import annotations

import hashlib
import json
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from analysis import json_io

TEXT_SUFFIXES = (".txt", ".md", ".py", ".rst", ".text")
DATA_SUFFIXES = (".jsonl", ".parquet")
DEFAULT_CORPUS_NAME = "python-stdlib"


@dataclass(frozen=True)
class CorpusConfig:
    """Where the text comes from and how it is split."""

    paths: tuple[str, ...] = ()  # text/jsonl/parquet files or folders; empty = the Python stdlib corpus
    text_field: str = "text"  # jsonl key / parquet column holding the text
    max_bytes: int = 0  # keep only the first N bytes of documents (sorted by name); 0 = all (tiny presets cap it)
    val_fraction: float = 0.05  # share of pieces held out for validation (a hash decides, not file order)
    piece_bytes: int = 8192  # documents are cut into pieces of about this size before the split


@dataclass(frozen=True)
class Corpus:
    """The loaded text: train and validation pieces plus provenance."""

    name: str  # "python-stdlib" or the user's first path
    content_hash: str  # 16 hex digits over every document's name and text
    python_version: str  # matters for the default corpus, recorded always
    n_documents: int
    n_bytes: int  # UTF-8 bytes of all documents
    train_texts: tuple[str, ...]
    val_texts: tuple[str, ...]
    split_key: str = ""  # the split settings ("v0.05-p8192"): the same text split differently is another dataset

    @property
    def cache_key(self) -> str:
        """Names cached files derived from this corpus and split."""
        return f"{self.content_hash}-{self.split_key}"

    def provenance(self) -> dict:
        """The facts a results row or run spec records about this corpus."""
        return {"corpus_name": self.name, "corpus_hash": self.content_hash,
                "python_version": self.python_version, "corpus_bytes": self.n_bytes,
                "n_documents": self.n_documents}


def stdlib_documents() -> list[tuple[str, str]]:
    """(name, text) for every stdlib .py file outside test folders and site-packages, then the pydoc topics."""
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "dist-packages", "test", "tests", "__pycache__"}
    docs = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if skip.intersection(rel.parts):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if text.strip():
            docs.append((rel.as_posix(), text))
    try:
        from pydoc_data.topics import topics
    except ImportError:  # some minimal Python builds leave pydoc_data out
        topics = {}
    docs.extend((f"pydoc_data.topics:{key}", topics[key]) for key in sorted(topics))
    return docs


def _files_under(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES + DATA_SUFFIXES)
    raise FileNotFoundError(f"corpus path {path} does not exist")


def read_documents(path: Path, text_field: str) -> list[tuple[str, str]]:
    """(name, text) pairs from one user file: plain text, JSON lines or Parquet."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        docs = []
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json_io.loads(line, source=f"{path.name}, line {i}")
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path.name}, line {i}: expected a JSON object, found invalid JSON "
                                 f"({exc.msg})") from None
            if not isinstance(record, dict) or not isinstance(record.get(text_field), str):
                found = f"keys {sorted(record)}" if isinstance(record, dict) else type(record).__name__
                raise ValueError(f"{path.name}, line {i}, column {text_field!r}: expected a string field "
                                 f"{text_field!r}, found {found}")
            docs.append((f"{path.name}:{i}", record[text_field]))
        return docs
    if suffix == ".parquet":
        import pyarrow.parquet as pq
        table = pq.read_table(path)
        if text_field not in table.column_names:
            raise ValueError(f"{path.name}, column {text_field!r}: expected a text column {text_field!r}, "
                             f"found columns {table.column_names}")
        return [(f"{path.name}:{i + 1}", str(t)) for i, t in enumerate(table.column(text_field).to_pylist()) if t]
    return [(path.name, path.read_text(encoding="utf-8", errors="replace"))]


def _cut_into_pieces(text: str, piece_bytes: int) -> list[str]:
    """Cut at line boundaries into pieces of about `piece_bytes` characters (lines are kept whole)."""
    pieces, current, size = [], [], 0
    for line in text.splitlines(keepends=True):
        current.append(line)
        size += len(line)
        if size >= piece_bytes:
            pieces.append("".join(current))
            current, size = [], 0
    if current:
        pieces.append("".join(current))
    return pieces


def _hash_fraction(text: str) -> float:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") / 2**64


def load_corpus(config: CorpusConfig = CorpusConfig()) -> Corpus:
    """Read, hash and split the corpus. Raises ValueError on an empty corpus."""
    if config.paths:
        docs = []
        for raw in config.paths:
            for path in _files_under(Path(raw).expanduser().resolve()):
                docs.extend(read_documents(path, config.text_field))
        name = Path(config.paths[0]).name + (f" (+{len(config.paths) - 1})" if len(config.paths) > 1 else "")
    else:
        docs = stdlib_documents()
        name = DEFAULT_CORPUS_NAME
    docs = [(n, t) for n, t in docs if t.strip()]
    if config.max_bytes:
        kept, total = [], 0
        for n, t in docs:
            if total >= config.max_bytes:
                break
            t = t[: config.max_bytes - total]
            kept.append((n, t))
            total += len(t.encode("utf-8"))
        docs = kept
    if not docs:
        where = ", ".join(config.paths) if config.paths else "the Python standard library"
        raise ValueError(f"empty corpus: no text found in {where} (expected .txt/.md/.py/.jsonl/.parquet files "
                         f"with some text)")
    digest = hashlib.sha256()
    for n, t in docs:
        digest.update(n.encode() + b"\0" + t.encode("utf-8") + b"\0")
    train, val = [], []
    for _, text in docs:
        for piece in _cut_into_pieces(text, config.piece_bytes):
            (val if _hash_fraction(piece) < config.val_fraction else train).append(piece)
    if not val and len(train) > 1:  # a tiny corpus: hold out the piece with the smallest hash
        idx = min(range(len(train)), key=lambda i: _hash_fraction(train[i]))
        val.append(train.pop(idx))
    if not train or not val:
        raise ValueError(f"corpus too small to split: {len(train) + len(val)} piece(s) of about "
                         f"{config.piece_bytes} bytes (expected at least 2)")
    return Corpus(name=name, content_hash=digest.hexdigest()[:16],
                  python_version=".".join(map(str, sys.version_info[:3])), n_documents=len(docs),
                  n_bytes=sum(len(t.encode("utf-8")) for _, t in docs),
                  train_texts=tuple(train), val_texts=tuple(val),
                  split_key=f"v{config.val_fraction:g}-p{config.piece_bytes}")
