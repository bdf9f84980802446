"""Users' own quality models scored into ``model_scores``: a tiny fastText classifier and a tiny Hugging
Face model built in the test (nothing downloads), buckets, the combined bucket, identities in lineage.
Touches: model files and a lake under tmp_path."""

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa
import pytest

from assets.model_scores import model_scores
from corpuslake.lineage import Lineage
from corpuslake.quality import model_scores as stage
from corpuslake.quality.user_models import (
    ModelScoresConfig,
    Scorer,
    UserModel,
    UserModelError,
    files_sha256,
    load_scorer,
    resolve,
)
from corpuslake.store import Lake
from orchestration.resources import ComputeResource, LakeResource

GOOD = "the committee published a careful report on the history of the river valley"
BAD = "click here buy cheap pills now free casino bonus click here"


def _train_fasttext(target: str) -> None:
    import fasttext

    lines = [f"__label__hq {GOOD} {i}" for i in range(30)] + [f"__label__cc {BAD} {i}" for i in range(30)]
    data = Path(target).with_suffix(".txt")
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # bigram features with a small bucket table (this build reports NaN on unigram-only training here)
    params = {"epoch": 20, "lr": 0.5, "dim": 16, "wordNgrams": 2, "bucket": 50_000, "thread": 1, "seed": 1}
    fasttext.train_supervised(str(data), verbose=0, minCount=1, **params).save_model(target)


@pytest.fixture(scope="module")
def fasttext_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ft") / "user.bin"
    # a fresh process: fastText training leaves state behind that changes a second training's model
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(_train_fasttext, str(path)).result()
    return path


@pytest.fixture(scope="module")
def hf_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-layer BERT with hidden size 32 and a word-level tokenizer over the test's own words."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *sorted(set(f"{GOOD} {BAD}".split()))]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(words),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        id2label={0: "low", 1: "high"},
        label2id={"low": 0, "high": 1},
    )
    folder = tmp_path_factory.mktemp("hf") / "bert"
    BertForSequenceClassification(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def _scored_lake(root: Path, scores: list[float], dump: str = "D1") -> Lake:
    """A ``scored`` partition with the columns the stage reads and crafted quality scores."""
    lake = Lake(str(root))
    n = len(scores)
    rows = pa.table(
        {
            "id": [f"{dump}-{i:03d}" for i in range(n)],
            "dump": [dump] * n,
            "text": [(GOOD if i % 2 else BAD) + f" {i}" for i in range(n)],
            "quality_score": pa.array(scores, pa.float32()),
            "quality_model": ["abc"] * n,
        }
    )
    lake.write_partition("scored", rows, Lineage("scored", dump, "run", "test", {"model_hash": "abc"}), {"dump": dump})
    return lake


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CORPUSLAKE_USER_MODELS", raising=False)
    yield


def test_fasttext_scores_are_probabilities_of_the_label(fasttext_model: Path) -> None:
    scorer = load_scorer(UserModel("ft", "fasttext", str(fasttext_model)))
    scores = scorer.score([GOOD, BAD])
    assert scores[0] > 0.5 > scores[1]
    assert np.array_equal(scores, load_scorer(UserModel("ft", "fasttext", str(fasttext_model))).score([GOOD, BAD]))
    other = load_scorer(UserModel("ft", "fasttext", str(fasttext_model), label="__label__cc")).score([GOOD, BAD])
    assert np.allclose(scores + other, 1.0, atol=1e-4)
    with pytest.raises(UserModelError, match="label '__label__x' is not one of"):
        load_scorer(UserModel("ft", "fasttext", str(fasttext_model), label="__label__x"))


def test_hf_model_loads_offline_by_path_and_scores_reproducibly(hf_model: Path) -> None:
    model = UserModel("bert", "hf", str(hf_model), max_length=8, batch_size=3)
    texts = [GOOD, BAD, GOOD + " " + BAD * 20, "", "unknown words only"]
    first = load_scorer(model).score(texts)
    assert first.shape == (5,) and ((first > 0) & (first < 1)).all()
    assert np.array_equal(first, load_scorer(model).score(texts))
    # one document alone gets the score it gets in a padded batch: the attention mask hides the padding
    assert load_scorer(model).score([BAD])[0] == pytest.approx(first[1], abs=1e-5)
    low = load_scorer(UserModel("bert", "hf", str(hf_model), label="low", max_length=8)).score(texts[:2])
    assert np.allclose(first[:2] + low, 1.0, atol=1e-5)
    with pytest.raises(UserModelError, match="label 'medium' is not one of"):
        load_scorer(UserModel("bert", "hf", str(hf_model), label="medium"))


def test_config_errors_are_one_line(tmp_path: Path, fasttext_model: Path, env: None) -> None:
    cases = [
        (UserModel("x", "fasttext", str(tmp_path / "missing.bin")), "path not found"),
        (UserModel("x", "onnx", str(fasttext_model)), "unknown kind 'onnx'"),  # type: ignore[arg-type]
        (UserModel("X-1", "fasttext", str(fasttext_model)), "use a-z"),
        (UserModel("x", "hf", str(fasttext_model)), "directory with config.json"),
        (UserModel("x", "fasttext", str(tmp_path)), "is a .bin file"),
    ]
    for model, message in cases:
        with pytest.raises(UserModelError, match=message) as raised:
            resolve(ModelScoresConfig(models=(model,)))
        assert "\n" not in str(raised.value)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"not a model")
    with pytest.raises(UserModelError, match="fastText cannot load"):
        load_scorer(UserModel("x", "fasttext", str(garbage)))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with pytest.raises(UserModelError, match=r"cannot load .* offline"):
        load_scorer(UserModel("x", "hf", str(broken)))


