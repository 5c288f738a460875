"""Every command that writes checks its destination first: each path mistake is one line naming
the path, exit status 2, and nothing written (issue #11 §4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from arlm_tui.cli import main

#: Commands writing a model directory: the argv before the path.
MODEL_COMMANDS = {
    "train ngram": ["train", "ngram", "--corpus", "toy", "--out"],
    **{
        f"train {kind}": ["train", kind, "--corpus", "toy", "--steps", "1", "--out"]
        for kind in ("rnn", "gru", "lstm", "ffn", "transformer")
    },
    "train ngram --name": None,  # --name writes under ARLM_HOME: see its own test below
}
del MODEL_COMMANDS["train ngram --name"]

#: Commands writing one file.
FILE_COMMANDS = {
    "export-arpa": ["export-arpa", "--model", "oracle-kn3", "--out"],
    "cards export --anki": ["cards", "export", "--anki"],
    "cards export --html": ["cards", "export", "--html"],
}


def _setup(root: Path) -> None:
    (root / "afile").write_text("not a folder\n")
    (root / "checkout").mkdir()
    (root / "checkout" / "README.md").write_text("a source checkout\n")
    (root / "checkout" / "setup.py").write_text("")
    (root / "empty").mkdir()


#: (mistake, path relative to the work folder or absolute, words the message must hold)
MODEL_MISTAKES = [
    ("an existing file where a folder is needed", "afile", ["afile", "is a file"]),
    ("a folder under /proc that does not exist", "/proc/nope/x", ["/proc/nope", "does not exist"]),
    ("a missing parent folder", "missing/x", ["missing", "does not exist"]),
    ("a parent that is a file", "afile/x", ["afile", "is a file"]),
    ("a non-empty folder that is not a model", "checkout", ["checkout", "not an arlm model"]),
    ("a folder nobody may write in", "/proc/arlm-model", ["/proc", "cannot write"]),
]
FILE_MISTAKES = [
    ("a folder where a file is needed", "empty", ["empty", "is a folder"]),
    ("a non-empty folder where a file is needed", "checkout", ["checkout", "is a folder"]),
    ("a folder under /proc that does not exist", "/proc/nope/x", ["/proc/nope", "does not exist"]),
    ("a missing parent folder", "missing/out.txt", ["missing", "does not exist"]),
    ("a parent that is a file", "afile/out.txt", ["afile", "is a file"]),
    ("a folder nobody may write in", "/proc/arlm-out.txt", ["/proc", "cannot write"]),
]


def _tree(root: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


CASES = [
    pytest.param(argv, mistake, target, needles, id=f"{name}: {mistake}")
    for name, argv in MODEL_COMMANDS.items()
    for mistake, target, needles in MODEL_MISTAKES
] + [
    pytest.param(argv, mistake, target, needles, id=f"{name}: {mistake}")
    for name, argv in FILE_COMMANDS.items()
    for mistake, target, needles in FILE_MISTAKES
]


@pytest.mark.parametrize(("argv", "mistake", "target", "needles"), CASES)
def test_every_path_mistake_is_one_line_exit_2_and_nothing_written(
    capsys, tmp_path, monkeypatch, argv, mistake, target, needles
):
    work = tmp_path / "work"
    work.mkdir()
    _setup(work)
    monkeypatch.chdir(work)
    before = _tree(work)
    code, out, err = _run(capsys, [*argv, target])
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (mistake, out, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert target in lines[0]  # the path as the user typed it
    assert _tree(work) == before  # nothing written, nothing created


@pytest.mark.parametrize("argv", [*MODEL_COMMANDS.values()], ids=list(MODEL_COMMANDS))
def test_a_missing_input_is_reported_before_a_bad_out(capsys, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    argv = [*argv, "afile"]
    argv[argv.index("--corpus") + 1] = "no-such-corpus.txt"
    code, _, err = _run(capsys, argv)
    assert code == 2 and "no-such-corpus.txt" in err and "afile" not in err


def test_a_model_folder_of_the_same_kind_is_written_again(capsys, tmp_path):
    out = tmp_path / "m"
    for _ in range(2):
        code, _, err = _run(capsys, ["train", "ngram", "--corpus", "toy", "--order", "2",
                                     "--out", str(out)])
        assert code == 0, err
    assert (out / "config.json").is_file()


def test_a_model_folder_of_another_kind_is_refused(capsys, tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    (out / "config.json").write_text('{"backend": "lstm"}')
    before = _tree(tmp_path)
    code, _, err = _run(capsys, ["train", "ngram", "--corpus", "toy", "--out", str(out)])
    assert code == 2 and "holds a lstm model, not a ngram one" in err
    assert _tree(tmp_path) == before


def test_name_is_checked_like_out(capsys, _arlm_home):
    models = Path(_arlm_home) / "models"
    models.mkdir(parents=True, exist_ok=True)
    (models / "taken").mkdir()
    (models / "taken" / "notes.txt").write_text("mine")
    code, _, err = _run(capsys, ["train", "ngram", "--corpus", "toy", "--name", "taken"])
    assert code == 2 and "--name taken" in err and "not an arlm model" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "--seed", "-1"],
        ["train", "ngram", "--corpus", "toy", "--seed", "-1", "--out", "m"],
        ["train", "lstm", "--corpus", "toy", "--seed", "x", "--out", "m"],
        ["games", "be-the-model", "--seed", "-3"],
    ],
)
def test_a_bad_seed_reads_as_a_person_would_say_it(capsys, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, argv)
    assert code == 2 and "seed must be a whole number ≥ 0" in err
    assert "e+18" not in err and "[0," not in err
    assert not (tmp_path / "m").exists()
