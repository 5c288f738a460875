"""GPT-2 checkpoints (a Hugging Face folder) on arlm's own transformer and its compiled step.

GPT-2's architecture is arlm's ``TransformerLM``: pre-LayerNorm blocks, learned positions,
tanh GELU, the output projection tied to the token embedding. So a local folder holding

    config.json          {"model_type": "gpt2", "n_layer", "n_embd", "n_head", "n_positions", …}
    model.safetensors    the weights (float32, or float16/bfloat16 widened to float32)
    tokenizer.json       the tokenizer, read with the ``tokenizers`` library

loads as an arlm transformer without ``transformers``: ``load_model("hf:PATH")`` and a plain
path both come here when ``native_gpt2`` says the folder fits; anything else (another
architecture, an untied head, another activation) goes through ``transformers`` (``lm.hf``).

Memory: the float32 data section of ``model.safetensors`` is memory-mapped (``np.memmap``,
copy-on-write, never written), and every weight, the torch module's as well as the compiled
step's, is a view of it. GPT-2's ``Conv1D`` stores each matrix (in, out), the transpose of
``nn.Linear``'s: the module holds transposed views and the compiled step reads the (in, out)
layout directly (``kernels._affine_in_out``), so nothing is transposed or copied. Pages are
read from the file as they are first used and may be dropped by the kernel and re-read.

The start token is the tokenizer's (GPT-2 has none and starts from ``<|endoftext|>``, as it
was trained); like ``lm.hf``, a start token distinct from the end token and the padding rows of
an embedding larger than the tokenizer are never predicted. Texts longer than ``n_positions``
restart their window as arlm's transformer does (``config.window_start``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import numpy as np

from arlm_tui.errors import ModelLoadError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
#: Largest ``config.json`` / safetensors header read (bytes).
_MAX_JSON = 64 << 20
#: GELU forms equal to arlm's tanh GELU.
_TANH_GELU = ("gelu_new", "gelu_pytorch_tanh")
_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


def _json_object(file: Path) -> dict[str, Any] | None:
    """A small JSON object file, or None if it is missing, too large or not a JSON object."""
    try:
        if not file.is_file() or file.stat().st_size > _MAX_JSON:
            return None
        value = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def native_gpt2(directory: str | Path) -> bool:
    """Whether ``directory`` is a GPT-2 checkpoint arlm's transformer computes exactly:
    ``model_type`` gpt2, tanh GELU, tied head, 4·d-wide MLP, ``model.safetensors`` and
    ``tokenizer.json``. Reads ``config.json`` only (no torch)."""
    directory = Path(directory).expanduser()
    config = _json_object(directory / CONFIG_FILE)
    if config is None or config.get("model_type") != "gpt2":
        return False
    if not ((directory / WEIGHTS_FILE).is_file() and (directory / TOKENIZER_FILE).is_file()):
        return False
    d = config.get("n_embd", 768)
    return (
        config.get("activation_function", "gelu_new") in _TANH_GELU
        and config.get("tie_word_embeddings", True) is True
        and config.get("n_inner") in (None, 4 * d if isinstance(d, int) else None)
        and config.get("scale_attn_weights", True) is True
        and not config.get("scale_attn_by_inverse_layer_idx", False)
        and not config.get("add_cross_attention", False)
    )


# ---------------------------------------------------------------------------------- weights
def read_safetensors(file: Path) -> tuple[np.ndarray, dict[str, tuple[str, tuple, int, int]]]:
    """The data section of a safetensors file, memory-mapped as bytes, and its header:
    {name: (dtype, shape, begin, end)} with byte offsets into the data section. Everything is
    checked against the file's size before anything is mapped."""
    try:
        size = file.stat().st_size
        with open(file, "rb") as f:
            head = f.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else -1
            if not 2 <= n <= min(_MAX_JSON, size - 8):
                raise ModelLoadError("not a safetensors file (bad header length)", path=file)
            header = json.loads(f.read(n).decode("utf-8"))
    except OSError as exc:
        raise ModelLoadError(f"cannot read ({exc.strerror or exc})", path=file) from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelLoadError("not a safetensors file (the header is not JSON)", path=file) from None
    if not isinstance(header, dict):
        raise ModelLoadError("not a safetensors file (the header is not an object)", path=file)
    start = 8 + n
    length = size - start
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = entry["dtype"], tuple(entry["shape"]), entry["data_offsets"]
            count = int(np.prod(shape, dtype=np.int64))
            ok = all(isinstance(v, int) and v >= 0 for v in (begin, end, *shape))
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok or not 0 <= begin <= end <= length:
            raise ModelLoadError(f"tensor {name!r}: bad entry in the header", path=file)
        width = np.dtype(_DTYPES[dtype]).itemsize if dtype in _DTYPES else None
        if width is not None and end - begin != count * width:
            raise ModelLoadError(f"tensor {name!r}: size does not match its shape", path=file)
        tensors[name] = (dtype, shape, begin, end)
    data = np.memmap(file, dtype=np.uint8, mode="c", offset=start, shape=(length,)) if length \
        else np.zeros(0, np.uint8)  # fmt: skip
    return data, tensors


