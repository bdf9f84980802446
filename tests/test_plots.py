"""A dump's distributions as PNG plots: valid images whose JSON equals counts computed here independently.

Touches: corpuslake.plots (compute, render, report, the ``plots`` command through its own argparse parser)
on a lake under tmp_path: 24 documents of one dump over five domains, run through the real filter stage
(so the thresholds come from that version's lineage), and a ``scored`` partition written from the kept rows.
"""

import argparse
import base64
import io
import json
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from corpuslake.filters import url
from corpuslake.filters.chain import FilterConfig
from corpuslake.lineage import Lineage
from corpuslake.pipeline import filter_documents
from corpuslake.plots.bins import edges_for
from corpuslake.plots.cli import add_plots_parser
from corpuslake.plots.report import PlotSet, asset_plots, plots_markdown, write_plots
from corpuslake.plots.thresholds import snapshot_thresholds
from corpuslake.publish import publish
from corpuslake.schemas import DOCUMENTS, SCORED
from corpuslake.store import Lake
from tests.published import numbered_rows
from tests.test_filters import ENGLISH, words

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# page -> (registered domain, top-level domain), as the Public Suffix List has them
SITES = {
    "http://www.bbc.co.uk/news/": ("bbc.co.uk", "uk"),
    "https://news.example.com/a/": ("example.com", "com"),
    "http://blog.example.org:8080/p/": ("example.org", "org"),
    "http://10.0.0.7/x/": ("(ip)", "(ip)"),
    "https://shop.example.com.au/": ("example.com.au", "au"),
}


def _doc(i: int) -> dict[str, object]:
    page = list(SITES)[i % len(SITES)] + str(i)
    # every third document is too short for Gopher (dropped with 30 words), every seventh is German
    text = " ".join(["The", "and", "the", *words(27)]) + "." if i % 3 == 0 else ENGLISH + f"Number {i} was here.\n"
    return {
        "id": f"doc{i:02d}",
        "dump": "D1",
        "url": page,
        "warc_record_id": f"<urn:uuid:{i}>",
        "warc_date": None,
        "source_file": "part-0.warc.gz",
        "warc_offset": 100 * i,
        "content_type": "text/html",
        "encoding": "utf-8",
        "html_bytes": len(text) * 2,
        "replaced_fraction": 0.0,
        "text": text,
        "text_chars": len(text),
        "language": "de" if i % 7 == 0 else "en",
        "language_score": 0.5 + 0.02 * i,
    }


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    folder = tmp_path_factory.mktemp("plots")
    store = Lake(str(folder / "lake"))
    documents = pa.Table.from_pylist([_doc(i) for i in range(24)], schema=DOCUMENTS)
    store.write_partition("documents", documents, Lineage("documents", "D1", "r0", "t", {}), {"dump": "D1"})
    lists = url.UrlConfig(domains="", urls="", banned_words="", soft_banned_words="", banned_subwords="")
    filter_documents(store, "D1", "run-1", FilterConfig(url=lists), workers=1)
    kept = store.read("filtered", dumps=["D1"]).sort_by("id")
    scored = kept.append_column("cluster_id", kept["id"])
    n = kept.num_rows
    scored = scored.append_column("cluster_size", pa.array([1] * n, pa.int32()))
    scored = scored.append_column("dup_kind", pa.array(["none"] * n))
    scored = scored.append_column("paragraphs_removed", pa.array([0] * n, pa.int32()))
    scored = scored.append_column("quality_score", pa.array([i / n for i in range(n)], pa.float32()))
    scored = scored.append_column("quality_model", pa.array(["m"] * n))
    store.write_partition(
        "scored", scored.select(SCORED.names).cast(SCORED), Lineage("scored", "D1", "r", "t", {}), {"dump": "D1"}
    )
    return store


def _expected(values: list[float | None], edges: tuple[float, ...]) -> dict[str, object]:
    present = np.array([v for v in values if v is not None], dtype=np.float64)
    return {
        "counts": [int(c) for c in np.histogram(present, bins=np.asarray(edges))[0]],
        "underflow": int((present < edges[0]).sum()),
        "overflow": int((present > edges[-1]).sum()),
    }


