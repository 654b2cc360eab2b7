"""The customer-message corpus: row parsing and refusals, the stable split, the public mapping."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from handoff.settings import get_settings, repo_root
from training.sentiment import corpus
from training.sentiment.corpus import CorpusError
from training.sentiment.data import NEGATIVE, NEUTRAL, POSITIVE

HEADER = "text\tpolarity\tfrustration\tirony\tkind\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def in_domain(root: Path, name: str, *rows: str) -> Path:
    return write(root / corpus.IN_DOMAIN_DIR / name, HEADER + "".join(r + "\n" for r in rows))


# --------------------------------------------------------------------------- in-domain rows


def test_rows_become_examples_with_source_and_kind(tmp_path: Path) -> None:
    path = in_domain(
        tmp_path,
        "a.tsv",
        "lovely, so helpful as ever\tnegative\t1\t1\tsarcasm",
        "how do I order a new card?\tneutral\t0\t0\troutine",
        "",  # blank lines are skipped
        "cheers, sorted\tpositive\t0\t0\tthanks",
    )
    examples = corpus.read_in_domain_file(path)
    assert [(e.polarity, e.frustration, e.irony, e.kind) for e in examples] == [
        (NEGATIVE, 1, 1, "sarcasm"),
        (NEUTRAL, 0, 0, "routine"),
        (POSITIVE, 0, 0, "thanks"),
    ]
    assert {e.source for e in examples} == {"in_domain"}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("too few\tnegative\t1\tsarcasm", "expected 5 tab-separated columns"),
        ("too\tmany\tnegative\t1\t1\tsarcasm", "expected 5 tab-separated columns"),
        ("hi\tangry\t1\t0\tcomplaint", "unknown polarity 'angry'"),
        ("hi\tnegative\tyes\t0\tcomplaint", "frustration must be 0 or 1"),
        ("hi\tnegative\t1\t2\tcomplaint", "irony must be 0 or 1"),
        ("hi\tnegative\t1\t0\trant", "unknown kind 'rant'"),
        ("\tnegative\t1\t0\tcomplaint", "empty text"),
        # labels the kind does not allow
        ("how do I sign in?\tnegative\t1\t0\thard_negative_request", "do not fit kind"),
        ("great, on hold again\tnegative\t1\t0\tsarcasm", "do not fit kind"),
        ("thanks!\tneutral\t0\t0\tthanks", "do not fit kind"),
    ],
)
def test_bad_rows_are_refused_naming_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    path = in_domain(tmp_path, "bad.tsv", "fine\tneutral\t0\t0\troutine", row)
    with pytest.raises(CorpusError, match=message) as error:
        corpus.read_in_domain_file(path)
    assert f"{path}:3" in str(error.value)


def test_a_wrong_header_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "x.tsv", "text\tpolarity\tfrustration\tirony\nhi\tneutral\t0\t0\n")
    with pytest.raises(CorpusError, match=r"x\.tsv:1: the header"):
        corpus.read_in_domain_file(path)


def test_a_message_written_twice_is_refused(tmp_path: Path) -> None:
    in_domain(tmp_path, "a.tsv", "Where is my card?\tneutral\t0\t0\troutine")
    in_domain(
        tmp_path, "b.tsv", "x\tneutral\t0\t0\troutine", "where  is my CARD?\tneutral\t0\t0\troutine"
    )
    with pytest.raises(CorpusError, match=r"b\.tsv:3: duplicate of .*a\.tsv:2"):
        corpus.read_in_domain(tmp_path / corpus.IN_DOMAIN_DIR)


def test_every_kind_rule_allows_at_least_one_label_set() -> None:
    for kind, allowed in corpus.KIND_LABELS.items():
        assert allowed.polarity and allowed.frustration and allowed.irony, kind
        assert allowed.polarity <= {"negative", "neutral", "positive"}, kind
    assert corpus.KIND_LABELS["sarcasm"].irony == {1}
    assert all(
        corpus.KIND_LABELS[k].frustration == {0}
        for k in ("routine", "thanks", "hard_negative_request", "hard_negative_fact")
    )


# --------------------------------------------------------------------------- split


def test_split_is_a_pure_function_of_the_normalised_text() -> None:
    texts = [f"message number {i}" for i in range(2000)]
    first = [corpus.split_of(t) for t in texts]
    assert first == [corpus.split_of(t) for t in texts]
    assert [corpus.split_of(f"  MESSAGE   number {i} ") for i in range(2000)] == first
    share = first.count("dev") / len(first)
    assert 0.17 < share < 0.23  # DEV_FRACTION is 0.2


def test_adding_rows_moves_no_existing_row(tmp_path: Path) -> None:
    rows = [f"where is transfer {i}?\tneutral\t0\t0\troutine" for i in range(60)]
    in_domain(tmp_path, "routine.tsv", *rows)
    write(tmp_path / corpus.PUBLIC_SOURCES_YML, "seed: 1\nsources: {}\n")
    before = {
        s: {e.text for e in corpus.corpus_examples(s, tmp_path, tmp_path)} for s in ("train", "dev")
    }
    assert before["train"] and before["dev"] and not before["train"] & before["dev"]
    more = [f"thanks for transfer {i}\tpositive\t0\t0\tthanks" for i in range(60)]
    in_domain(tmp_path, "routine.tsv", *more[:30], *rows, *more[30:])
    after = {
        s: {e.text for e in corpus.corpus_examples(s, tmp_path, tmp_path)} for s in ("train", "dev")
    }
    for split in ("train", "dev"):
        assert before[split] <= after[split]
    assert not after["train"] & after["dev"]
    assert len(after["train"]) + len(after["dev"]) == 120


def test_an_unknown_split_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="split must be one of"):
        corpus.corpus_examples("test", tmp_path, tmp_path)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- public sources

CONFIG = """
seed: 7
sources:
  complaints:
    files: c/full.tsv
    split_column: split
    rules:
      - where: {complaint: "1", severity: [accusation, blame]}
        polarity: negative
        frustration: 1
        kind: complaint_blame
      - where: {complaint: "1"}
        polarity: negative
        frustration: null
        kind: complaint_no_reproach
      - where: {complaint: "0", sentiment: positive}
        polarity: positive
        frustration: 0
        kind: not_complaint
    sample: {train: -1, dev: -1}
  sarcasm:
    files: {train: s/train.tsv, dev: s/test.tsv}
    columns: {dev: [text, label]}
    rules:
      - where: {label: sarcastic}
        irony: 1
        kind: sarcastic
    sample: {train: 2, dev: -1}
  reddit:
    files: {train: g/train.tsv, dev: g/dev.tsv}
    columns: [text, emotions, id]
    id_columns: {emotions: g/labels.txt}
    rules:
      - where: {emotions: [annoyance]}
        where_not: {emotions: [joy]}
        text_matches: \\b(bank|fees?)\\b
        polarity: negative
        frustration: 1
        kind: annoyed_at_service
    sample: {train: -1, dev: 0}