def _float32(data: np.ndarray, floats: np.ndarray | None, entry: tuple) -> np.ndarray:
    """One tensor as float32: a view of the mapped file when it is float32 and aligned, a
    widened copy otherwise."""
    dtype, shape, begin, end = entry
    if dtype == "F32" and floats is not None and begin % 4 == 0:
        return floats[begin // 4 : end // 4].reshape(shape)
    raw = np.frombuffer(data[begin:end], dtype=_DTYPES[dtype]).reshape(shape)
    if dtype == "BF16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return raw.astype(np.float32)


def gpt2_weights(file: Path, config) -> tuple[dict[str, np.ndarray], Any]:
    """arlm ``TransformerLM`` state-dict names → float32 arrays (views of the mapped file where
    possible; matrices (out, in), as transposed views of GPT-2's (in, out)), and the block
    matrices for the compiled step (``fastpath.MappedMatrices``)."""
    from arlm_tui.lm.neural.fastpath import MATRICES, MappedMatrices

    data, header = read_safetensors(file)
    floats = data[: len(data) // 4 * 4].view(np.float32) if len(data) else None
    names = {name.removeprefix("transformer."): name for name in header}
    d, L = config.d_model, config.layers

    def get(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in names:
            raise ModelLoadError(f"missing tensor {name!r}", path=file)
        entry = header[names[name]]
        if entry[0] not in _DTYPES:
            raise ModelLoadError(f"tensor {name!r} is {entry[0]}, not a float type", path=file)
        if entry[1] != shape:
            raise ModelLoadError(f"tensor {name!r} has shape {entry[1]}, config.json implies "
                                 f"{shape}", path=file)  # fmt: skip
        value = _float32(data, floats, entry)
        if not np.isfinite(value).all():
            raise ModelLoadError(f"tensor {name!r} contains inf or NaN", path=file)
        return value

    shapes = {"attn.c_attn": (d, 3 * d), "attn.c_proj": (d, d), "mlp.c_fc": (d, 4 * d),
              "mlp.c_proj": (4 * d, d)}  # fmt: skip
    state = {
        "wte.weight": get("wte.weight", (config.vocab_size, d)),
        "wpe.weight": get("wpe.weight", (config.context, d)),
        "ln_f.weight": get("ln_f.weight", (d,)),
        "ln_f.bias": get("ln_f.bias", (d,)),
    }
    matrices = []
    for i in range(L):
        for norm in ("ln_1", "ln_2"):
            for part in ("weight", "bias"):
                state[f"blocks.{i}.{norm}.{part}"] = get(f"h.{i}.{norm}.{part}", (d,))
        row = []
        for _, path in MATRICES:
            w = get(f"h.{i}.{path}.weight", shapes[path])  # (in, out)
            state[f"blocks.{i}.{path}.weight"] = w.T
            state[f"blocks.{i}.{path}.bias"] = get(f"h.{i}.{path}.bias", (shapes[path][1],))
            row.append(w)
        matrices.append(row)
    mapped = all(floats is not None and np.shares_memory(w, floats) for r in matrices for w in r)
    if mapped:  # offsets into the mapped file
        base = cast(np.ndarray, floats).__array_interface__["data"][0]  # mapped: not None
        offsets = np.array([[(w.__array_interface__["data"][0] - base) // 4 for w in r]
                            for r in matrices], dtype=np.int64)  # fmt: skip
        mats = floats
    else:  # float16/bfloat16 or unaligned: one float32 copy, still (in, out)
        flat = [w.ravel() for r in matrices for w in r]
        sizes = np.array([w.size for w in flat], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).reshape(L, len(MATRICES))
        mats = np.concatenate(flat)
    return state, MappedMatrices(np.asarray(mats), offsets)


# ---------------------------------------------------------------------------------- tokenizer
class TokenizersTokenizer:
    """A ``tokenizers.Tokenizer`` with the few methods of a ``transformers`` tokenizer that
    ``lm.hf.HFTokenizer`` uses (so one adapter serves both loaders)."""

    def __init__(self, tokenizer: Any):
        self._tok = tokenizer
        added = tokenizer.get_added_tokens_decoder()
        self.all_special_ids = sorted(i for i, t in added.items() if t.special)

    def __len__(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str | None]:
        return [self._tok.id_to_token(i) for i in ids]

    def get_vocab(self) -> dict[str, int]:
        return self._tok.get_vocab(with_added_tokens=True)

    def token_to_id(self, token: str) -> int | None:
        return self._tok.token_to_id(token)

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return self._tok.encode(text, add_special_tokens=add_special_tokens).ids

    def decode(self, ids: list[int], skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool = False) -> str:
        return self._tok.decode(ids, skip_special_tokens=skip_special_tokens)


def _special_tokens(directory: Path, tokenizer: TokenizersTokenizer,
                    config: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    """(bos, eos, unk) ids as ``transformers`` would find them: the tokenizer's files first
    (``tokenizer_config.json``, ``special_tokens_map.json``), then ``config.json``."""
    names: dict[str, Any] = {}
    for file in ("special_tokens_map.json", "tokenizer_config.json"):
        names.update({k: v for k, v in (_json_object(directory / file) or {}).items()
                      if k in ("bos_token", "eos_token", "unk_token") and v is not None})

    def token_id(kind: str) -> int | None:
        value = names.get(f"{kind}_token")
        if isinstance(value, dict):
            value = value.get("content")
        return tokenizer.token_to_id(value) if isinstance(value, str) else None

    def config_id(key: str) -> int | None:
        value = config.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    eos = token_id("eos")
    eos = config_id("eos_token_id") if eos is None else eos
    bos = token_id("bos")
    bos = (config_id("bos_token_id") if config_id("bos_token_id") is not None else eos) \
        if bos is None else bos  # fmt: skip
    unk = token_id("unk")
    return bos, eos, eos if unk is None else unk


# ---------------------------------------------------------------------------------- loading
def load_gpt2(path: str | Path, *, name: str | None = None):
    """The GPT-2 checkpoint in folder ``path`` as an arlm transformer
    (``NeuralLanguageModel``, backend ``transformer``); a broken folder raises
    ``ModelLoadError`` naming the file at fault."""
    import torch
    from tokenizers import Tokenizer

    from arlm_tui.lm.hf import HFTokenizer
    from arlm_tui.lm.neural.backend import NeuralLanguageModel, set_inference_threads
    from arlm_tui.lm.neural.config import TransformerConfig
    from arlm_tui.lm.neural.transformer import TransformerLM

    directory = Path(path).expanduser()
    raw = _json_object(directory / CONFIG_FILE)
    if raw is None:
        raise ModelLoadError("missing, unreadable or not a JSON object", path=directory / CONFIG_FILE)
    try:
        config = TransformerConfig(
            vocab_size=raw.get("vocab_size", 50257), context=raw.get("n_positions", 1024),
            layers=raw.get("n_layer", 12), heads=raw.get("n_head", 12),
            d_model=raw.get("n_embd", 768),
        ).validate()  # fmt: skip
        eps = float(raw.get("layer_norm_epsilon", 1e-5))
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"architecture: {exc}", path=directory / CONFIG_FILE) from None
    try:
        hf_tokenizer = TokenizersTokenizer(Tokenizer.from_file(str(directory / TOKENIZER_FILE)))
    except Exception as exc:  # noqa: BLE001 - tokenizers raises its own Exception kinds
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"cannot load the tokenizer ({first})",
                             path=directory / TOKENIZER_FILE) from None  # fmt: skip
    bos, eos, unk = _special_tokens(directory, hf_tokenizer, raw)
    if bos is None or eos is None or unk is None:  # unk is eos when the files name none
        raise ModelLoadError("the tokenizer has no end-of-text token (eos_token)", path=directory)
    try:
        tokenizer = HFTokenizer(hf_tokenizer, config.vocab_size, bos_id=bos, eos_id=eos,
                                unk_id=unk)
    except ValueError as exc:
        raise ModelLoadError(str(exc), path=directory) from None
    if max(bos, eos) >= tokenizer.known:
        raise ModelLoadError(f"special token ids {bos}, {eos} are outside the tokenizer",
                             path=directory)
    state, mapped = gpt2_weights(directory / WEIGHTS_FILE, config)
    net = TransformerLM(config, device="meta")  # no memory, no initialisation: assigned below
    net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, assign=True)
    net.requires_grad_(False)
    for module in net.modules():
        if isinstance(module, torch.nn.LayerNorm):
            module.eps = eps
    net.never = tuple(sorted({*range(tokenizer.known, config.vocab_size),
                              *([bos] if bos != eos else [])}))  # fmt: skip
    net.mapped_matrices = mapped
    set_inference_threads()
    return NeuralLanguageModel(net, tokenizer, backend="transformer",
                               name=name or directory.name,
                               summary={"checkpoint": "gpt2", "path": str(directory)})
