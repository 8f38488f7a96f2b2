"""AppTest: the Data page: upload, the validation report, column mapping and units, filters, the upload store."""
import pandas as pd

from app_harness import all_text, assert_no_traceback, open_app, simulated_csv, texts, upload


def test_an_uploaded_csv_becomes_the_active_dataset_with_its_row_counts(workspace):
    at = upload(open_app(), "sweep.csv", simulated_csv())
    assert_no_traceback(at)
    assert at.query_params["data"].startswith("upload:")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Read"] == "144 rows" and metrics["Kept"] == "144 rows"
    assert "Active dataset: Upload: sweep.csv" in all_text(at)


def test_dropped_rows_are_counted_and_listed_with_their_reason(workspace):
    text = simulated_csv().decode().splitlines()
    text[3] = text[3].replace(text[3].split(",")[1], "abc", 1)  # a teacher size that is not a size
    at = upload(open_app(), "bad_row.csv", "\n".join(text).encode())
    assert_no_traceback(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Dropped (bad values)"] == "1 rows"
    dropped = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert list(dropped["row"]) == [4] and "abc" in dropped["reason"].iloc[0]


def test_uploads_are_kept_by_content_hash_shown_after_a_restart_and_removable(workspace):
    data = simulated_csv()
    at = upload(open_app(), "sweep.csv", data)
    key = at.query_params["data"]
    restarted = open_app(page="views/data.py")  # a new session: what the workspace holds is all it knows
    assert_no_traceback(restarted)
    assert "sweep.csv" in all_text(restarted)
    restarted.button(key=f"rm_{key}").click().run()
    assert_no_traceback(restarted)
    assert "No uploads yet" in all_text(restarted)


def test_a_file_with_other_column_names_loads_after_mapping_them_and_choosing_the_unit(workspace):
    frame = pd.read_csv(pd.io.common.BytesIO(simulated_csv()))
    odd = pd.DataFrame({"S (millions)": frame["student_params"] / 1e6, "T (millions)": frame["teacher_params"] / 1e6,
                        "what": frame["metric"], "score": frame["value"]})
    at = upload(open_app(), "odd.csv", odd.to_csv(index=False).encode())
    assert_no_traceback(at)
    assert at.error and "student_params" in texts(at.error)[0]  # the loader names what is missing
    for contract, column in (("student_params", "S (millions)"), ("teacher_params", "T (millions)"),
                             ("metric", "what"), ("value", "score")):
        at.selectbox(key=f"map_{contract}").set_value(column)
    at.radio(key="map_unit").set_value("M")
    next(b for b in at.button if b.label == "Apply mapping").click().run()
    assert_no_traceback(at)
    assert not [e for e in at.error if "did not load" in e.value]
    assert {m.label: m.value for m in at.metric}["Kept"] == "144 rows"
    assert at.query_params["unit"] == "M"
    # the mapping is saved with the upload: a new session loads the file without asking again
    again = open_app(page="views/data.py", query={"data": at.query_params["data"]})
    assert {m.label: m.value for m in again.metric}["Kept"] == "144 rows"


def test_family_filter_narrows_the_rows_and_lives_in_the_url(workspace):
    at = upload(open_app(), "two.csv", simulated_csv(families=("gpt2", "pythia")))
    at.multiselect(key="_w_data_fam").set_value(["gpt2"]).run()
    assert_no_traceback(at)
    assert at.query_params["fam"] == "gpt2"
    assert "**144 rows**" in all_text(at)


def test_a_metric_of_unknown_direction_loads_once_the_user_says_which_way_is_better(workspace):
    data = b"student_params,teacher_params,metric,value\n125M,350M,wibble,1.0\n350M,900M,wibble,2.0\n"
    at = upload(open_app(), "wibble.csv", data)
    assert any("wibble" in e.value for e in at.error)
    at.text_input(key="map_lower").set_value("wibble")
    next(b for b in at.button if b.label == "Apply mapping").click().run()
    assert_no_traceback(at)
    assert not [e for e in at.error if "did not load" in e.value]
    assert {m.label: m.value for m in at.metric}["Kept"] == "2 rows"
    assert at.query_params["hib"] == "wibble=0"


PAPER_TSV = ("student\tteacher\tstudent_params_B\tteacher_params_B\tarc_acc\tmmlu_acc\n"
             "Qwen2.5-0.5B\tQwen2.5-1.5B\t0.49\t1.54\t40.1\t45.0\n"
             "Qwen2.5-0.5B\tQwen2.5-7B\t0.49\t7.61\t41.5\t46.1\n"
             "Qwen2.5-0.5B\tQwen2.5-72B-Instruct\t0.49\t72.7\t40.0\t44.2\n")


def test_a_pasted_wide_table_from_a_paper_loads_every_row_and_says_what_was_inferred(workspace):
    at = open_app(page="views/data.py")
    at.text_area(key="paste_text").set_value(PAPER_TSV)
    next(b for b in at.button if b.label == "Load the pasted table").click().run()
    assert_no_traceback(at)
    assert at.query_params["data"].startswith("upload:")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Read"] == "6 records" and metrics["Kept"] == "6 records"  # 3 rows x 2 benchmarks, melted
    inferred = next(i for i in texts(at.info) if i.startswith("Inferred: "))
    assert "teacher_params inferred from column 'teacher_params_B', in billions" in inferred
    assert "the names in 'teacher' are kept as teacher_name" in inferred


def test_a_size_two_columns_could_give_is_asked_in_the_mapping_form_with_the_inferred_answer_chosen(workspace):
    text = "student_size,student_params_B,teacher_size_B,val_loss\n1.3B,1.3,6.7,2.0\n1.3B,1.3,13,2.1\n"
    at = upload(open_app(), "two_sizes.csv", text.encode())
    assert_no_traceback(at)
    question = at.radio(key="ask_student_params")
    assert question.options == ["student_size", "student_params_B"] and question.value == "student_size"
    question.set_value("student_params_B")
    next(b for b in at.button if b.label == "Apply mapping").click().run()
    assert_no_traceback(at)
    assert "student_params=student_params_B" in at.query_params["map"]
    assert {m.label: m.value for m in at.metric}["Kept"] == "2 records"
