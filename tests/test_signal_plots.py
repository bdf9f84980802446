"""The stored signals drawn: perplexity per bucket, documents per domain label, perplexity by domain.

Touches: corpuslake.plots.signals and signal_render, the perplexity and domains stages (run for real on a
lake under tmp_path whose ``scored`` table holds the committed quality examples), and the perplexity asset
materialized in process. The JSON beside each PNG is checked against counts computed here from the rows.
"""

import base64
import io
import json
import statistics
from collections import Counter
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from PIL import Image

from assets.signal_plots import signal_plots_metadata
from corpuslake.domains.run import label_dump, train_model
from corpuslake.perplexity.stage import PerplexityConfig, perplexity_dump
from corpuslake.plots.report import PlotSet
from corpuslake.plots.signals import signals_markdown, write_signal_plots
from corpuslake.store import Lake
from orchestration.partitions import DUMP_PARTITIONS_NAME
from orchestration.resources import ComputeResource, LakeResource
from tests.test_domains import CONFIG, EXAMPLES, HOSTS, write_scored
from tests.test_perplexity import write_reference
from tests.test_perplexity_stage import materialize_perplexity

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _examples() -> list[dict[str, str]]:
    import gzip

    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle][::5]
    return [
        {"text": r["text"], "url": f"https://{HOSTS.get(r['source'].split('/')[0], 'x.org')}/{r['source']}"}
        for r in rows
    ]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> PerplexityConfig:
    folder = tmp_path_factory.mktemp("refs")
    write_reference(folder / "en.jsonl.gz")
    return PerplexityConfig(references=str(folder), model_dir=str(folder / "models"))


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, config: PerplexityConfig) -> Lake:
    """D1 has both signal tables, D2 perplexity only; one D1 document is empty (no perplexity)."""
    store = Lake(str(tmp_path_factory.mktemp("lake") / "lake"))
    examples = _examples()
    half = len(examples) // 2
    write_scored(store, "D1", [*examples[:half], {"text": "", "url": "https://x.org/empty"}])
    write_scored(store, "D2", examples[half:])
    for dump in ("D1", "D2"):
        perplexity_dump(store, dump, "run", config, workers=1, code_version="test")
    train_model(store, "run", CONFIG, "test")
    label_dump(store, "D1", "run", 1, "test")
    return store


@pytest.fixture(scope="module")
def drawn(lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> PlotSet:
    return write_signal_plots(lake, "D1", out=tmp_path_factory.mktemp("drawn"))


def _valid_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    with Image.open(io.BytesIO(data)) as image:
        image.verify()


def test_the_numbers_drawn_are_the_tables_counts(lake: Lake, drawn: PlotSet) -> None:
    p, d = lake.version("perplexity"), lake.version("domains")
    assert [png.relative_to(drawn.folder).as_posix() for png in drawn.pngs] == [
        f"perplexity@v{p}/perplexity.png",
        f"domains@v{d}/domain_labels.png",
        f"perplexity@v{p}+domains@v{d}/perplexity_by_domain.png",
    ]
    for png in drawn.pngs:
        _valid_png(png)
    rows = lake.read("perplexity", dumps=["D1"]).to_pylist()
    numbers = json.loads((drawn.folder / f"perplexity@v{p}" / "perplexity.json").read_text())
    edges = np.asarray(numbers["edges"])
    values = [r["perplexity"] for r in rows if r["perplexity"] is not None]
    assert edges[0] <= min(values) and max(values) <= edges[-1]
    for bucket in ("head", "middle", "tail"):
        mine = [r["perplexity"] for r in rows if r["perplexity_bucket"] == bucket]
        assert numbers["counts"][bucket] == [int(c) for c in np.histogram(mine, bins=edges)[0]]
        assert numbers["totals"][bucket] == len(mine)
    assert numbers["totals"]["no_perplexity"] == len(rows) - len(values) >= 1
    model = lake.lineage("perplexity", p).config["models"]["en"]
    assert numbers["cutoffs"] == {
        "en": {"model": model["key"], "head": model["cutoffs"][0], "middle": model["cutoffs"][1]}
    }

    labels = lake.read("domains", dumps=["D1"]).to_pylist()
    domains = json.loads((drawn.folder / f"domains@v{d}" / "domain_labels.json").read_text())
    counted = Counter((r["domain"], r["domain_name"]) for r in labels)
    assert {(r["domain"], r["name"]): r["documents"] for r in domains["domains"]} == dict(counted)
    assert domains["distinct"] == len(counted) and domains["other"] == 0
    assert [r["documents"] for r in domains["domains"]] == sorted(counted.values(), reverse=True)

    by_id = {r["id"]: r["perplexity"] for r in rows}
    per: dict[str, list[float]] = {}
    for r in labels:
        if by_id[r["id"]] is not None:
            per.setdefault(r["domain"], []).append(by_id[r["id"]])
    by_domain = json.loads((drawn.folder / f"perplexity@v{p}+domains@v{d}" / "perplexity_by_domain.json").read_text())
    assert {r["domain"] for r in by_domain["domains"]} == set(per)
    for r in by_domain["domains"]:
        found = per[r["domain"]]
        quartiles = statistics.quantiles(found, n=4, method="inclusive") if len(found) > 1 else [found[0]] * 3
        assert r["documents"] == len(found)
        assert [r["p25"], r["median"], r["p75"]] == pytest.approx(quartiles)
    assert by_domain["without_perplexity"] == 1


def test_the_same_versions_give_the_same_bytes(lake: Lake, drawn: PlotSet, tmp_path: Path) -> None:
    again = write_signal_plots(lake, "D1", out=tmp_path)
    assert [p.relative_to(tmp_path) for p in again.pngs] == [p.relative_to(drawn.folder.parent) for p in drawn.pngs]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(drawn.pngs, again.pngs, strict=True))
    for png in drawn.pngs:
        assert (
            png.with_suffix(".json").read_text()
            == (tmp_path / png.relative_to(drawn.folder.parent)).with_suffix(".json").read_text()
        )