def _png(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        return image.size


@pytest.fixture(scope="module")
def plots(lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> PlotSet:
    """Every part, drawn once for the module (rendering dozens of PNGs is most of its time)."""
    return write_plots(lake, "D1", out=tmp_path_factory.mktemp("drawn"))


def test_plots_are_pngs_whose_numbers_match_the_tables(lake: Lake, plots: PlotSet) -> None:
    assert plots.pngs and all(_png(p)[0] >= 800 for p in plots.pngs)
    folder = plots.folder
    filtered = lake.read("filtered", dumps=["D1"])
    rejected = [
        json.loads(s)
        for s in lake.read("rejections", dumps=["D1"], filters={"stage": "filtered"})["signals"].to_pylist()
    ]
    kept_rows, dropped_rows = filtered.num_rows, len(rejected)
    assert kept_rows + dropped_rows == 24 and kept_rows and dropped_rows  # short, German, low-score ones went

    version = lake.version("filtered")
    for column in ("gopher_words", "fineweb_line_punct_ratio", "language_score", "gopher_mean_word_length"):
        numbers = json.loads((folder / f"filtered@v{version}" / f"{column}.json").read_text())
        edges, _ = edges_for(column, filtered.schema.field(column).type)
        assert numbers["edges"] == list(edges)
        kept = _expected(filtered[column].to_pylist(), edges)
        dropped = _expected([r[column] for r in rejected], edges)
        assert numbers["counts"] == {"kept": kept["counts"], "dropped": dropped["counts"]}
        assert numbers["overflow"] == {"kept": kept["overflow"], "dropped": dropped["overflow"]}
        assert numbers["totals"] == {"kept": kept_rows, "dropped": dropped_rows}
        assert (folder / f"filtered@v{version}" / f"{column}.png").is_file()
    words_json = json.loads((folder / f"filtered@v{version}" / "gopher_words.json").read_text())
    assert {"value": 50.0, "label": "gopher_quality.min_doc_words", "keep": "above", "enabled": True} in words_json[
        "thresholds"
    ]

    scored_folder = folder / f"scored@v{lake.version('scored')}"
    quality = json.loads((scored_folder / "quality_score.json").read_text())
    scores = lake.read("scored", dumps=["D1"])["quality_score"].to_pylist()  # as stored (float32)
    assert quality["counts"]["documents"] == _expected(scores, edges_for("quality_score", pa.float32())[0])["counts"]

    funnel = json.loads((scored_folder / "funnel.json").read_text())
    assert [(s["step"], s["documents"]) for s in funnel["steps"]] == [
        ("documents", 24),
        ("kept by the filters", kept_rows),
        ("scored", kept_rows),
    ]
    assert _png(scored_folder / "funnel.png")[0] == 1600  # readable at 1600 px: drawn at that width

    domains = json.loads((scored_folder / "domains.json").read_text())
    kept_ids = set(lake.read("scored", dumps=["D1"])["id"].to_pylist())
    expected: dict[str, list[int]] = {}
    for i in range(24):
        registered = SITES[list(SITES)[i % len(SITES)]][0]
        expected.setdefault(registered, [0, 0])[0 if f"doc{i:02d}" in kept_ids else 1] += 1
    got = {r["domain"]: [r["kept"], r["dropped"]] for r in domains["registered"]["top"]}
    assert got == expected and domains["registered"]["distinct"] == 5
    assert {r["domain"] for r in domains["tld"]["top"]} == {"uk", "com", "org", "(ip)", "au"}
    assert urlsplit(list(SITES)[2]).port == 8080  # the port is not part of the domain
    assert (folder / "index.md").read_text().count("![") >= 3


def test_the_same_versions_give_the_same_bytes(lake: Lake, tmp_path: Path) -> None:
    first = write_plots(lake, "D1", out=tmp_path / "a", parts=("scored", "funnel"))
    second = write_plots(lake, "D1", out=tmp_path / "b", parts=("scored", "funnel"))
    assert [p.relative_to(tmp_path / "a") for p in first.pngs] == [p.relative_to(tmp_path / "b") for p in second.pngs]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first.pngs, second.pngs, strict=True))
    assert not (tmp_path / "a" / "D1" / f"scored@v{lake.version('scored')}" / "domains.json").exists()  # not asked


