from __future__ import annotations

import difflib
import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.ml import sentiment
from app.ml.cache import Evaluation
from app.ml.registry import ModelRegistry

UNSEEN_PATH = Path(__file__).resolve().parent / "data" / "unseen_sentences.tsv"


def _read_unseen() -> list[tuple[str, str]]:
    """(text, label) pairs: ordinary sentences written for the tests, kept out of the corpus."""
    lines = UNSEEN_PATH.read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    return [(text, label) for label, text in rows]


UNSEEN_SENTENCES = _read_unseen()

# A test sentence is a near-copy of a corpus text when, after normalising both (case, punctuation, spacing), it is
# part of that text, shares 60% of its words with it (Jaccard), or 75% of its characters line up (difflib's ratio).
MIN_WORD_OVERLAP = 0.6
MIN_CHARACTER_RATIO = 0.75


@functools.cache
def _normalise(text: str) -> tuple[str, frozenset[str]]:
    """Lower case, words only, single spaces; and the set of those words."""
    normal = " ".join(re.sub(r"[^\w\s]|_", " ", text.casefold()).split())
    return normal, frozenset(normal.split())


def near_copies(sentence: str, corpus: list[str]) -> list[str]:
    """The corpus texts `sentence` is a near-copy of."""
    normal, words = _normalise(sentence)
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(normal)  # the matcher caches what it learns about its second sequence
    found = []
    for text in corpus:
        other, other_words = _normalise(text)
        shared = len(words & other_words)
        if normal in other or shared / len(words | other_words) >= MIN_WORD_OVERLAP:
            found.append(text)
            continue
        if 3 * shared < min(len(words), len(other_words)):
            continue  # too few words in common for 75% of the characters to line up
        matcher.set_seq1(other)
        if matcher.real_quick_ratio() >= MIN_CHARACTER_RATIO and matcher.ratio() >= MIN_CHARACTER_RATIO:
            found.append(text)
    return found


def test_held_out_accuracy_is_at_least_80_percent(registry: ModelRegistry) -> None:
    evaluation = registry.get("sentiment").trained.evaluation

    print(f"sentiment held-out accuracy {evaluation.held_out_accuracy:.4f} on {evaluation.test_size} texts")
    assert evaluation.held_out_accuracy >= 0.80


def test_split_is_80_20_of_the_distinct_corpus_texts(registry: ModelRegistry) -> None:
    texts, _ = sentiment.parse_corpus(sentiment.CORPUS_PATH.read_text(encoding="utf-8-sig"))
    evaluation = registry.get("sentiment").trained.evaluation

    assert evaluation.train_size + evaluation.test_size == len(texts)
    assert evaluation.test_size == pytest.approx(0.2 * len(texts), abs=1)


def test_unseen_sentences_are_not_near_copies_of_corpus_texts() -> None:
    corpus, _ = sentiment.parse_corpus(sentiment.CORPUS_PATH.read_text(encoding="utf-8-sig"))

    assert len(UNSEEN_SENTENCES) >= 100
    assert {label for _, label in UNSEEN_SENTENCES} == set(sentiment.LABELS)
    copies = {sentence: near_copies(sentence, corpus) for sentence, _ in UNSEEN_SENTENCES}
    assert {sentence: texts for sentence, texts in copies.items() if texts} == {}


@pytest.mark.parametrize(
    ("sentence", "corpus_text"),
    [
        ("Our guide was knowledgeable and fun.", "Our guide was knowledgeable and funny."),  # part of it
        ("Fantastic value for money.", "Cracking value for money."),  # one word swapped
        ("Five stars, no complaints at all.", "Five stars, no complaints whatsoever."),  # same characters mostly
        ("GREAT  value!!", "great value"),  # case, punctuation and spacing
    ],
)
def test_the_guard_catches_near_copies_not_only_exact_substrings(sentence: str, corpus_text: str) -> None:
    assert near_copies(sentence, ["Never had a problem with it.", corpus_text]) == [corpus_text]
    assert sentence.casefold() not in corpus_text.casefold()  # the old, exact-substring guard missed it


def test_unseen_sentences_are_classified_at_least_90_percent_correctly(registry: ModelRegistry) -> None:
    model = registry.get("sentiment")

    predictions = model.predict([text for text, _ in UNSEEN_SENTENCES])

    wrong = [(text, p.label) for (text, expected), p in zip(UNSEEN_SENTENCES, predictions) if p.label != expected]
    assert len(wrong) <= 0.1 * len(UNSEEN_SENTENCES), wrong


