"""The workspace: uploads kept by content hash, atomic writes, $CAPGAP_HOME."""
import json

import pytest

from analysis.atomic_io import write_json_atomic
from eval_runs.workspace import content_hash, list_uploads, remove_upload, safe_filename, store_upload, workspace_root


def test_capgap_home_moves_the_workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("CAPGAP_HOME", str(tmp_path / "ws"))
    assert workspace_root() == (tmp_path / "ws").resolve()
    assert (tmp_path / "ws").is_dir()


def test_the_same_bytes_uploaded_twice_are_stored_once_and_survive_a_new_listing(tmp_path):
    first = store_upload(b"a,b\n1,2\n", "results.csv", tmp_path)
    second = store_upload(b"a,b\n1,2\n", "renamed.csv", tmp_path)
    assert first.upload_id == second.upload_id == content_hash(b"a,b\n1,2\n")
    assert second.path == first.path and first.path.read_bytes() == b"a,b\n1,2\n"
    assert [u.upload_id for u in list_uploads(tmp_path)] == [first.upload_id]


def test_an_upload_can_be_removed_and_a_bad_id_is_refused(tmp_path):
    up = store_upload(b"x", "x.csv", tmp_path)
    assert remove_upload(up.upload_id, tmp_path) is True
    assert list_uploads(tmp_path) == []
    assert remove_upload(up.upload_id, tmp_path) is False
    with pytest.raises(ValueError, match="not an upload id"):
        remove_upload("../etc", tmp_path)


def test_upload_names_cannot_escape_their_folder():
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("..\\evil name.csv") == "evil_name.csv"
    assert safe_filename("...") == "upload"


def test_atomic_json_write_refuses_nan_and_leaves_no_temp_file(tmp_path):
    path = write_json_atomic(tmp_path / "a" / "b.json", {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "a" / "b.json", {"x": float("nan")})
    assert json.loads(path.read_text()) == {"x": 1}
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.json"]
