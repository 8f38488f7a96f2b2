"""Opening an uploaded zip (an lm-eval output folder) without trusting it: one check shared by every reader.

The archive is read in memory (nothing is extracted), refused whole if it lists more than `max_members` entries or
if any member has an absolute path, a drive letter or a '..' part. Readers then read each member with a bound of
its declared size + 1, so a lying header cannot make it inflate further.
"""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePosixPath


def open_archive(data: bytes, *, max_members: int = 100_000) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """(archive, its entries); ValueError with the reason for a broken, oversized or crafted archive."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(f"not a readable zip archive: {exc}") from None
    if len(infos) > max_members:
        raise ValueError(f"the archive lists {len(infos)} entries; the limit is {max_members}")
    for info in infos:
        member = info.filename.replace("\\", "/")
        if member.startswith("/") or re.match(r"^[A-Za-z]:", member) or ".." in PurePosixPath(member).parts:
            raise ValueError(f"unsafe path in the archive: {info.filename!r} (absolute or with '..'); refused")
    return archive, infos
