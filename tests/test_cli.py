"""The CLI as a user meets it: JSON on stdout, one-line errors on stderr, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgprune.cli import app

runner = CliRunner()


def _kgprune(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KGPRUNE_HOME=str(home), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "kgprune", *args], capture_output=True,
                          text=True, env=env, timeout=120)


@pytest.fixture
def store_url(tmp_path: Path, conceptnet_csv: Path, vg_dir: Path) -> str:
    url = f"ladybug://{tmp_path / 'cli.lbdb'}"
    for args in (["kg", "load", "conceptnet", str(conceptnet_csv)],
                 ["kg", "load", "visual-genome", str(vg_dir)]):
        result = runner.invoke(app, [*args, "--store", url, "--json"])
        assert result.exit_code == 0, result.output
    return url


def test_stats_json_has_the_documented_keys(store_url: str) -> None:
    result = runner.invoke(app, ["kg", "stats", "--store", store_url, "--json"])
    assert result.exit_code == 0
    stats = json.loads(result.stdout)
    assert stats["concepts"] == 28 and stats["facts"] == 19
    assert stats["by_source"] == {"conceptnet": 14, "visual_genome": 5}
    assert stats["by_relation"]["UsedFor"] == 3


def test_neighbors_json_lists_facts(store_url: str) -> None:
    result = runner.invoke(app, ["kg", "neighbors", "a cup", "--relation", "AtLocation",
                                 "--store", store_url, "--json"])
    assert result.exit_code == 0
    read = json.loads(result.stdout)
    assert read["store"] == store_url and read["view"]["level"] == 1.0
    assert read["uri"] == "/c/en/cup" and read["hops"] == 1
    facts = read["facts"]
    assert {f["hop"] for f in facts} == {1}
    assert {(f["head"], f["relation"], f["tail"], f["source"]) for f in facts} == {
        ("/c/en/cup", "AtLocation", "/c/en/kitchen", "conceptnet"),
        ("/c/en/cup", "AtLocation", "/c/en/table", "conceptnet"),
        ("/c/en/cup", "AtLocation", "/c/en/table", "visual_genome"),
    }
    assert all(set(f) >= {"head", "relation", "tail", "weight", "source"} for f in facts)


def test_load_json_report(tmp_path: Path, conceptnet_csv: Path) -> None:
    result = runner.invoke(app, ["kg", "load", "conceptnet", str(conceptnet_csv), "--lang", "all",
                                 "--store", f"ladybug://{tmp_path / 'x.lbdb'}", "--json"])
    report = json.loads(result.stdout)
    assert report["facts_added"] == 17 and report["skipped"] == {"external_url": 1}


@pytest.mark.parametrize(
    ("args", "message"),
    [(["kg", "load", "conceptnet", "/no/such/file.csv.gz"], "[K002] No such file or directory: /no/such/file.csv.gz"),
     (["kg", "stats", "--store", "redis://localhost"], "[K001] Unknown store URL scheme 'redis'"),
     (["kg", "stats", "--coverage", "1.5"], "[K010] Coverage must lie in [0, 1]"),
     (["kg", "load", "visual-genome", "/no/such/dir"], "[K002]")],
)
def test_errors_are_one_line_with_exit_code_1(tmp_path: Path, args: list[str], message: str) -> None:
    proc = _kgprune(*args, home=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: " + message)
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_bad_line_exit_code_and_message(tmp_path: Path, conceptnet_csv: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(conceptnet_csv.read_text(encoding="utf-8") + "only\tthree\tcolumns\n", encoding="utf-8")
    proc = _kgprune("kg", "load", "conceptnet", str(bad), home=tmp_path)
    assert proc.returncode == 1
    assert f"{bad}:20: expected 5 tab-separated columns, found 3" in proc.stderr
    assert "--skip-bad-lines" in proc.stderr
    stats = _kgprune("kg", "stats", "--json", home=tmp_path)
    assert json.loads(stats.stdout)["facts"] == 0


def test_neighbors_two_hops_say_each_fact_s_hop(store_url: str) -> None:
    result = runner.invoke(app, ["kg", "neighbors", "cup", "--hops", "2", "--limit", "100",
                                 "--store", store_url, "--json"])
    facts = json.loads(result.stdout)["facts"]
    assert {f["hop"] for f in facts} == {1, 2}
    assert all((f["hop"] == 1) == ("/c/en/cup" in (f["head"], f["tail"])) for f in facts)
    table = runner.invoke(app, ["kg", "neighbors", "cup", "--hops", "2", "--limit", "100",
                                "--store", store_url]).stdout
    header = next(line for line in table.splitlines() if "relation" in line)
    assert header.split()[:2] == ["┃", "hop"]


def test_unknown_term_is_an_error_and_a_known_one_without_facts_a_note(store_url: str) -> None:
    result = runner.invoke(app, ["kg", "neighbors", "xyzzy", "--store", store_url])
    assert result.exit_code == 1 and "K595" in str(result.exception)
    empty = runner.invoke(app, ["kg", "neighbors", "cup", "--relation", "Desires",
                                "--store", store_url])
    assert empty.exit_code == 0 and "has no facts in this view" in empty.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert _kgprune("kg", "neighbors", "cup", "--hops", "3", home=tmp_path).returncode == 2


def test_sample_compares_a_view_with_the_full_graph(store_url: str) -> None:
    result = runner.invoke(app, ["kg", "sample", "--coverage", "0.5", "--strategy", "relation",
                                 "--seed", "1", "--store", store_url, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["view"] == {"level": 0.5, "seed": 1, "strategy": "relation", "source": ""}
    assert report["store"] == store_url
    stats = json.loads(runner.invoke(app, ["kg", "stats", "--store", store_url, "--json"]).stdout)
    assert set(report) == set(stats) | {"full"}, "the shape of kg stats, plus the full counts"
    assert report["full"]["facts"] == 19
    assert report["by_relation"]["AtLocation"] == round(0.5 * 5)
    assert report["full"]["by_relation"]["AtLocation"] == 5
    bad = runner.invoke(app, ["kg", "sample", "--coverage", "0.5", "--strategy", "snowball",
                              "--store", store_url])
    assert bad.exit_code != 0


HEAVY = ("torch", "transformers", "spacy", "faiss")
_IMPORTS = ("import sys\nsys.argv = ['kgprune', *sys.argv[1:]]\nfrom kgprune.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}), "
            "file=sys.stderr)\n")


@pytest.mark.parametrize("args", [["--help"], ["kg", "stats", "--json"], ["kg", "--help"],
                                  ["--version"]])
def test_help_and_graph_reads_import_no_heavy_library(tmp_path: Path, args: list[str]) -> None:
    env = dict(os.environ, KGPRUNE_HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", _IMPORTS, *args], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.stderr.strip().splitlines()[-1] == "[]", proc.stderr


def test_version(tmp_path: Path) -> None:
    from kgprune import __version__

    proc = _kgprune("--version", home=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"kgprune {__version__}"


def test_every_command_is_listed_and_runs_its_own_help() -> None:
    from kgprune.cli import COMMANDS

    listing = runner.invoke(app, ["--help"], env={"COLUMNS": "200"}).stdout
    for name, (_, _, summary) in COMMANDS.items():
        assert name in listing and summary.split(" ")[0] in listing
        own = runner.invoke(app, [name, "--help"], env={"COLUMNS": "200"})
        assert own.exit_code == 0 and "Usage:" in own.stdout, name


def test_piped_tables_are_never_cut(capsys: pytest.CaptureFixture[str]) -> None:
    from kgprune.commands.common import facts_table, out
    from kgprune.kg.records import Fact

    tail = "/c/en/" + "very_long_concept_name_" * 8
    out.print(facts_table([Fact("/c/en/cup", "AtLocation", tail, 1.0, "conceptnet", "", "e1")],
                          "facts"))
    printed = capsys.readouterr().out
    assert tail in printed and "…" not in printed, "off a terminal nothing is cut to 80 columns"
    assert max(len(line) for line in printed.splitlines()) > 200


@pytest.mark.parametrize("command", ["train", "prune", "importance"])
def test_lambda_has_one_name_and_the_old_alias(command: str) -> None:
    text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).stdout
    assert "--lambda" in text and "--lam " in text.replace(",", " ")