def test_models_file_from_the_environment(tmp_path: Path, fasttext_model: Path, env: None) -> None:
    (tmp_path / "m.bin").write_bytes(fasttext_model.read_bytes())
    listing = tmp_path / "models.yaml"
    listing.write_text("models:\n  - {name: ft, kind: fasttext, path: m.bin}\n  - {name: dclm, kind: ours}\n")
    models = resolve(ModelScoresConfig(), {"CORPUSLAKE_USER_MODELS": str(listing)})
    assert [(m.name, m.kind, m.path) for m in models] == [
        ("ft", "fasttext", str(tmp_path / "m.bin")),
        ("dclm", "ours", ""),
    ]
    listing.write_text("models:\n  - {name: ft, kind: fasttext, path: m.bin, colour: red}\n")
    with pytest.raises(UserModelError, match="unknown field"):
        resolve(ModelScoresConfig(models_file=str(listing)))
    twice = (UserModel("a", "ours"), UserModel("a", "ours"))
    with pytest.raises(UserModelError, match="unique: a"):
        resolve(ModelScoresConfig(models=twice))
    assert resolve(ModelScoresConfig(), {}) == ()


def test_hash_changes_when_a_model_file_changes(tmp_path: Path, hf_model: Path, fasttext_model: Path) -> None:
    copy = tmp_path / "copy.bin"
    copy.write_bytes(fasttext_model.read_bytes())
    assert files_sha256(copy) == files_sha256(fasttext_model)
    copy.write_bytes(fasttext_model.read_bytes() + b"\0")
    assert files_sha256(copy) != files_sha256(fasttext_model)
    folder = tmp_path / "bert"
    folder.mkdir()
    for item in hf_model.iterdir():
        (folder / item.name).write_bytes(item.read_bytes())
    before = files_sha256(folder)
    assert before == files_sha256(hf_model)
    (folder / "config.json").write_text((folder / "config.json").read_text().replace('"high"', '"HIGH"'))
    assert files_sha256(folder) != before


