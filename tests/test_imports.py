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
