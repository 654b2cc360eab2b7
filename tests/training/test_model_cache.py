"""The model cache: keys follow content, entries appear whole, cached files land in models/."""

from __future__ import annotations

from pathlib import Path

from training.model_cache import content_key, files_under, place, store


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_key_changes_with_content_and_extras_only(tmp_path: Path) -> None:
    a = write(tmp_path / "data/a.yml", "one")
    b = write(tmp_path / "config.yml", "two")
    key = content_key([a, b], tmp_path, extras=["rasa=3.6.21"])
    assert key == content_key(
        files_under(tmp_path, ["config.yml", "data/*.yml"]), tmp_path, ["rasa=3.6.21"]
    )
    assert key != content_key([a, b], tmp_path, extras=["rasa=3.6.20"])
    write(a, "one!")
    assert key != content_key([a, b], tmp_path, extras=["rasa=3.6.21"])


def test_key_does_not_depend_on_where_the_checkout_lives(tmp_path: Path) -> None:
    first = write(tmp_path / "one/config.yml", "same")
    second = write(tmp_path / "two/config.yml", "same")
    assert content_key([first], tmp_path / "one") == content_key([second], tmp_path / "two")


def test_store_then_place_file_and_folder(tmp_path: Path) -> None:
    built = write(tmp_path / "build/model.tar.gz", "weights")
    cached = store(built, tmp_path / "cache/model-abc.tar.gz")
    assert cached.read_text() == "weights" and not built.exists()
    place(cached, tmp_path / "models/model.tar.gz")
    assert (tmp_path / "models/model.tar.gz").read_text() == "weights"

    folder = tmp_path / "build/encoder"
    write(folder / "model.onnx", "graph")
    cached_dir = store(folder, tmp_path / "cache/encoder-abc")
    write(tmp_path / "models/encoder/stale.txt", "old")
    place(cached_dir, tmp_path / "models/encoder")
    assert sorted(p.name for p in (tmp_path / "models/encoder").iterdir()) == ["model.onnx"]


def test_store_leaves_no_partial_entry_behind(tmp_path: Path) -> None:
    write(tmp_path / "cache/model.tar.gz.partial", "crashed earlier")
    store(write(tmp_path / "model.tar.gz", "fresh"), tmp_path / "cache/model.tar.gz")
    assert (tmp_path / "cache/model.tar.gz").read_text() == "fresh"
    assert not (tmp_path / "cache/model.tar.gz.partial").exists()


def test_the_assistant_is_keyed_by_its_own_training_data_only() -> None:
    from training.build_models import PROJECT_ROOT, RASA_INPUTS

    inputs = {str(p.relative_to(PROJECT_ROOT)) for p in files_under(PROJECT_ROOT, RASA_INPUTS)}

    assert {"config.yml", "data/nlu/security.yml", "data/rules/answers.yml"} <= inputs
    # The service's files: a support lead editing them must not retrain the assistant.
    assert not inputs & {"data/escalation.yml", "data/canned_responses.yml"}
    assert not any(name.startswith(("data/sentiment/", "data/scenarios/")) for name in inputs)
