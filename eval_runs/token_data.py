"""Tokenized corpus on disk: one memory-mapped token file per split, cached by (corpus hash, tokenizer hash).

Layout: `<workspace>/cache/tokens/<corpus_hash>-<split>-<tokenizer_hash>/{train,val}.bin` (uint16 when the vocabulary
fits, else uint32; documents joined by eos) and `meta.json`. Training batches are random windows whose positions
are a pure function of (seed, step, micro-step), so a resumed run sees exactly the batches an uninterrupted run
would, and every student of a shared loop sees the same batch. Validation uses fixed, non-overlapping windows.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from analysis import json_io
from analysis.atomic_io import write_bytes_atomic, write_json_atomic
from eval_runs.corpus import Corpus
from eval_runs.tokenizer import token_byte_lengths, tokenizer_hash
from eval_runs.workspace import workspace_root

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TokenData:
    """The two memory-mapped splits plus what is needed to turn losses into bits per byte."""

    folder: Path
    train: np.ndarray  # (n_train_tokens,) memmap
    val: np.ndarray  # (n_val_tokens,) memmap
    vocab_size: int  # len(tokenizer): ids are < vocab_size
    eos_token_id: int
    byte_lengths: torch.Tensor  # (vocab_size,) int64, UTF-8 bytes per token id
    corpus_hash: str
    tokenizer_hash: str

    @property
    def n_train_tokens(self) -> int:
        return int(self.train.shape[0])

    @property
    def n_val_tokens(self) -> int:
        return int(self.val.shape[0])


def _encode_split(tokenizer, texts, dtype) -> np.ndarray:
    eos = tokenizer.eos_token_id
    out = []
    batch = 256
    for start in range(0, len(texts), batch):
        for enc in tokenizer.backend_tokenizer.encode_batch(list(texts[start:start + batch]), add_special_tokens=False):
            out.append(np.asarray(enc.ids, dtype=dtype))
            out.append(np.asarray([eos], dtype=dtype))
    return np.concatenate(out) if out else np.zeros(0, dtype=dtype)


def prepare_token_data(corpus: Corpus, tokenizer, workspace=None) -> TokenData:
    """Tokenize the corpus once (cached), then map the token files into memory."""
    tok_hash = tokenizer_hash(tokenizer)
    folder = workspace_root(workspace) / "cache" / "tokens" / f"{corpus.cache_key}-{tok_hash}"
    vocab_size = len(tokenizer)
    dtype = np.uint16 if vocab_size <= 65536 else np.uint32
    meta_path = folder / "meta.json"
    if not meta_path.exists():
        for split, texts in (("train", corpus.train_texts), ("val", corpus.val_texts)):
            write_bytes_atomic(folder / f"{split}.bin", _encode_split(tokenizer, texts, dtype).tobytes())
        write_json_atomic(meta_path, {"schema_version": SCHEMA_VERSION, "dtype": np.dtype(dtype).name,
                                      "vocab_size": vocab_size, **corpus.provenance(), "tokenizer_hash": tok_hash})
    meta = json_io.read_json(meta_path)
    arrays = {s: np.memmap(folder / f"{s}.bin", dtype=meta["dtype"], mode="r") for s in ("train", "val")}
    return TokenData(folder=folder, train=arrays["train"], val=arrays["val"], vocab_size=vocab_size,
                     eos_token_id=tokenizer.eos_token_id,
                     byte_lengths=torch.tensor(token_byte_lengths(tokenizer), dtype=torch.int64),
                     corpus_hash=corpus.content_hash, tokenizer_hash=tok_hash)


def check_fits_batch(data: TokenData, batch_size: int, seq_len: int) -> None:
    """Refuse a corpus whose train split holds fewer tokens than one batch, or whose val split has no window."""
    need = batch_size * seq_len + 1
    if data.n_train_tokens < need:
        raise ValueError(f"corpus smaller than one batch: the train split has {data.n_train_tokens} tokens, "
                         f"one batch of {batch_size} x {seq_len} needs {need} (use more text, or a smaller "
                         f"batch_size/seq_len)")
    if data.n_val_tokens < seq_len + 1:
        raise ValueError(f"validation split too small: {data.n_val_tokens} tokens, one window of {seq_len} needs "
                         f"{seq_len + 1} (use more text or a larger val_fraction)")


def train_batch(data: TokenData, *, batch_size: int, seq_len: int, seed: int, step: int, micro_step: int = 0):
    """Input and target ids, both (batch_size, seq_len) int64, at positions drawn from (seed, step, micro_step)."""
    gen = torch.Generator().manual_seed(((seed * 1_000_003 + step) * 1009 + micro_step) % (2**63 - 1))
    starts = torch.randint(0, data.n_train_tokens - seq_len - 1, (batch_size,), generator=gen).tolist()
    windows = np.stack([np.asarray(data.train[s:s + seq_len + 1], dtype=np.int64) for s in starts])
    windows = torch.from_numpy(windows)
    return windows[:, :-1], windows[:, 1:]


def val_batches(data: TokenData, *, batch_size: int, seq_len: int, max_tokens: int):
    """Fixed non-overlapping validation windows, at most `max_tokens` targets in all, as (inputs, targets) batches."""
    n_windows = min((data.n_val_tokens - 1) // seq_len, max(1, max_tokens // seq_len))
    for first in range(0, n_windows, batch_size):
        idx = range(first, min(first + batch_size, n_windows))
        windows = np.stack([np.asarray(data.val[i * seq_len:i * seq_len + seq_len + 1], dtype=np.int64) for i in idx])
        windows = torch.from_numpy(windows)
        yield windows[:, :-1], windows[:, 1:]
