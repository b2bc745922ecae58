"""The CLI as a user meets it: JSON on stdout, one-line errors on stderr, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kgprune.cli import app
from kgprune.commands import kg as kg_commands
from kgprune.commands.common import Interrupted
from kgprune.kg.records import Concept, Fact
from kgprune.kg.store import GraphBatch, open_store
from kgprune.kg.uri import concept_uri

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
     (["kg", "load", "visual-genome", "/no/such/dir"], "[K002]"),
     (["kg", "stats", "--store", "bolt://127.0.0.1:99999"],
      "[K019] Store URL 'bolt://127.0.0.1:99999' is invalid: Port out of range"),
     (["kg", "stats", "--store", "redis://admin:S3cret@localhost"],
      "[K001] Unknown store URL scheme 'redis' in 'redis://localhost'")],
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


def test_commands_without_store_leave_the_kgprune_store_graph_alone(
        store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled KG goes into the data-home store only, or where `kg load bundled` is asked to."""
    monkeypatch.setenv("KGPRUNE_STORE", store_url)
    made = runner.invoke(app, ["vqa", "make-synthetic", str(tmp_path / "bench"), "--n", "10",
                               "--image-size", "32", "--json"])
    assert made.exit_code != 0 and "K323" in str(made.exception)
    stats = runner.invoke(app, ["kg", "stats", "--json"])
    assert json.loads(stats.stdout)["facts"] == 19, "the user's graph is unchanged"
    loaded = runner.invoke(app, ["kg", "load", "bundled", "--json"])
    assert loaded.exit_code == 0, loaded.output
    reports = json.loads(loaded.stdout)
    assert [r["source"] for r in reports] == ["conceptnet", "visual_genome"]
    assert reports[0]["facts_added"] > 1000
    made = runner.invoke(app, ["vqa", "make-synthetic", str(tmp_path / "bench"), "--n", "10",
                               "--image-size", "32", "--json"])
    assert made.exit_code == 0, made.output


def _strict(text: str) -> Any:
    """Parse as a strict JSON parser would: NaN and Infinity are not JSON."""
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_json_output_has_no_nan_or_infinity(tmp_path: Path) -> None:
    """A weight that is not a finite number (stored by an older loader) prints as null."""
    url = f"ladybug://{tmp_path / 'odd.lbdb'}"
    with open_store(url) as store:
        store.write(GraphBatch(
            concepts=[Concept(concept_uri(n), n, "en") for n in ("cup", "tea", "mug")],
            facts=[Fact(concept_uri("cup"), "UsedFor", concept_uri(tail), weight, "conceptnet",
                        "/d/test", f"/a/{tail}") for tail, weight in
                   (("tea", float("nan")), ("mug", float("inf")))]))
    result = runner.invoke(app, ["kg", "neighbors", "cup", "--store", url, "--json"])
    assert result.exit_code == 0, result.output
    assert sorted(str(f["weight"]) for f in _strict(result.stdout)["facts"]) == ["None", "None"]


_PAUSED_LOAD = """
import signal, sys, time
from contextlib import contextmanager

signal.signal(signal.SIGINT, signal.default_int_handler)  # even if launched with SIGINT ignored
from kgprune import cli
from kgprune.commands import kg

@contextmanager
def paused(description, **options):
    def update(done, total):
        print("parsed", flush=True)
        time.sleep(60)
    yield update

kg.progress_bar = paused  # the load waits, mid-way, for the test's Ctrl-C
sys.argv = ["kgprune", *sys.argv[1:]]
cli.main()
"""


def test_ctrl_c_during_a_load_prints_one_line_and_exits_130(tmp_path: Path,
                                                            conceptnet_csv: Path) -> None:
    url = f"ladybug://{tmp_path / 'kg.lbdb'}"
    env = dict(os.environ, KGPRUNE_HOME=str(tmp_path), COLUMNS="200")
    proc = subprocess.Popen([sys.executable, "-c", _PAUSED_LOAD, "kg", "load", "conceptnet",
                             str(conceptnet_csv), "--store", url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "parsed"  # type: ignore[union-attr]
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (proc.returncode, stderr.strip()) == (130, "interrupted; the store is unchanged")
    stats = runner.invoke(app, ["kg", "stats", "--store", url, "--json"])
    assert json.loads(stats.stdout)["facts"] == 0


def test_ctrl_c_landing_in_the_commit_says_the_load_was_written(
        tmp_path: Path, conceptnet_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = kg_commands.load_conceptnet

    def committed_then_ctrl_c(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(kg_commands, "load_conceptnet", committed_then_ctrl_c)
    url = f"ladybug://{tmp_path / 'kg.lbdb'}"
    with pytest.raises(Interrupted, match="rerun the same command to finish it"):
        runner.invoke(app, ["kg", "load", "conceptnet", str(conceptnet_csv), "--store", url])
    monkeypatch.undo()
    assert json.loads(runner.invoke(app, ["kg", "stats", "--store", url, "--json"]).stdout)[
        "facts"] == 14


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
