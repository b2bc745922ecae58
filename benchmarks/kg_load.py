"""Benchmark: ConceptNet-format parse and load into the embedded store, against plain decompression.

Generates a ConceptNet 5.7-format `.csv.gz` per size (power-law concept degrees, the English
relation mix, realistic info JSON, sense-tagged URIs, non-English and ExternalURL rows mixed in),
then measures in separate processes, the DuckDB parser and the pure-Python reference side by side
in one round: `gzip -dc > /dev/null`, parse only, parse + load into a new LadybugDB store; each with
its peak resident memory and the load averages around it. `--rounds N` repeats the round and
reports each ratio's median and range: on a shared host the same load varies by 15-25% from one
round to the next. Writes one JSON file.

    python benchmarks/kg_load.py --sizes 1000000,3400000 --rounds 3 --out results/kg_load.json
    python benchmarks/kg_load.py --sizes 3400000 --english-share 0.1 --parsers duckdb

`--english-share 0.1` gives ConceptNet's real mix (about 10% of rows English-English); sizes
count English-English rows. `--keep DIR` keeps the generated files for later rounds.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from load_phases import peak_mb, run_phase, write_runs

# Approximate shares of ConceptNet 5.7's English-English relations.
RELATION_MIX = {
    "RelatedTo": 0.48, "FormOf": 0.11, "DerivedFrom": 0.09, "HasContext": 0.07, "IsA": 0.07,
    "Synonym": 0.065, "UsedFor": 0.012, "AtLocation": 0.008, "SimilarTo": 0.009,
    "CapableOf": 0.007, "HasSubevent": 0.007, "HasPrerequisite": 0.007, "Antonym": 0.006,
    "EtymologicallyRelatedTo": 0.01, "HasProperty": 0.005, "MannerOf": 0.004, "PartOf": 0.004,
    "Causes": 0.005, "ReceivesAction": 0.002, "MotivatedByGoal": 0.003, "Desires": 0.001,
    "HasA": 0.002, "MadeOf": 0.001, "CausesDesire": 0.001, "DistinctFrom": 0.001,
    "dbpedia/genre": 0.001,
}
DATASETS = ["/d/conceptnet/4/en", "/d/wiktionary/en", "/d/wordnet/3.1", "/d/verbosity"]
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "sha", "dor", "bel", "fin", "gra"]
NON_ENGLISH_SHARE = 0.15
EXTERNAL_URL_SHARE = 0.02
PARSERS = ("duckdb", "python")


def _term(rng: random.Random, i: int) -> str:
    words = 1 + (i % 7 == 0) + (i % 29 == 0)
    return "_".join("".join(rng.choice(SYLLABLES) for _ in range(2 + (i + w) % 3)) + str(i % 97)
                    for w in range(words))


def generate(path: Path, num_english: int, seed: int = 0,
             non_english_share: float = NON_ENGLISH_SHARE) -> None:
    """Write `num_english` English-English rows plus non-English and ExternalURL rows."""
    rng = random.Random(seed)
    num_concepts = max(1000, num_english // 3)
    terms = [_term(rng, i) for i in range(num_concepts)]
    relations, weights = zip(*RELATION_MIX.items(), strict=True)
    written = 0
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as fh:
        while written < num_english:
            u = rng.random()
            if u < EXTERNAL_URL_SHARE:
                t = terms[int(num_concepts * rng.random() ** 3)]
                fh.write(f"/a/[/r/ExternalURL/,/c/en/{t}/,http://dbpedia.org/resource/{t}/]\t"
                         f"/r/ExternalURL\t/c/en/{t}\thttp://dbpedia.org/resource/{t}\t"
                         '{"dataset": "/d/dbpedia/en", "license": "cc:by-sa/4.0", "sources": '
                         '[{"contributor": "/s/resource/dbpedia/2015/en"}], "weight": 0.5}\n')
                continue
            non_english = u < EXTERNAL_URL_SHARE + non_english_share
            lang = rng.choice(["de", "fr", "ja", "es"]) if non_english else "en"
            rel = rng.choices(relations, weights)[0]
            # Skewed draws give a few hub concepts with many edges and a long tail of rare ones.
            h = terms[int(num_concepts * rng.random() ** 2.5)]
            t = terms[int(num_concepts * rng.random() ** 1.5)]
            start = f"/c/{lang}/{h}" + ("/n/wn/thing" if rng.random() < 0.1 else "")
            end = f"/c/en/{t}" + ("/n" if rng.random() < 0.1 else "")
            info = {"dataset": rng.choice(DATASETS), "license": "cc:by-sa/4.0",
                    "sources": [{"activity": "/s/activity/omcs/omcs1_possibly_free_text",
                                 "contributor": f"/s/contributor/omcs/user{rng.randrange(5000)}"}],
                    "weight": round(rng.choice([1.0, 1.0, 1.0, 2.0, 0.5, 3.464]), 3)}
            if rng.random() < 0.3:
                a, b = h.replace("_", " "), t.replace("_", " ")
                info.update(surfaceStart=a, surfaceEnd=b, surfaceText=f"[[{a}]] is related to [[{b}]]")
            fh.write(f"/a/[/r/{rel}/,{start}/,{end}/]\t/r/{rel}\t{start}\t{end}\t"
                     f"{json.dumps(info, ensure_ascii=False, sort_keys=True)}\n")
            written += lang == "en"


def phase(name: str, parser: str, csv_gz: Path, workdir: Path) -> dict[str, float]:
    """Run one measured phase in this (fresh) process."""
    from kgprune.kg.backends.ladybug import LadybugStore, buffer_pool_bytes
    from kgprune.kg.ingest import load_conceptnet, stage_conceptnet, stage_conceptnet_columnar
    from kgprune.kg.loaders.conceptnet_columnar import engine_memory_mb
    from kgprune.kg.records import LoadReport

    # A new store each round (a second load into the same one adds nothing), removed untimed.
    store_path = workdir / f"bench-{parser}.lbdb"
    for stale in workdir.glob(f"{store_path.name}*"):
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink()
    start = time.perf_counter()
    result: dict[str, float] = {}
    report = LoadReport(source="conceptnet", path=str(csv_gz))
    if name == "parse" and parser == "python":
        with stage_conceptnet(csv_gz, report) as batch:
            result["facts"] = sum(1 for _ in batch.facts)
    elif name == "parse":
        with stage_conceptnet_columnar(csv_gz, report) as staged:
            assert staged is not None
            result["facts"] = staged.con.execute("SELECT count(*) FROM facts_raw").fetchone()[0]
    else:
        store = LadybugStore(store_path)
        report = load_conceptnet(store, csv_gz, parser=parser)  # type: ignore[arg-type]
        store.close()
        result["facts_added"] = report.facts_added
        result["concepts_added"] = report.concepts_added
        result["buffer_pool_mb"] = buffer_pool_bytes() / 2**20
        result["engine_memory_mb"] = engine_memory_mb()
    result["seconds"] = time.perf_counter() - start
    result["peak_rss_mb"] = peak_mb()
    return result


def _gunzip_seconds(csv_gz: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["sh", "-c", 'gzip -dc "$1" > /dev/null', "sh", str(csv_gz)], check=True)
    return time.perf_counter() - start


def _round(csv_gz: Path, workdir: Path, parsers: list[str], with_load: bool) -> dict:
    """gzip, then each parser's parse and parse + load, and gzip again: ratios use the mean."""
    gunzip = [_gunzip_seconds(csv_gz)]
    result: dict = {"file_mb": csv_gz.stat().st_size / 2**20}
    source = ("--file", csv_gz)
    for parser in parsers:
        parse = run_phase(__file__, "parse", parser, source, workdir)
        entry = {"parse": parse}
        if with_load:
            entry["parse_and_load"] = run_phase(__file__, "load", parser, source, workdir)
        result[parser] = entry
    gunzip.append(_gunzip_seconds(csv_gz))
    floor = sum(gunzip) / len(gunzip)
    result["gunzip_s"] = gunzip
    for parser in parsers:
        for measured in result[parser].values():
            measured["over_gunzip"] = measured["seconds"] / floor
    if len(parsers) == 2 and with_load:
        a, b = (result[p]["parse_and_load"]["seconds"] for p in parsers)
        result["load_speedup"] = b / a
    return result


