"""AppTest: bad input of every kind gives a clear message on the screen and never a traceback.

Files go through the Data page's uploader (results tables) or on to the Benchmarks page (lm-eval files); wrong
column mappings, a unit that does not parse, impossible sizes and hand-edited links are tried too.
"""
import io
import json
import zipfile

import pytest

from app_harness import assert_no_traceback, open_app, simulated_csv, texts, upload

GOOD = simulated_csv(student_params=(125_000_000, 350_000_000, 1_300_000_000), n_seeds=1)
HEADER, FIRST, *REST = GOOD.decode().splitlines()


def _csv(*lines: str) -> bytes:
    return "\n".join(lines).encode()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _cell(line: str, column: str, value: str) -> str:
    cells = line.split(",")
    cells[HEADER.split(",").index(column)] = value
    return ",".join(cells)


# (id, file name, bytes, words the message must contain)
RESULTS_FILES = [
    ("empty file", "empty.csv", b"", "empty"),
    ("header only", "header.csv", _csv(HEADER), "no data rows"),
    ("missing required column", "nometric.csv", _csv("student_params,teacher_params,value", "125M,350M,2.5"),
     "missing required column"),
    ("binary file", "image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "png image"),
    ("broken JSON", "broken.json", b'[{"student_params": 1', "json"),
    ("JSON that is not a table", "scalar.json", b"42", "expected"),
    ("every size unreadable", "sizes.csv", _csv(HEADER, *[_cell(l, "student_params", "big") for l in [FIRST] + REST]),
     "big"),
    ("negative sizes", "negative.csv", _csv(HEADER, *[_cell(l, "teacher_params", "-5") for l in [FIRST] + REST]),
     "positive"),
    ("text in every value", "values.csv", _csv(HEADER, *[_cell(l, "value", "n/a") for l in [FIRST] + REST]),
     "value"),
    ("unknown size suffix", "suffix.csv", _csv(HEADER, *[_cell(l, "student_params", "1.3Q") for l in [FIRST] + REST]),
     "1.3Q"),
    ("metric of unknown direction", "direction.csv",
     _csv("student_params,teacher_params,metric,value", "125M,350M,wibble,1.0", "350M,900M,wibble,2.0"), "wibble"),
    ("one row with text in a size", "onebad.csv", _csv(HEADER, _cell(FIRST, "teacher_params", "abc"), *REST), "abc"),
    ("one row with infinite value", "inf.csv", _csv(HEADER, _cell(FIRST, "value", "inf"), *REST), "value"),
    ("too many fields in a line", "fields.csv", _csv(HEADER, FIRST + ",extra,more", *REST), "field"),
    ("exact duplicate rows", "dupes.csv", _csv(HEADER, FIRST, FIRST, *REST), "duplicate"),
    ("JSONL with a line that is not an object", "lines.jsonl",
     b'{"student_params": "125M", "teacher_params": "350M", "metric": "val_loss", "value": 2.5}\n[1, 2]\n'
     b'{"student_params": "350M", "teacher_params": "900M", "metric": "val_loss", "value": 2.4}\n', "object"),
    ("CSV bytes named .parquet", "table.parquet", GOOD, "parquet"),
    ("Latin-1 text", "latin1.csv", _csv(HEADER, *REST).replace(b"simulated", b"simul\xe9", 1), "utf-8"),
    ("JSON nested 1,000 levels", "deep.json", ("[" * 1000 + "]" * 1000).encode(), "nested"),
    ("sizes in millions without a unit", "bare.csv",
     _csv("student_params,teacher_params,metric,value", "70,160,val_loss,3.1", "70,410,val_loss,3.0"),
     "not a model size"),
    ("a decimal comma with a unit", "comma.csv",
     _csv("student_params,teacher_params,metric,value", "\"0,125B\",1B,val_loss,3.1"), "decimal comma"),
    ("a loss marked higher-is-better", "direction_against_name.csv",
     _csv("student_params,teacher_params,metric,value,higher_is_better", "125M,350M,val_loss,3.1,true",
          "125M,1B,val_loss,3.0,true"), "its name says lower is better"),
]


def test_every_value_equal_gives_no_optimum_and_no_law_on_the_law_page(workspace):
    flat = _csv("student_params,teacher_params,metric,value",
                *[f"{s},{t},val_loss,3.0" for s in ("100M", "200M", "400M") for t in ("300M", "600M", "1.2B", "2.4B")])
    at = upload(open_app(), "flat.csv", flat)
    at.switch_page("views/law.py").run()
    assert_no_traceback(at)
    assert "cannot be told apart" in _messages(at) and "no law" in _messages(at)
    assert not any(m.label == "Slope k" for m in at.metric)


def _messages(at) -> str:
    """Errors, warnings, and the reasons in the dropped-rows table."""
    reasons = [r for d in at.dataframe if "reason" in d.value.columns for r in d.value["reason"].astype(str)]
    return "\n".join(texts(at.error) + texts(at.warning) + reasons).lower()


@pytest.mark.parametrize("name,data,words", [c[1:] for c in RESULTS_FILES], ids=[c[0] for c in RESULTS_FILES])
def test_a_bad_results_file_gets_a_clear_message_and_no_traceback(workspace, name, data, words):
    at = upload(open_app(), name, data)
    assert_no_traceback(at)
    assert words.lower() in _messages(at), _messages(at)


def test_a_wrong_column_mapping_is_reported_and_can_be_corrected(workspace):
    at = upload(open_app(), "sweep.csv", GOOD)
    key = at.query_params["data"]
    at = open_app(page="views/data.py", query={"data": key, "map": "student_params=metric"})
    assert_no_traceback(at)
    assert "did not load" in _messages(at) and "student_params" in _messages(at)
    next(b for b in at.button if b.label == "Apply mapping")  # the mapping form is offered to fix it


def test_two_contract_columns_mapped_to_one_file_column_are_refused(workspace):
    at = upload(open_app(), "sweep.csv", GOOD)
    # the mapping form is in a collapsed expander; its widgets are still reachable
    at.selectbox(key="map_student_params").set_value("teacher_params")
    at.selectbox(key="map_teacher_params").set_value("teacher_params")
    next(b for b in at.button if b.label == "Apply mapping").click().run()
    assert_no_traceback(at)
    assert "used twice" in _messages(at)


def test_a_size_unit_that_does_not_parse_is_named(workspace):
    at = upload(open_app(), "sweep.csv", GOOD)
    at = open_app(page="views/data.py", query={"data": at.query_params["data"], "unit": "parsecs"})
    assert_no_traceback(at)
    assert "size_unit" in _messages(at) and "parsecs" in _messages(at)


@pytest.mark.parametrize("name,data", [
    ("future.json", json.dumps({"results": {"arc": {"weird": "x"}}, "lm_eval_version": "9.9"}).encode()),
    ("broken.zip", b"PK\x03\x04" + bytes(40)),
    ("empty_folder.zip", _zip({"notes.txt": b"no results here"})),
], ids=["lm-eval file from an unknown version", "corrupt zip", "zip without lm-eval results"])
def test_an_lm_eval_file_that_cannot_be_read_is_named_on_the_benchmarks_page(workspace, name, data):
    at = upload(open_app(), name, data, "application/octet-stream")
    at.switch_page("views/benchmarks.py").run()
    assert_no_traceback(at)
    assert any(name in e or "nothing could be imported" in e for e in texts(at.error)), _messages(at)


@pytest.mark.parametrize("size", ["0", "-3B", "lots", "1e400", ""])
def test_an_impossible_student_size_is_refused_in_words(workspace, size):
    at = open_app(page="views/whatif.py", query={"data": "none", "wi_s": size})
    assert_no_traceback(at)
    assert any(e.value.startswith("Student size") for e in at.error)


@pytest.mark.parametrize("query", [
    {"data": "upload:not-a-hash"}, {"data": "upload:0123456789abcdef"}, {"alpha": "banana", "form": "cubic"},
    {"nboot": "-3", "boot": "maybe"}, {"fam": ["nope", "nada"], "metric": "missing"},
], ids=["data key that is not a hash", "removed upload", "unknown alpha and form", "bad bootstrap settings",
        "unknown filters"])
def test_a_hand_edited_link_falls_back_to_defaults(workspace, query):
    at = open_app(query=query)
    if "data" in query:  # said once, on the first run; the URL then names the dataset actually shown
        assert any("is not in this workspace" in w.value for w in at.sidebar.warning)
    at.switch_page("views/law.py").run()
    assert_no_traceback(at)
    assert not at.error, [e.value for e in at.error]


def test_text_from_data_is_shown_as_text_not_rendered_as_markdown(workspace):
    beacon = "![b](http://host/x.png)"
    rows = ["student_params,teacher_params,metric,value,family"]
    rows += [f"{s},{t},val_loss,{v},{beacon}" for s, t, v in (("125M", "350M", 3.0), ("125M", "1.3B", 3.1))]
    at = upload(open_app(), "beacon.csv", _csv(*rows))
    at.switch_page("views/law.py").run()
    assert_no_traceback(at)
    raw = [str(e.value) for kind in ("warning", "error", "info", "caption", "markdown", "subheader")
           for e in getattr(at, kind)]
    assert any("x.png" in r for r in raw)  # the family is shown (in a refusal or a caveat) ...
    assert not any(beacon in r for r in raw)  # ... never as a Markdown image the browser would fetch
    assert any(beacon in t for t in texts(at.warning) + texts(at.subheader) + texts(at.error))


DEEP = ("[" * 1000 + "]" * 1000).encode()


@pytest.mark.parametrize("name", ["deep.json", "results_deep.json", "deep.zip"])
def test_a_deeply_nested_upload_breaks_no_page_and_stays_listed_and_removable(workspace, name):
    data = _zip({"out/m/results_2024-01-01T00-00-00.json": DEEP}) if name.endswith(".zip") else DEEP
    at = upload(open_app(), name, data)
    assert_no_traceback(at)
    for page in ("views/overview.py", "views/data.py", "views/law.py", "views/whatif.py", "views/benchmarks.py",
                 "views/report.py"):
        at.switch_page(page).run()
        assert_no_traceback(at)
        assert not any("RecursionError" in t for t in texts(at.error)), page
    at = open_app(page="views/data.py")  # a restart: the stored upload is read again
    assert_no_traceback(at)
    removes = [b for b in at.button if b.label.startswith("Remove")]
    assert removes, [b.label for b in at.button]
    removes[0].click().run()
    assert_no_traceback(at)
    assert not [b for b in at.button if b.label.startswith("Remove")]
