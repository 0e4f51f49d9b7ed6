"""Plugins through entry points: the package's own ``train`` evaluator and ``meta`` predictor are declared in
pyproject.toml, so a lower layer finds them without importing their (higher) package, and a plugin of another
distribution is found the same way; a broken one is a one-line error naming it. Fresh processes: what a module
imports is the question."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, tmp_path, pythonpath: Path | None = None) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(pythonpath or ""), str(ROOT)]))}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=tmp_path,
                       env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


def test_the_train_evaluator_and_meta_predictor_are_found_without_importing_their_packages(tmp_path):
    out = _python(
        "from surrogate_nas.search.evaluators import EVALUATORS; print('train' in EVALUATORS.names())\n"
        "import sys\n"
        "from surrogate_nas.search import SearchConfig, run_search\n"
        "from surrogate_nas.predictors import PREDICTORS, make_predictor\n"
        "assert 'meta' in PREDICTORS.names() and 'meta' in PREDICTORS\n"
        "assert SearchConfig(evaluator='train', task='digits', strategy='random').resolved().evaluator == 'train'\n"
        "print(sorted(m for m in ('surrogate_nas.training', 'surrogate_nas.meta') if m in sys.modules))\n"
        "try:\n"
        "    run_search(SearchConfig(evaluator='train', task='cifar10', strategy='random', out='run',\n"
        "                            progress=False))\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, str(e).split(' (')[0])\n"
        "try:\n"
        "    make_predictor('meta', space='nb201', seed=0)\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
        "print('surrogate_nas.training' in sys.modules, 'surrogate_nas.meta' in sys.modules)\n",
        tmp_path,
    )
    assert out.splitlines() == [
        "True",
        "[]",  # listed and validated, neither imported
        "DataError dataset 'cifar10' needs a data root",  # run_search built the train evaluator: training's check
        "SurrogateNASError predictor 'meta' needs a checkpoint (checkpoint=PATH or a Checkpoint)",
        "True True",
    ]
    assert not (tmp_path / "run").exists()


def test_a_broken_evaluator_plugin_is_one_line_naming_it(tmp_path):
    site = tmp_path / "site"
    info = site / "broken_plugin-0.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text("[surrogate_nas.evaluators]\nlab = broken_lab.evaluators:build\n")
    (site / "broken_lab").mkdir()
    (site / "broken_lab" / "__init__.py").write_text("")
    (site / "broken_lab" / "evaluators.py").write_text("import torch_lab_sdk  # not installed\n")
    out = _python(
        "from surrogate_nas.search import EVALUATORS, SearchConfig, run_search\n"
        "print(EVALUATORS.names())\n"
        "try:\n"
        "    run_search(SearchConfig(evaluator='lab', task='cifar10', strategy='random', out='run', progress=False))\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, repr(str(e)))\n",
        tmp_path,
        pythonpath=site,
    )
    names, error = out.splitlines()
    assert names == "['lab', 'table', 'train']"
    assert error == (
        "SurrogateNASError \"evaluator plugin 'lab' (entry point lab = broken_lab.evaluators:build in group "
        "surrogate_nas.evaluators of broken-plugin 0.3) failed to load: ModuleNotFoundError: No module named "
        "'torch_lab_sdk'\""
    )
    assert not (tmp_path / "run").exists()