def test_buckets_on_crafted_scores() -> None:
    scores = np.arange(100, dtype=np.float64)
    thresholds = stage.percentile_thresholds(scores)
    assert thresholds == tuple(float(5 * k) for k in range(1, 20))
    assert stage.bucket_of(scores, np.asarray(thresholds)).tolist() == [i // 5 for i in range(100)]
    # ties share a bucket; a constant model puts everything in the top bucket
    assert set(stage.bucket_of(np.ones(7), np.asarray(stage.percentile_thresholds(np.ones(7)))).tolist()) == {19}
    odd = np.random.default_rng(0).random(37)
    counts = np.bincount(stage.bucket_of(odd, np.asarray(stage.percentile_thresholds(odd))), minlength=20)
    assert counts.sum() == 37 and counts.max() - counts.min() <= 1


def test_stage_writes_scores_buckets_and_their_maximum(tmp_path: Path, fasttext_model: Path, env: None) -> None:
    crafted = [i / 100 for i in range(100)]
    lake = _scored_lake(tmp_path / "lake", crafted)
    models = (UserModel("dclm", "ours"), UserModel("ft", "fasttext", str(fasttext_model)))
    report = stage.score_dump(lake, "D1", "run", ModelScoresConfig(models=models), workers=1)
    assert report is not None and report.rows == 100
    table = lake.read("model_scores", report.version).sort_by("id")
    assert table.column("id").to_pylist() == [f"D1-{i:03d}" for i in range(100)]
    assert table.column("bucket_dclm").to_pylist() == [i // 5 for i in range(100)]
    # the DuckDB thresholds are the in-memory rule's
    staged = table.column("score_ft").to_numpy()
    assert report.extra["thresholds"]["ft"] == stage.percentile_thresholds(staged)
    expected = stage.bucket_of(staged, np.asarray(stage.percentile_thresholds(staged)))
    assert table.column("bucket_ft").to_numpy().tolist() == expected.tolist()
    assert np.array_equal(table.column("quality_bucket").to_numpy(), np.maximum(expected, [i // 5 for i in range(100)]))
    # good texts (odd ids) outscore bad ones
    assert staged[1::2].min() > staged[0::2].max()
    lineage = lake.lineage("model_scores", report.version)
    identities = {m["name"]: m for m in lineage.config["models"]}
    assert identities["ft"]["sha256"] == files_sha256(fasttext_model) and identities["dclm"]["sha256"] == "abc"
    assert {u.table for u in lineage.upstream} == {"scored", "model_scores_staging"}
    assert lineage.config["thresholds"]["dclm"][0] == pytest.approx(0.05)


def test_second_dump_with_another_model_keeps_the_columns(tmp_path: Path, hf_model: Path, env: None) -> None:
    lake = _scored_lake(tmp_path / "lake", [0.5] * 10, "D1")
    _scored_lake(tmp_path / "lake", [i / 12 for i in range(12)], "D2")
    stage.score_dump(lake, "D1", "run", ModelScoresConfig(models=(UserModel("dclm", "ours"),)), workers=1)
    bert = UserModel("bert", "hf", str(hf_model), max_length=16)
    report = stage.score_dump(lake, "D2", "run", ModelScoresConfig(models=(bert,)), workers=2)
    assert report is not None
    table = lake.read("model_scores", report.version)
    d1 = table.filter(pa.compute.equal(table["dump"], "D1"))
    d2 = table.filter(pa.compute.equal(table["dump"], "D2"))
    assert d1.num_rows == 10 and d1.column("score_bert").null_count == 10
    assert d2.num_rows == 12 and d2.column("score_dclm").null_count == 12
    assert d2.column("quality_bucket").to_pylist() == d2.column("bucket_bert").to_pylist()
    assert set(d1.column("bucket_dclm").to_pylist()) == {19}


def test_nothing_configured_reads_nothing(tmp_path: Path, env: None) -> None:
    lake = Lake(str(tmp_path / "empty"))  # no scored table at all: nothing is read
    assert stage.score_dump(lake, "D1", "run", ModelScoresConfig(), workers=1) is None


def _materialize(lake: Lake, config: dict[str, object]) -> dg.AssetMaterialization:
    resources = {"lake": LakeResource(root=lake.root), "compute": ComputeResource(workers=1)}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("dump", ["D1"])
        result = dg.materialize(
            [model_scores],
            instance=instance,
            resources=resources,
            partition_key="D1",
            run_config={"ops": {"model_scores": {"config": config}}},
        )
    assert result.success
    [event] = result.get_asset_materialization_events()
    return event.materialization


def test_asset_scores_with_configured_models_and_does_nothing_without(
    tmp_path: Path, fasttext_model: Path, env: None
) -> None:
    lake = _scored_lake(tmp_path / "lake", [i / 40 for i in range(40)])
    models = [{"name": "ft", "kind": "fasttext", "path": str(fasttext_model)}, {"name": "dclm", "kind": "ours"}]
    event = _materialize(lake, {"models": models})
    assert event.metadata["dagster/row_count"].value == 40
    assert "| ft | fasttext | " + files_sha256(fasttext_model)[:16] in str(event.metadata["models"].value)
    assert lake.read("model_scores").column_names[-1] == "quality_bucket"
    version = lake.version("model_scores")
    nothing = _materialize(lake, {})
    assert nothing.metadata["user_models"].value == 0 and lake.version("model_scores") == version


def test_a_model_is_loaded_once_per_worker(
    tmp_path: Path, hf_model: Path, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []

    def counting(model: UserModel, threads: int = 1) -> Scorer:
        loads.append(model.name)
        return load_scorer(model, threads)

    monkeypatch.setattr(stage, "_SCORERS", {})
    monkeypatch.setattr(stage, "load_scorer", counting)
    lake = _scored_lake(tmp_path / "lake", [i / 30 for i in range(30)])
    config = ModelScoresConfig(models=(UserModel("bert", "hf", str(hf_model), max_length=16),), batch_rows=4)
    report = stage.score_dump(lake, "D1", "run", config, workers=1)  # in this process: 8 batches
    assert report is not None and report.rows == 30 and loads == ["bert"]