def _summary(rounds: list[dict], parsers: list[str]) -> dict:
    """Each phase's ratio to `gzip -dc` over the rounds (median, lowest, highest) and its peak RSS."""
    summary = {}
    for parser in parsers:
        for name in rounds[0][parser]:
            ratios = sorted(r[parser][name]["over_gunzip"] for r in rounds)
            summary[f"{parser} {name}"] = {
                "median_over_gunzip": statistics.median(ratios), "min_over_gunzip": ratios[0],
                "max_over_gunzip": ratios[-1],
                "peak_rss_mb": max(r[parser][name]["peak_rss_mb"] for r in rounds)}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--english-share", type=float, default=None,
                        help="share of rows that are English-English (default: 83%%)")
    parser.add_argument("--parsers", default=",".join(PARSERS))
    parser.add_argument("--no-load", action="store_true", help="parse only")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per size (median, range)")
    parser.add_argument("--keep", type=Path, help="keep generated files here, reuse them")
    parser.add_argument("--out", type=Path, default=Path("results/kg_load.json"))
    parser.add_argument("--phase")
    parser.add_argument("--parser", default="duckdb")
    parser.add_argument("--file", type=Path)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.phase:
        print(json.dumps(phase(args.phase, args.parser, args.file, args.workdir)))
        return
    runs = []
    non_english = (NON_ENGLISH_SHARE if args.english_share is None
                   else 1.0 - EXTERNAL_URL_SHARE - args.english_share)
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="kgprune-bench-") as tmp:
            folder = args.keep or Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            csv_gz = folder / f"assertions-{size}-non-english-{non_english:.2f}.csv.gz"
            t0 = time.perf_counter()
            if not csv_gz.exists():
                generate(csv_gz, size, non_english_share=non_english)
            generate_s = time.perf_counter() - t0
            parsers = args.parsers.split(",")
            rounds = []
            for _ in range(args.rounds):
                rounds.append(_round(csv_gz, Path(tmp), parsers, not args.no_load))
                print(json.dumps(rounds[-1]), file=sys.stderr)
            run = {"english_edges": size, "non_english_share": non_english,
                   "generate_s": generate_s, "summary": _summary(rounds, parsers),
                   "rounds": rounds}
            runs.append(run)
            print(json.dumps(run["summary"]), file=sys.stderr)
    write_runs(args.out, runs)


if __name__ == "__main__":
    main()
