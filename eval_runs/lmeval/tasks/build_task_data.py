"""Build the bundled tasks' data from `pydoc_data.topics` (the text of Python's `help()` topics); the record of how
eval_runs/lmeval/tasks/data/*.jsonl were made. Re-run to rebuild them (deterministic for a given Python version):

    python -m eval_runs.tasks.build_task_data

  data/capgap_pydoc_heldout.jsonl   {"text": ...}: the pieces of the pydoc topics that the engine's default corpus
                                     split holds out for validation (eval_runs.corpus: pieces of ~8192 bytes cut at
                                     line boundaries, held out when a hash of the text falls below 0.05), so a model
                                     trained on the default corpus never saw them; each cut to MAX_DOC_CHARS
  data/capgap_pydoc_cloze.jsonl     {"context", "choices", "answer"}: sentences of those held-out pieces with their
                                     last word removed; the choices are that word and three other sentence-final
                                     words (picked by a hash), the right one at index `answer`
  data/MANIFEST.json                 Python version, counts and SHA-256 of each file
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

from analysis.atomic_io import write_json_atomic, write_text_atomic
from eval_runs.corpus import CorpusConfig, _cut_into_pieces, _hash_fraction

DATA = Path(__file__).resolve().parent / "data"
MAX_DOC_CHARS = 6000  # keeps a rolling-loglikelihood pass over all docs short on CPU
N_CLOZE = 120  # multiple-choice items
_SENTENCE = re.compile(r"[A-Z][^.!?\n]{40,200}[.]")  # one-line prose sentences ending in a full stop
_LAST_WORD = re.compile(r"^(.*\s)([a-z]{4,14})\.$", re.S)


def heldout_pieces() -> list[str]:
    from pydoc_data.topics import topics

    cfg = CorpusConfig()
    pieces = []
    for key in sorted(topics):
        for piece in _cut_into_pieces(topics[key], cfg.piece_bytes):
            if _hash_fraction(piece) < cfg.val_fraction:
                pieces.append(piece)
    return pieces


def _rank(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def cloze_items(pieces: list[str]) -> list[dict]:
    candidates = []
    for piece in pieces:
        for m in _SENTENCE.finditer(" ".join(piece.split())):
            lw = _LAST_WORD.match(m.group(0))
            if lw:
                candidates.append((lw.group(1).rstrip(), lw.group(2)))
    candidates = sorted(set(candidates), key=lambda c: _rank(c[0]))[:N_CLOZE]
    words = sorted({w for _, w in candidates})
    items = []
    for i, (context, word) in enumerate(candidates):
        others = sorted((w for w in words if w != word), key=lambda w: _rank(context + w))[:3]
        answer = i % 4
        choices = others[:answer] + [word] + others[answer:]
        items.append({"context": context, "choices": choices, "answer": answer})
    return items


def main() -> int:
    pieces = heldout_pieces()
    docs = [{"text": p[:MAX_DOC_CHARS]} for p in pieces]
    items = cloze_items(pieces)
    files = {"capgap_pydoc_heldout.jsonl": docs, "capgap_pydoc_cloze.jsonl": items}
    manifest = {"schema_version": 1, "source": "pydoc_data.topics", "python_version": sys.version.split()[0],
                "built_by": "python -m eval_runs.tasks.build_task_data", "files": {}}
    for name, rows in files.items():
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        write_text_atomic(DATA / name, text)
        manifest["files"][name] = {"n_rows": len(rows), "n_bytes": len(text.encode()),
                                   "sha256": hashlib.sha256(text.encode()).hexdigest()}
    write_json_atomic(DATA / "MANIFEST.json", manifest)
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
