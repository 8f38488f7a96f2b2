"""The one-way import rule: analysis loads neither torch, streamlit nor eval_runs."""
import json
import subprocess
import sys

FORBIDDEN = ("torch", "streamlit", "eval_runs")


def test_importing_every_analysis_module_loads_no_torch_streamlit_or_eval_runs():
    code = (
        "import json, pkgutil, importlib, sys, analysis\n"
        "for m in pkgutil.iter_modules(analysis.__path__):\n"
        "    if m.name != '__main__':\n"
        "        importlib.import_module('analysis.' + m.name)\n"
        f"print(json.dumps([m for m in {FORBIDDEN!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_analysis_cli_help_loads_no_torch_or_streamlit():
    code = (
        "import sys, runpy, json\n"
        "sys.argv = ['analysis', '--help']\n"
        "try:\n    runpy.run_module('analysis', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps([m for m in {FORBIDDEN!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_every_public_name_of_analysis_resolves_and_import_analysis_stays_light():
    import subprocess
    import sys

    code = ("import sys, analysis; names = analysis.__all__; "
            "heavy = [m for m in ('torch', 'streamlit', 'eval_runs') if m in sys.modules]; "
            "[getattr(analysis, n) for n in names]; "
            "print(len(names), heavy, [m for m in ('torch', 'streamlit') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert int(out[0]) >= 20 and out[1] == "[]" and out[2] == "[]"


def _module_imports(root):
    """{module: {modules of this project it imports, anywhere in the file}} by reading the source (ast)."""
    import ast
    from pathlib import Path

    graph = {}
    for package in ("analysis", "eval_runs", "app"):
        for path in (Path(root) / package).rglob("*.py"):
            rel = path.relative_to(root).with_suffix("")
            name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            deps = set()
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    deps.add(node.module)
                    deps.update(f"{node.module}.{a.name}" for a in node.names)
                elif isinstance(node, ast.Import):
                    deps.update(a.name for a in node.names)
            graph[name] = deps
    return {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}


def test_the_import_graph_has_no_cycle_and_points_one_way():
    from pathlib import Path

    graph = _module_imports(Path(__file__).resolve().parents[1])
    # one way: analysis imports neither eval_runs nor app; eval_runs never imports app
    assert not [(m, d) for m, ds in graph.items() for d in ds if m.startswith("analysis") and
                d.split(".")[0] in ("eval_runs", "app")]
    assert not [(m, d) for m, ds in graph.items() for d in ds if m.startswith("eval_runs") and d.startswith("app")]
    # no cycle between modules (a package importing its own submodules is not a cycle: it is how it is built)
    state, cycles = {}, []

    def visit(m, stack):
        state[m] = "open"
        for d in sorted(graph[m]):
            if d.startswith(m + ".") or m.startswith(d + "."):
                continue
            if state.get(d) == "open":
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d, stack + [d])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_old_module_paths_that_job_records_name_still_run(tmp_path):
    from eval_runs.jobs import submit_job, wait_for_job
    from eval_runs.jobs.spec import JobSpec

    ws = tmp_path / "ws"
    job_id = submit_job(["--steps", "2", "--seconds", "0"], workspace=ws, module="eval_runs.job_probe")
    done = wait_for_job(ws, job_id, timeout_seconds=60)
    assert done.status == "succeeded", done.log_tail
    assert JobSpec.from_dict(__import__("json").loads((ws / "jobs" / job_id / "spec.json").read_text())).module \
        == "eval_runs.job_probe"
    worker = subprocess.run([sys.executable, "-m", "eval_runs.job_worker", str(tmp_path / "nothing")],
                            capture_output=True, text=True)  # the old worker path answers like the new one
    assert worker.returncode == 2 and "is not a job folder" in worker.stderr