"""


@pytest.fixture()
def public(tmp_path: Path) -> tuple[Path, Path]:
    """``(root, data_dir)``: one in-domain row and three tiny public sources."""
    root, data_dir = tmp_path / "root", tmp_path / "data"
    in_domain(root, "routine.tsv", "how do I order a new card?\tneutral\t0\t0\troutine")
    write(root / corpus.PUBLIC_SOURCES_YML, CONFIG)
    write(
        data_dir / "c/full.tsv",
        "id\tsplit\ttext\tcomplaint\tseverity\tsentiment\n"
        "1\ttrain\tyou lost my parcel, liars\t1\taccusation\tnegative\n"
        "2\ttrain\tparcel not here yet\t1\tno_explicit_reproach\tneutral\n"
        "3\ttrain\tlove the new store\t0\tnone\tpositive\n"
        "4\ttrain\twhat time do you open\t0\tnone\tneutral\n"  # no rule: left out
        "5\tdev\tshameful service, you blame me\t1\tblame\tnegative\n",
    )
    write(
        data_dir / "s/train.tsv",
        "text\tlabel\tcategories\n"
        + "".join(f"sarcastic tweet {i}\tsarcastic\tsarcasm\n" for i in range(5))
        + "plain tweet\tnot_sarcastic\t\n",
    )
    write(data_dir / "s/test.tsv", "oh great, monday\tsarcastic\nnice weather\tnot_sarcastic\n")
    write(data_dir / "g/labels.txt", "annoyance\njoy\nneutral\n")
    write(
        data_dir / "g/train.tsv",
        "my bank   charged fees again\t0\ta\n"
        "my bank is great but slow\t0,1\tb\n"  # a positive emotion too: left out
        "this game is so annoying\t0\tc\n"  # annoyed, but not at a company: left out
        "what a bank\t2\td\n",
    )
    write(data_dir / "g/dev.tsv", "bank fees again\t0\te\n")
    return root, data_dir


def by_source(examples: list[corpus.SentimentExample], source: str) -> list[tuple]:
    return [
        (e.text, e.polarity, e.frustration, e.irony, e.kind) for e in examples if e.source == source
    ]


def test_public_rows_are_mapped_as_configured(public: tuple[Path, Path]) -> None:
    root, data_dir = public
    train = corpus.corpus_examples("train", data_dir, root)
    assert by_source(train, "complaints") == [
        ("you lost my parcel, liars", NEGATIVE, 1, None, "complaint_blame"),
        ("parcel not here yet", NEGATIVE, None, None, "complaint_no_reproach"),
        ("love the new store", POSITIVE, 0, None, "not_complaint"),
    ]
    assert by_source(train, "reddit") == [
        ("my bank charged fees again", NEGATIVE, 1, None, "annoyed_at_service"),
    ]
    sarcastic = by_source(train, "sarcasm")
    assert len(sarcastic) == 2  # sampled from five
    assert {row[1:] for row in sarcastic} == {(None, None, 1, "sarcastic")}
    dev = corpus.corpus_examples("dev", data_dir, root)
    assert by_source(dev, "complaints") == [
        ("shameful service, you blame me", NEGATIVE, 1, None, "complaint_blame"),
    ]
    assert by_source(dev, "sarcasm") == [("oh great, monday", None, None, 1, "sarcastic")]
    assert by_source(dev, "reddit") == []  # sample 0
    assert [e.source for e in train + dev if e.source == "in_domain"] == ["in_domain"]


def test_the_public_sample_is_seeded(public: tuple[Path, Path]) -> None:
    root, data_dir = public
    draws = {
        tuple(
            e.text for e in corpus.corpus_examples("train", data_dir, root) if e.source == "sarcasm"
        )
        for _ in range(3)
    }
    assert len(draws) == 1
    config = (root / corpus.PUBLIC_SOURCES_YML).read_text()
    write(root / corpus.PUBLIC_SOURCES_YML, config.replace("seed: 7", "seed: 8"))
    other = tuple(
        e.text for e in corpus.corpus_examples("train", data_dir, root) if e.source == "sarcasm"
    )
    assert len(other) == 2  # same size; which rows depends on the seed (5 choose 2 draws)


def test_corpus_counts_per_split_source_and_kind(public: tuple[Path, Path]) -> None:
    root, data_dir = public
    counts = corpus.corpus_counts(data_dir, root)
    assert counts["train"]["complaints"] == {
        "complaint_blame": 1, "complaint_no_reproach": 1, "not_complaint": 1,
    }  # fmt: skip
    assert counts["dev"]["sarcasm"] == {"sarcastic": 1}
    in_domain_total = sum(sum(counts[s].get("in_domain", {}).values()) for s in ("train", "dev"))
    assert in_domain_total == 1


def test_a_public_row_with_the_wrong_column_count_names_file_and_line(
    public: tuple[Path, Path],
) -> None:
    root, data_dir = public
    write(data_dir / "s/test.tsv", "fine\tsarcastic\nbroken row\n")
    with pytest.raises(CorpusError, match=r"s/test\.tsv:2: expected 2 columns"):
        corpus.corpus_examples("dev", data_dir, root)


def test_a_misspelt_column_is_refused_rather_than_matching_nothing(
    public: tuple[Path, Path],
) -> None:
    root, data_dir = public
    write(
        root / corpus.PUBLIC_SOURCES_YML,
        CONFIG.replace("severity: [accusation", "sevrity: [accusation"),
    )
    with pytest.raises(
        CorpusError, match=r"c/full\.tsv:2: no column\(s\) \['sevrity'\] for complaints"
    ):
        corpus.corpus_examples("train", data_dir, root)


def test_a_source_with_a_train_file_only_has_no_dev_rows(public: tuple[Path, Path]) -> None:
    root, data_dir = public
    config = CONFIG.replace(
        "files: {train: s/train.tsv, dev: s/test.tsv}", "files: {train: s/train.tsv}"
    )
    write(
        root / corpus.PUBLIC_SOURCES_YML,
        config.replace("sample: {train: 2, dev: -1}", "sample: {train: 2}"),
    )
    assert len(by_source(corpus.corpus_examples("train", data_dir, root), "sarcasm")) == 2
    assert by_source(corpus.corpus_examples("dev", data_dir, root), "sarcasm") == []


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("kind: sarcastic", "kind: sarcastic\n        mood: dark"), "unknown key"),
        (("polarity: positive", "polarity: happy"), "unknown polarity 'happy'"),
        (("frustration: 0", "frustration: 2"), "frustration must be 0, 1 or null"),
        (("sample: {train: 2, dev: -1}", "sample: {train: 2}"), "a row count"),
        (("sample: {train: 2, dev: -1}", "sample: {train: 2, dev: all}"), "a row count"),
        (("files: {train: s/train.tsv, dev: s/test.tsv}", "files: {test: s/t.tsv}"), "files"),
        (("    split_column: split\n", ""), "needs a split_column"),
        (("        kind: annoyed_at_service\n", ""), "names the kind"),
    ],
)
def test_bad_configuration_is_refused_naming_the_file(
    public: tuple[Path, Path], edit: tuple[str, str], message: str
) -> None:
    root, _ = public
    path = root / corpus.PUBLIC_SOURCES_YML
    assert edit[0] in CONFIG
    write(path, CONFIG.replace(*edit, 1))
    with pytest.raises(CorpusError, match=message) as error:
        corpus.load_public_sources(path)
    assert str(path) in str(error.value)


# --------------------------------------------------------------------------- the real corpus


def test_the_real_in_domain_corpus() -> None:
    examples = corpus.read_in_domain(repo_root() / corpus.IN_DOMAIN_DIR)
    assert len(examples) >= 1000
    kinds = Counter(e.kind for e in examples)
    dev = Counter(e.kind for e in examples if corpus.split_of(e.text) == "dev")
    assert set(kinds) == set(corpus.KIND_LABELS)
    for kind, total in kinds.items():
        assert 0 < dev[kind] < total, kind  # every kind on both sides
        # A fifth in expectation; each row is placed by its own hash, so a kind of 80 rows
        # spreads by about 4.5 points either way.
        assert 0.1 <= dev[kind] / total <= 0.35, (kind, dev[kind], total)


def test_the_real_public_sources_load_and_copy_no_text() -> None:
    shared = get_settings().paths.data_dir
    if not (shared / "customer_service").is_dir():
        pytest.skip(f"needs the public datasets in {shared}")
    counts = corpus.corpus_counts(shared)
    for split in ("train", "dev"):
        assert {"in_domain", "xci", "isarcasm", "cfpb", "bitext", "goemotions_service"} <= set(
            counts[split]
        ), split
    # Our messages are our own: none repeats a public row (short replies such as "ok" aside).
    ours = {
        corpus.normalise(e.text) for e in corpus.read_in_domain(repo_root() / corpus.IN_DOMAIN_DIR)
    }
    ours = {t for t in ours if len(t) > 25}
    public_texts: set[str] = set()
    for path in [
        *(shared / "customer_service").rglob("*.tsv"),
        *(shared / "goemotions").glob("*.tsv"),
    ]:
        with path.open(encoding="utf-8", newline="") as handle:
            for fields in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                public_texts.update(corpus.normalise(f) for f in fields if len(f) > 25)
    assert not ours & public_texts


def test_the_command_prints_help_instead_of_reading_a_folder_named_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        corpus.main(["--help"])

    assert exited.value.code == 0
    assert "data_dir" in capsys.readouterr().out
