"""`kgprune demo`: the main job, end to end, on the embedded default store."""

from __future__ import annotations

from kgprune.commands.common import StoreOpt, err, facts_table, out, print_report, stats_table
from kgprune.kg import bundled
from kgprune.kg.store import default_store_url, open_store
from kgprune.kg.uri import concept_uri


def demo_cmd(store: StoreOpt = None) -> None:
    """Load the bundled knowledge graph into the embedded store and show what it holds."""
    url = store or default_store_url()
    err.print(f"Store: {url}", highlight=False)
    with open_store(url) as s:
        with err.status("Loading the bundled knowledge graph"):
            reports = bundled.load_bundled(s)
        for report in reports:
            print_report(report, as_json=False)
        out.print(stats_table(s.stats(), "Knowledge graph"))
        out.print(facts_table(s.sample_facts(limit=12), "Strongest facts"))
        for term in ("cup", "umbrella"):
            out.print(facts_table(s.neighbors(concept_uri(term), limit=8), f"Around '{term}'"))
