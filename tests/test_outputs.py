"""Files arlm writes survive a kill, a full disk and another user (issue #12 §4): every file goes
to a temporary name and is renamed into place, a full disk during training is one line and exit 2
with no half-written model, a training checkpoint is one consistent unit, and a model directory's
files share one permission policy."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from arlm_tui import outputs
from arlm_tui.errors import ArlmError

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- writing()
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "config.json"
    target.write_text("old\n")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), outputs.writing(target) as tmp:
        tmp.write_text("half of the new")
        raise Boom
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_a_full_disk_is_one_line_naming_the_file(tmp_path, monkeypatch):
    target = tmp_path / "model.safetensors"

    class SafetensorError(Exception):  # what safetensors raises, by name
        pass

    with pytest.raises(ArlmError, match=r"model.safetensors \(the disk is full\)"), \
            outputs.writing(target):
        raise SafetensorError('Error while serializing: IoError(Os { code: 28, kind: '
                              'StorageFull, message: "No space left on device" })')
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ArlmError, match="the disk is full"), outputs.writing(target):
        raise OSError(28, "No space left on device")


def test_a_bug_inside_the_block_is_not_dressed_up_as_a_disk_problem(tmp_path):
    with pytest.raises(KeyError), outputs.writing(tmp_path / "x"):
        raise KeyError("a bug")


# --------------------------------------------------------------------------- permissions
@pytest.fixture(params=[0o022, 0o002])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _modes(folder: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir() if p.is_file()}


def test_every_file_of_a_model_directory_gets_one_permission_policy(tmp_path, umask):
    from arlm_tui.cli import main

    assert main(["train", "ngram", "--corpus", "toy", "--order", "2", "--out",
                 str(tmp_path / "ng")]) == 0
    modes = _modes(tmp_path / "ng")
    assert set(modes) >= {"config.json", "tokenizer.json", "ngrams.safetensors", "card.md"}
    assert set(modes.values()) == {0o666 & ~umask}, modes


def test_a_neural_model_directory_is_readable_by_another_user(tmp_path, umask):
    pytest.importorskip("torch")
    from arlm_tui.text.tokenizers import WordTokenizer
    from arlm_tui.train.neural import train_neural

    texts = ["the cat sat", "the dog ran", "a cat ran"]
    tokenizer = WordTokenizer.train(texts)
    train_neural("ffn", texts, texts[:1], tokenizer, tmp_path / "nn", steps=2, d_model=4,
                 context=2, batch_size=4)
    modes = _modes(tmp_path / "nn")
    assert "model.safetensors" in modes and "config.json" in modes
    assert set(modes.values()) == {0o666 & ~umask}, modes


# --------------------------------------------------------------------------- full disk
def _arlm_with_small_disk(argv: list[str], cwd: Path, limit: int) -> subprocess.CompletedProcess:
    """``arlm`` in a child whose files may not grow past ``limit`` bytes (RLIMIT_FSIZE: the
    write fails as on a full disk, for any user, without mounting anything)."""
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "from arlm_tui.cli import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1",
               ARLM_HOME=str(cwd / "home"))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "ngram", "--corpus", "pyref", "--order", "3", "--out", "m"],
        ["train", "ffn", "--corpus", "toy", "--steps", "3", "--d-model", "64", "--out", "m"],
        ["export-arpa", "--model", "pyref-word-kn3", "--out", "m.arpa"],
    ],
    ids=["train ngram", "train ffn", "export-arpa"],
)
def test_a_full_disk_is_one_line_exit_2_and_no_half_written_file(tmp_path, argv):
    done = _arlm_with_small_disk(argv, tmp_path, limit=16 * 1024)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "cannot write" in lines[0]
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "home" not in p.parts]
    assert not [p for p in written if p.name.endswith(".tmp")]  # no temporary left behind
    for file in written:  # whatever is there is whole: it loads
        if file.suffix == ".safetensors":
            from safetensors.numpy import load_file

            load_file(str(file))


# --------------------------------------------------------------------------- checkpoints
_KILL_SCRIPT = r"""
import os, sys
from pathlib import Path
import torch
import safetensors.torch as st
from arlm_tui.train import neural as training

out, point = Path(sys.argv[1]), sys.argv[2]
torch.manual_seed(0)
net = torch.nn.Linear(3, 2)
opt = torch.optim.AdamW(net.parameters(), lr=0.1)

def one_step():
    opt.zero_grad()
    net(torch.ones(1, 3)).sum().backward()
    opt.step()

one_step()
training._save_checkpoint(out, net, opt, {"run": {"backend": "ffn"}, "step": 1})
one_step()
with torch.no_grad():
    net.weight.fill_(2.0)

real_save, real_replace = st.save_file, os.replace
def save_file(tensors, path, metadata=None):
    if point == "before the tensors are written":
        os._exit(0)
    real_save(tensors, path, metadata=metadata)
    if point == "half of the file written":
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
        os._exit(0)
    if point == "file written, not yet renamed":
        os._exit(0)
def replace(src, dst):
    if point == "at the rename":
        os._exit(0)
    real_replace(src, dst)
    if point == "just after the rename":
        os._exit(0)
st.save_file, os.replace = save_file, replace
training._save_checkpoint(out, net, opt, {"run": {"backend": "ffn"}, "step": 2})
os._exit(0)
"""

KILL_POINTS = [
    "before the tensors are written",
    "half of the file written",
    "file written, not yet renamed",
    "at the rename",
    "just after the rename",
]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_kill_during_a_checkpoint_save_leaves_one_whole_checkpoint(tmp_path, point):
    pytest.importorskip("torch")
    from safetensors.torch import load_file

    from arlm_tui.train.neural import CHECKPOINT_WEIGHTS, _checkpoint_state

    done = subprocess.run([sys.executable, "-c", _KILL_SCRIPT, str(tmp_path), point],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr[-2000:]
    file = tmp_path / CHECKPOINT_WEIGHTS
    state = _checkpoint_state(file)  # readable: never a half file
    tensors = load_file(str(file))
    new = bool((tensors["model.weight"] == 2.0).all())
    # the step counter, the optimizer's own step count and the weights all of one save
    assert state["step"] in (1, 2)
    assert int(tensors["optim.0.step"].item()) == state["step"]
    assert new == (state["step"] == 2)
    assert state["step"] == (2 if point == "just after the rename" else 1)
