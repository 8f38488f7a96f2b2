"""Corpus, split, tokenizer and token cache of the distillation engine (tiny, CPU)."""
from __future__ import annotations

import json
import sys

import pytest

torch = pytest.importorskip("torch")

from eval_runs.corpus import CorpusConfig, load_corpus  # noqa: E402
from eval_runs.token_data import check_fits_batch, prepare_token_data, train_batch, val_batches  # noqa: E402
from eval_runs.tokenizer import EOS_TOKEN, TokenizerConfig, load_tokenizer_folder, prepare_tokenizer  # noqa: E402


def _text_folder(tmp_path, n_bytes=60_000):
    import textwrap
    source = open(textwrap.__file__, encoding="utf-8").read()
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text((source * (n_bytes // len(source) + 1))[:n_bytes], encoding="utf-8")
    (folder / "b.md").write_text("# Notes\n" + "Distillation moves knowledge from a teacher.\n" * 200)
    return folder


def test_default_corpus_records_the_python_version_and_a_content_hash():
    corpus = load_corpus(CorpusConfig(max_bytes=200_000))
    assert corpus.name == "python-stdlib"
    assert corpus.python_version == ".".join(map(str, sys.version_info[:3]))
    assert len(corpus.content_hash) == 16 and corpus.n_bytes <= 200_000 + 8192
    assert corpus.train_texts and corpus.val_texts


def test_split_is_deterministic_and_disjoint(tmp_path):
    folder = _text_folder(tmp_path)
    a = load_corpus(CorpusConfig(paths=(str(folder),), val_fraction=0.2, piece_bytes=2000))
    b = load_corpus(CorpusConfig(paths=(str(folder),), val_fraction=0.2, piece_bytes=2000))
    assert a.train_texts == b.train_texts and a.val_texts == b.val_texts and a.content_hash == b.content_hash
    assert not set(a.train_texts) & set(a.val_texts)


def test_jsonl_and_parquet_files_are_read_by_their_text_field(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps({"body": f"line {i} " * 50}) for i in range(20)))
    pq.write_table(pa.table({"body": [f"row {i} " * 50 for i in range(20)]}), tmp_path / "d.parquet")
    corpus = load_corpus(CorpusConfig(paths=(str(tmp_path / "d.jsonl"), str(tmp_path / "d.parquet")),
                                      text_field="body", piece_bytes=500))
    assert corpus.n_documents == 40


def test_a_jsonl_file_without_the_text_field_names_file_line_and_field(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{"content": "no"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl, line 2, column 'text'"):
        load_corpus(CorpusConfig(paths=(str(tmp_path / "bad.jsonl"),)))


def test_an_empty_corpus_is_refused_with_a_clear_message(tmp_path):
    (tmp_path / "empty.txt").write_text("   \n")
    with pytest.raises(ValueError, match="empty corpus"):
        load_corpus(CorpusConfig(paths=(str(tmp_path / "empty.txt"),)))


def test_tokenizer_round_trips_text_and_declares_eos(tmp_path):
    corpus = load_corpus(CorpusConfig(paths=(str(_text_folder(tmp_path)),)))
    tok = prepare_tokenizer(corpus, TokenizerConfig(vocab_size=300), tmp_path / "ws")
    text = "def f(x):\n    return 'héllo ☃ \t' + x  # ünïcode\n"
    assert tok.decode(tok.encode(text)) == text
    assert tok.eos_token == EOS_TOKEN and tok.eos_token_id is not None
    again = load_tokenizer_folder(next((tmp_path / "ws" / "cache" / "tokenizers").iterdir()))
    assert again.encode(text) == tok.encode(text)


def test_token_cache_is_reused_and_batches_are_a_function_of_seed_and_step(tmp_path):
    corpus = load_corpus(CorpusConfig(paths=(str(_text_folder(tmp_path)),), piece_bytes=2000))
    tok = prepare_tokenizer(corpus, TokenizerConfig(vocab_size=300), tmp_path / "ws")
    data = prepare_token_data(corpus, tok, tmp_path / "ws")
    mtime = (data.folder / "train.bin").stat().st_mtime_ns
    data2 = prepare_token_data(corpus, tok, tmp_path / "ws")
    assert (data2.folder / "train.bin").stat().st_mtime_ns == mtime
    x1, y1 = train_batch(data, batch_size=4, seq_len=16, seed=0, step=3)
    x2, y2 = train_batch(data2, batch_size=4, seq_len=16, seed=0, step=3)
    assert torch.equal(x1, x2) and torch.equal(x1[:, 1:], y1[:, :-1])
    assert not torch.equal(x1, train_batch(data, batch_size=4, seq_len=16, seed=0, step=4)[0])
    n_bytes = sum(len(t.encode()) for t in corpus.val_texts)
    counted = sum(int(data.byte_lengths[y].sum()) for _, y in val_batches(data, batch_size=8, seq_len=16,
                                                                        max_tokens=10**9))
    assert 0.9 * n_bytes <= counted <= n_bytes  # all val bytes but the last partial window


def test_a_corpus_smaller_than_one_batch_is_refused(tmp_path):
    (tmp_path / "small.txt").write_text("tiny text\n" * 30 + "other words here\n" * 30)
    corpus = load_corpus(CorpusConfig(paths=(str(tmp_path / "small.txt"),), piece_bytes=100, val_fraction=0.3))
    tok = prepare_tokenizer(corpus, TokenizerConfig(vocab_size=280), tmp_path / "ws")
    data = prepare_token_data(corpus, tok, tmp_path / "ws")
    with pytest.raises(ValueError, match="corpus smaller than one batch"):
        check_fits_batch(data, batch_size=64, seq_len=128)
