"""The tokenizer: a byte-level BPE trained locally with `tokenizers`, or a local Hugging Face tokenizer folder.

A trained tokenizer is saved as an ordinary HF tokenizer folder (PreTrainedTokenizerFast) that declares
`<|endoftext|>` as its eos token (lm-eval needs one) and is cached in the workspace by (corpus hash, vocab size),
so every run of a sweep shares it. Byte-level BPE round-trips any text exactly.

`token_byte_lengths` gives the UTF-8 length of each token id, which turns a summed loss into bits per byte.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from eval_runs.corpus import Corpus
from eval_runs.workspace import content_hash, workspace_root

EOS_TOKEN = "<|endoftext|>"


@dataclass(frozen=True)
class TokenizerConfig:
    """Which tokenizer to use."""

    vocab_size: int = 2048  # BPE vocabulary incl. 256 byte tokens and eos; small keeps tiny models' embeddings small
    path: str = ""  # a local HF tokenizer folder to use instead of training one
    train_bytes: int = 4_000_000  # train the BPE on at most this many bytes of the train split (speed)


def _byte_level_tokenizer(texts, vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS_TOKEN], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def train_tokenizer(corpus: Corpus, config: TokenizerConfig, out_dir: Path):
    """Train a byte-level BPE on the corpus' train split and save it to `out_dir` as a HF tokenizer folder."""
    from transformers import PreTrainedTokenizerFast

    if config.vocab_size < 258:
        raise ValueError(f"vocab_size {config.vocab_size} is too small: a byte-level BPE needs at least 258 "
                         f"(256 bytes, eos and one merge)")
    texts, total = [], 0
    for text in corpus.train_texts:
        texts.append(text)
        total += len(text)
        if total >= config.train_bytes:
            break
    tok = _byte_level_tokenizer(texts, config.vocab_size)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS_TOKEN, bos_token=EOS_TOKEN,
                                   unk_token=EOS_TOKEN, pad_token=EOS_TOKEN, model_max_length=1_000_000)
    fast.save_pretrained(str(out_dir))
    return fast


def load_tokenizer_folder(path: str | os.PathLike):
    """Load a local HF tokenizer folder; clear error if it is not one. Never downloads."""
    from transformers import AutoTokenizer

    folder = Path(path).expanduser().resolve()
    if not folder.is_dir() or not any((folder / f).exists() for f in ("tokenizer.json", "tokenizer_config.json",
                                                                      "vocab.json", "tokenizer.model")):
        raise ValueError(f"{folder} is not a Hugging Face tokenizer folder (expected tokenizer.json or "
                         f"tokenizer_config.json in a local folder; nothing is downloaded)")
    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    if tok.eos_token_id is None:
        raise ValueError(f"tokenizer in {folder} declares no eos token (expected one: documents are joined with it)")
    return tok


def tokenizer_hash(tokenizer) -> str:
    """16 hex digits identifying the tokenizer's vocabulary and rules (its tokenizer.json)."""
    return content_hash(tokenizer.backend_tokenizer.to_str().encode("utf-8"))


def prepare_tokenizer(corpus: Corpus, config: TokenizerConfig, workspace=None):
    """The tokenizer for a run: the user's folder, or a BPE trained on `corpus` (cached in the workspace)."""
    if config.path:
        return load_tokenizer_folder(config.path)
    folder = workspace_root(workspace) / "cache" / "tokenizers" / f"{corpus.cache_key}-bpe{config.vocab_size}"
    if (folder / "tokenizer.json").exists():
        return load_tokenizer_folder(folder)
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    train_tokenizer(corpus, config, tmp)
    try:
        tmp.rename(folder)
    except OSError:  # another process won the race; its tokenizer is identical
        pass
    return load_tokenizer_folder(folder)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters (the alphabet of byte-level BPE)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def token_byte_lengths(tokenizer) -> list[int]:
    """UTF-8 byte length of every token id (special tokens count 0), for bits per byte."""
    byte_decoder = {c: b for b, c in _bytes_to_unicode().items()}
    n = len(tokenizer)
    special = set(tokenizer.all_special_ids)
    tokens = tokenizer.convert_ids_to_tokens(list(range(n)))
    byte_level = '"ByteLevel"' in tokenizer.backend_tokenizer.to_str()[:100_000]
    lengths = []
    for i, t in enumerate(tokens):
        if i in special or t is None:
            lengths.append(0)
        elif byte_level and all(c in byte_decoder for c in t):
            lengths.append(len(t))  # each character stands for one byte
        else:  # other tokenizers: length of the decoded text (approximate for partial characters)
            lengths.append(len(tokenizer.decode([i]).encode("utf-8")))
    return lengths