def test_markdown_embeds_the_images(lake: Lake, plots: PlotSet) -> None:
    markdown = plots_markdown(plots, ("funnel", "scored"))
    assert markdown.startswith("### Funnel")
    images = [line for line in markdown.splitlines() if line.startswith("![")]
    assert len(images) == 2
    data = base64.b64decode(images[0].split("data:image/png;base64,", 1)[1].rstrip(")"))
    assert data == (plots.folder / f"scored@v{lake.version('scored')}" / "funnel.png").read_bytes()
    assert f"| quality_score | {lake.read('scored').num_rows} |" in markdown
    linked = plots_markdown(plots, ("funnel",), embed=False)
    assert f"]({plots.folder}" in linked


def test_the_plots_command_lists_what_it_wrote(lake: Lake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="corpuslake")
    add_plots_parser(parser.add_subparsers(required=True))
    argv = ["plots", "--dump", "D1", "--lake", lake.root, "--out", str(tmp_path), "--only", "funnel"]
    args = parser.parse_args([*argv, "--version", f"documents={lake.version('documents')}"])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "funnel.png" in out and "index.md" in out and "overview.png" not in out
    args = parser.parse_args(["plots", "--dump", "D9", "--lake", lake.root, "--out", str(tmp_path)])
    with pytest.raises(LookupError, match=r"no table of .* holds dump 'D9'"):
        args.handler(args)


def test_snapshot_cuts_are_drawn_on_the_quality_score(tmp_path: Path) -> None:
    store = Lake(str(tmp_path / "lake"))
    rows = numbered_rows("web", 4)

    def publish_as(name: str, definition: dict[str, object], report: dict[str, object]) -> None:
        publish(
            store,
            name,
            "snapshot",
            rows,
            order_by="id",
            tokenizer="test",
            upstream=(),
            definition=definition,
            report=report,
            run_id="t",
            code_version="t",
        )

    publish_as("web-hq", {"quality_threshold": 0.7}, {})
    publish_as("web-top", {"max_badword_rate": 0.02}, {"quality_cut": 0.83})
    # a snapshot whose publication says which dumps it holds, none of them D1: no line on D1's plots
    publish_as("web-d2", {}, {"by_dump": {"D2": {}}, "quality_cut": 0.1})
    cuts = snapshot_thresholds(store, "D1")
    assert [(t.value, t.label, t.keep) for t in cuts["quality_score"]] == [
        (0.7, "web-hq@1 cut", "above"),
        (0.83, "web-top@1 cut", "above"),
    ]
    assert [(t.value, t.label, t.keep) for t in cuts["badword_rate"]] == [(0.02, "web-top@1 cap", "below")]


def test_an_asset_gets_its_parts_as_markdown_and_the_folder(lake: Lake) -> None:
    shown = asset_plots(lake, "D1", {"scored": lake.version("scored") or 0}, ("scored",))
    assert shown is not None
    markdown, folder = shown
    assert markdown.startswith("### scored@v") and markdown.count("data:image/png;base64,") == 1
    assert Path(folder) == Path(lake.root) / "_plots" / "D1"  # beside the lake
    drawn = Path(folder) / f"scored@v{lake.version('scored')}"
    assert (drawn / "overview.png").is_file() and (drawn / "quality_score.json").is_file()
    assert not (drawn / "quality_score.png").exists()
    assert "| quality_score |" in markdown and "| overview |" in markdown  # one PNG per table, not per signal


def test_a_small_multiple_has_one_patch_per_series_few_ticks_and_a_fixed_title() -> None:
    from matplotlib.figure import Figure

    from corpuslake.plots.bins import Threshold, new_histograms
    from corpuslake.plots.render import draw_histogram

    schema = pa.schema([("fineweb_line_punct_ratio", pa.float64())])
    thresholds = {"fineweb_line_punct_ratio": [Threshold(0.12, "fineweb", "above")]}
    histogram = new_histograms(schema, ["fineweb_line_punct_ratio"], "filtered@v1", thresholds)[
        "fineweb_line_punct_ratio"
    ]
    histogram.add("kept", pa.array(np.linspace(0.2, 1.0, 500)))
    histogram.add("dropped", pa.array(np.linspace(0.0, 0.1, 300)))
    ax = Figure(figsize=(4, 2.6)).add_subplot()
    draw_histogram(ax, histogram, small=True)
    assert len(ax.patches) == 2  # kept and dropped, each filled and outlined by one patch
    assert [p.get_label() for p in ax.patches] == ["dropped (300)", "kept (500)"]
    assert len(ax.get_xticks()) <= 6 and len(ax.get_yticks()) <= 6
    assert ax._autotitlepos is False  # type: ignore[attr-defined]  # placed, not measured at each draw