def test_markdown_embeds_the_images_and_says_what_was_not_drawn(lake: Lake, drawn: PlotSet, tmp_path: Path) -> None:
    markdown = signals_markdown(drawn)
    images = [line for line in markdown.splitlines() if line.startswith("![")]
    assert len(images) == 3
    assert base64.b64decode(images[0].split("data:image/png;base64,", 1)[1].rstrip(")")) == drawn.pngs[0].read_bytes()
    only_perplexity = write_signal_plots(lake, "D2", out=tmp_path)
    assert [p.name for p in only_perplexity.pngs] == ["perplexity.png"]
    text = signals_markdown(only_perplexity, embed=False)
    assert "Not drawn: no domains table version holds dump 'D2'." in text
    assert text.count("Not drawn") == 2 and f"]({tmp_path}" in text


def test_a_plot_that_cannot_be_drawn_is_said_in_the_metadata(lake: Lake) -> None:
    metadata = signal_plots_metadata(lake, "D1", {"perplexity": 99}, ("perplexity",))
    assert list(metadata) == ["signal_plots"]
    assert "could not be drawn" in str(metadata["signal_plots"].value)


def test_the_perplexity_asset_page_shows_the_plots(lake: Lake, config: PerplexityConfig) -> None:
    metadata = materialize_perplexity(lake, config)
    shown = str(metadata["signal_plots"].value)
    assert shown.count("data:image/png;base64,") == 2 and "### Perplexity by domain" in shown
    assert f"perplexity@v{lake.version('perplexity')}" in shown
    assert Path(str(metadata["signal_plots_folder"].value)).is_dir()


def test_the_domains_asset_page_shows_the_plots(lake: Lake) -> None:
    from assets.domains import domains

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(DUMP_PARTITIONS_NAME, ["D2"])
        result = dg.materialize(
            [domains],
            partition_key="D2",
            instance=instance,
            resources={"lake": LakeResource(root=lake.root), "compute": ComputeResource(workers=1)},
        )
    metadata = result.asset_materializations_for_node("domains")[0].metadata
    shown = str(metadata["signal_plots"].value)
    assert shown.count("data:image/png;base64,") == 2 and "Not drawn" not in shown
    assert f"### Domain labels (domains@v{lake.version('domains')})" in shown
    assert "### Perplexity by domain" in shown and "### Perplexity (" not in shown


def test_corpuslake_plots_draws_the_signals_beside_the_tables_histograms(lake: Lake, tmp_path: Path) -> None:
    from corpuslake.plots.report import write_plots

    plots = write_plots(lake, "D1", out=tmp_path)
    names = {p.name for p in plots.pngs}
    assert {"perplexity.png", "domain_labels.png", "perplexity_by_domain.png"} <= names
    index = (tmp_path / "D1" / "index.md").read_text(encoding="utf-8")
    assert "perplexity.png" in index and "domain_labels.png" in index
    only = write_plots(lake, "D1", out=tmp_path / "only", parts=["scored", "perplexity"])
    assert {p.name for p in only.pngs} & {"domain_labels.png", "perplexity_by_domain.png"} == set()
    assert "perplexity.png" in {p.name for p in only.pngs}
