"""Teachers given as checkpoints: a local Hugging Face model folder or a Hugging Face hub id ("EleutherAI/pythia-160m").

    check_teacher_source("EleutherAI/pythia-160m") -> "EleutherAI/pythia-160m"   (ValueError for anything else)
    load_teacher(source) -> a causal LM (from_pretrained)

A source that names an existing folder, or is written as a path (starts with '/', '.', '~'), is a local folder and
never goes to the network. Anything else must be a hub id: `name` or `owner/name` with letters, digits, '.', '_'
and '-' (no '..', no leading '-' or '.'), so a typed value cannot become a path or an option. A hub id is loaded
with from_pretrained: from the local Hugging Face cache when it is there, downloaded when the machine is online.
Offline (`HF_HUB_OFFLINE=1`, or no network) and not cached, it is refused with a message that says so — never a
silent fallback to another model. Every architecture the engine prunes is accepted (eval_runs.models.shape_of:
GPT-NeoX for Pythia, Llama, GPT-2); students pruned from it keep its family.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

# The hub's own rule for repository ids (huggingface_hub.utils.validate_repo_id), with `..` refused and 96
# characters per part at most.
HUB_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def is_path_like(source: str) -> bool:
    return source.startswith(("/", ".", "~")) or "\\" in source or Path(source).expanduser().exists()


def check_teacher_source(source: str, what: str = "teacher") -> str:
    """The source unchanged if it is an existing local folder (resolved) or a well-formed hub id; ValueError else."""
    if not isinstance(source, str) or not source.strip() or "\x00" in source:
        raise ValueError(f"{what} {source!r}: expected a local model folder or a Hugging Face hub id such as "
                         f"EleutherAI/pythia-160m")
    if is_path_like(source):
        folder = Path(source).expanduser().resolve()
        if not folder.is_dir():
            raise ValueError(f"{what} {source!r}: no such folder ({folder}); a local teacher is a Hugging Face model "
                             f"folder with config.json")
        return str(folder)
    if not HUB_ID.match(source) or ".." in source:
        raise ValueError(f"{what} {source!r}: not a local folder and not a Hugging Face hub id (expected owner/name "
                         f"with letters, digits, '.', '_' or '-', e.g. EleutherAI/pythia-160m)")
    return source


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def local_folder(source: str) -> Path:
    """The folder holding the checkpoint's files: the local folder itself, or the hub id's snapshot in the cache
    (downloaded first when online). The tokenizer is read from there."""
    source = check_teacher_source(source)
    if is_path_like(source):
        return Path(source)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(source, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"]))
    except Exception as exc:  # noqa: BLE001 - the hub client raises many types (offline, 404, network)
        raise ValueError(_hub_message(source, exc)) from None


def load_teacher(source: str):
    """A causal LM from a local folder (never downloads) or a hub id (from_pretrained; refused clearly offline)."""
    from eval_runs.pipeline import load_local_model

    source = check_teacher_source(source)
    if is_path_like(source):
        return load_local_model(source)
    return load_local_model(local_folder(source))


def _hub_message(source: str, exc: Exception) -> str:
    if hub_offline():
        return (f"teacher {source!r} is a Hugging Face hub id, but HF_HUB_OFFLINE is set and it is not in the local "
                f"cache ({_cache_dir()}): unset HF_HUB_OFFLINE on a machine with internet to download it once, or "
                f"give a local folder (save_pretrained) instead")
    return (f"teacher {source!r}: could not download it from the Hugging Face hub ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else 'no detail'}). Offline machines need the model in the "
            f"local cache ({_cache_dir()}) or a local folder; a private or gated model needs `huggingface-cli login`")


def _cache_dir() -> str:
    try:
        from huggingface_hub.constants import HF_HUB_CACHE

        return str(HF_HUB_CACHE)
    except ImportError:
        return "~/.cache/huggingface/hub"
