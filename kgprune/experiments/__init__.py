"""The paper's studies as runnable experiments and their reports.

`spec` (studies and their cells), `config` (TOML and --set into specs), `runner` (run_study and the
CellRunner protocol a cell implementation follows), `run_dir` (resumable results directories),
`aggregate` (seeds to means, intervals, paired comparisons), `report` / `layout` / `tables` /
`plots` (results.json, CSVs, report.md, figures).
"""

from kgprune.experiments.config import load_spec
from kgprune.experiments.records import CellResult
from kgprune.experiments.report import render_report
from kgprune.experiments.runner import CellRunner, StudyRun, run_study
from kgprune.experiments.spec import FULL, STUDIES, Cell, Settings, StudySpec

__all__ = ["FULL", "STUDIES", "Cell", "CellResult", "CellRunner", "Settings", "StudyRun",
           "StudySpec", "load_spec", "render_report", "run_study"]