def test_training_twice_gives_identical_predictions_and_artifact_hash(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    served = registry.get("sentiment")

    retrained = sentiment.load(tmp_path)

    assert retrained.trained.from_cache is False
    assert retrained.trained.artifact_sha256 == served.trained.artifact_sha256
    assert retrained.trained.evaluation == served.trained.evaluation
    texts = [text for text, _ in UNSEEN_SENTENCES]
    assert retrained.predict(texts) == served.predict(texts)


def test_training_in_another_process_gives_the_same_artifact_hash(registry: ModelRegistry, tmp_path: Path) -> None:
    # A different hash seed changes set and dict-of-str iteration order, which must not leak into the artifact.
    script = "import sys; from app.ml import sentiment; print(sentiment.load(sys.argv[1]).trained.artifact_sha256)"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
        check=True,
    )

    assert result.stdout.strip() == registry.get("sentiment").trained.artifact_sha256


def _write_corpus(path: Path, extra: str = "") -> Path:
    lines = [f"positive\tgood thing number {i}, I love it" for i in range(12)]
    lines += [f"negative\tbad thing number {i}, I hate it" for i in range(12)]
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def test_second_load_comes_from_the_cache_without_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = _write_corpus(tmp_path / "corpus.tsv")
    first = sentiment.load(tmp_path / "cache", corpus)

    def must_not_train(texts: list[str], labels: list[str]) -> tuple[object, Evaluation]:
        raise AssertionError("retrained although the cache was valid")

    monkeypatch.setattr(sentiment, "train", must_not_train)
    second = sentiment.load(tmp_path / "cache", corpus)

    assert first.trained.from_cache is False
    assert second.trained.from_cache is True
    assert second.trained.artifact_sha256 == first.trained.artifact_sha256


def test_served_corpus_loads_from_the_session_cache_without_training(
    model_cache_dir: Path, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_train(texts: list[str], labels: list[str]) -> tuple[object, Evaluation]:
        raise AssertionError("retrained although the session cache holds the served corpus's model")

    monkeypatch.setattr(sentiment, "train", must_not_train)
    model = sentiment.load(model_cache_dir)

    assert model.trained.from_cache is True
    assert model.trained.artifact_sha256 == registry.get("sentiment").trained.artifact_sha256


def test_changed_corpus_is_retrained(tmp_path: Path) -> None:
    corpus = _write_corpus(tmp_path / "corpus.tsv")
    first = sentiment.load(tmp_path / "cache", corpus)
    _write_corpus(corpus, extra="positive\tan extra example that changes the corpus hash\n")

    second = sentiment.load(tmp_path / "cache", corpus)

    assert second.trained.from_cache is False
    assert second.trained.evaluation.train_size + second.trained.evaluation.test_size == 25
    assert first.trained.evaluation.train_size + first.trained.evaluation.test_size == 24


def test_corrupt_cache_file_is_retrained_and_replaced(tmp_path: Path) -> None:
    corpus = _write_corpus(tmp_path / "corpus.tsv")
    first = sentiment.load(tmp_path / "cache", corpus)
    [cache_file] = (tmp_path / "cache").glob("sentiment-*.pkl")
    cache_file.write_bytes(b"not a pickle")

    second = sentiment.load(tmp_path / "cache", corpus)
    third = sentiment.load(tmp_path / "cache", corpus)

    assert second.trained.from_cache is False
    assert third.trained.from_cache is True
    assert third.trained.artifact_sha256 == first.trained.artifact_sha256
    # The artifact and its metadata, no temp files left.
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [cache_file.with_suffix(".json").name, cache_file.name]


def test_parse_corpus_drops_repeated_texts_and_blank_lines() -> None:
    filler = "".join(f"positive\tnice {i}\nnegative\tbad {i}\n" for i in range(5))
    content = "positive\tGreat!\n\nnegative\tAwful.\npositive\t  great!  \n" + filler

    texts, labels = sentiment.parse_corpus(content)

    assert texts[:3] == ["Great!", "Awful.", "nice 0"]
    assert labels[:3] == ["positive", "negative", "positive"]
    assert len(texts) == 12


def test_parse_corpus_rejects_a_malformed_line_with_its_number() -> None:
    content = "positive\tfine\nneutral\tmeh\n"

    with pytest.raises(sentiment.CorpusError, match=":2:"):
        sentiment.parse_corpus(content)
