"""What the rapporteur's assistant computes from vectors (``similarity``):
possible duplicates, theme suggestions from a few tagged inputs, and themes
found from scratch by clustering. Pure functions of numpy arrays, so that
the benchmark measures exactly what the product runs.

How the product calls them (``bench/assist.py`` does exactly this):

- a dialogue's inputs: ``similarity = dialogue_similarity(vectors)`` (the
  cosine of the *centred* vectors, see ``centred``), then ``most_similar``
  on a row for possible duplicates and ``theme_scores(similarity, tagged)``
  for theme suggestions; ``cluster(vectors, texts)`` for themes from scratch
  (it centres by itself);
- one new input against the stored ones: keep ``mean = dialogue_mean(stored)``
  and ``stored_c = centred(stored, mean)`` (recomputed when inputs are added
  or removed), then ``scores = check_scores(new_vector, stored_c, mean)`` and
  ``most_similar(scores, 3)``.

Centring (subtracting the mean vector of the dialogue's inputs before
normalizing again) removes what every input of one dialogue shares (its
topic), so that what is left is what a given input says: on the evaluation
set it raised MiniLM's duplicate recall at 3 from 0.625 to 0.703 on the
tuning topics. TF-IDF's sparse vectors are left as they are (their shared
topic words are already down-weighted by the IDF)."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def dense(vectors: Any) -> np.ndarray:
    return vectors.toarray() if hasattr(vectors, "toarray") else np.asarray(vectors)


SHRINK = 8  # inputs' worth of "no shared topic known" in the dialogue's mean


def dialogue_mean(vectors: Any) -> np.ndarray | None:
    """The mean vector of a dialogue's (dense) vectors, shrunk towards zero
    while there are few (by n / (n + SHRINK)): the topic a handful of inputs
    share is mostly the inputs themselves, and removing it whole would make
    two of five inputs that say the same thing look unlike. None for sparse
    vectors (TF-IDF) or none at all, which ``centred`` then leaves as they are."""
    if hasattr(vectors, "toarray"):
        return None
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] == 0:
        return None
    count = vectors.shape[0]
    return vectors.mean(axis=0) * (count / (count + SHRINK))


def centred(vectors: Any, mean: np.ndarray | None = None) -> Any:
    """Dense rows minus ``mean`` (by default their own mean, ``dialogue_mean``),
    L2-normalized again, so that a dot product is a cosine between centred
    vectors; sparse rows (TF-IDF) are returned unchanged. A row equal to the
    mean (a dialogue of one input, say) becomes zeros, similar to nothing."""
    if hasattr(vectors, "toarray"):
        return vectors
    vectors = np.asarray(vectors, dtype=np.float32)
    if mean is None:
        mean = dialogue_mean(vectors)
    if mean is None:
        return vectors
    shifted = vectors - np.asarray(mean, dtype=np.float32)
    norms = np.linalg.norm(shifted, axis=-1, keepdims=True)
    return (shifted / np.where(norms > 1e-6, norms, np.inf)).astype(np.float32)


def dialogue_similarity(vectors: Any) -> np.ndarray:
    """What the assistant compares a dialogue's inputs by: the cosine of every
    pair of centred vectors (``similarity_matrix(centred(vectors))``)."""
    return similarity_matrix(centred(vectors))


def check_scores(new: Any, stored_centred: Any, mean: np.ndarray | None) -> np.ndarray:
    """One new input's vector (one row) against the stored inputs' centred
    vectors (``centred(stored, mean)``, ``mean = dialogue_mean(stored)``):
    one score per stored input, comparable with ``dialogue_similarity``'s."""
    product = stored_centred @ centred(new, mean).T
    return np.asarray(dense(product), dtype=np.float32).ravel()


def similarity_matrix(vectors: Any) -> np.ndarray:
    """Cosine similarity of every pair (the rows are L2-normalized)."""
    product = vectors @ vectors.T
    return np.asarray(dense(product), dtype=np.float32)


def most_similar(scores: np.ndarray, k: int = 3, exclude: Iterable[int] = ()) -> list[tuple[int, float]]:
    """The ``k`` highest scores of one row, best first, leaving out ``exclude``."""
    row = np.array(scores, dtype=np.float32, copy=True)
    for index in exclude:
        row[index] = -np.inf
    k = min(k, int(np.isfinite(row).sum()))
    if k <= 0:
        return []
    top = np.argpartition(-row, k - 1)[:k]
    top = top[np.argsort(-row[top], kind="stable")]
    return [(int(i), float(row[i])) for i in top]


def theme_scores(similarity: np.ndarray, examples: dict[str, Sequence[int]]) -> tuple[list[str], np.ndarray]:
    """How close each input is to each theme: the mean of its similarities to
    the theme's tagged inputs (with centred vectors, the similarity to their
    centroid, up to the centroid's length, the same for every input).
    Returns (themes, scores[input, theme]); an input's own tag counts not."""
    themes = sorted(examples)
    scores = np.full((similarity.shape[0], len(themes)), -1.0, dtype=np.float32)
    for column, theme in enumerate(themes):
        members = list(examples[theme])
        if not members:
            continue
        block = similarity[:, members].copy()
        for position, member in enumerate(members):
            block[member, position] = -np.inf  # an input is not its own evidence
        finite = np.isfinite(block)
        counts = finite.sum(axis=1)
        totals = np.where(finite, block, 0.0).sum(axis=1)
        scores[:, column] = np.where(counts > 0, totals / np.maximum(counts, 1), -1.0)
    return themes, scores


@dataclass
class Cluster:
    members: list[int]
    central: int            # the member closest to all the others
    terms: list[str]        # what sets it apart, for its label


def cluster(vectors: Any, texts: Sequence[str], *, k: int | None = None, k_range: tuple[int, int] = (3, 12),
            seed: int = 0) -> list[Cluster]:
    """Group the inputs into themes from scratch: k-means on the centred,
    normalized vectors, with k chosen by the silhouette when not given; each
    cluster labelled by its distinctive terms and its most central input."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    points = _reduced(vectors)
    n = points.shape[0]
    if n < 3:
        return [Cluster(list(range(n)), 0, top_terms(texts, list(range(n))))] if n else []
    candidates = [k] if k is not None else list(range(k_range[0], min(k_range[1], n - 1) + 1))
    best: tuple[float, np.ndarray] | None = None
    sample = min(n, 1000)
    for count in candidates:
        labels = KMeans(n_clusters=count, n_init=4, random_state=seed).fit_predict(points)
        if len(set(labels)) < 2:
            continue
        quality = float(silhouette_score(points, labels, metric="cosine", sample_size=sample, random_state=seed))
        if best is None or quality > best[0]:
            best = (quality, labels)
    labels = best[1] if best is not None else np.zeros(n, dtype=int)
    clusters = []
    for label in sorted(set(labels.tolist())):
        members = [int(i) for i in np.flatnonzero(labels == label)]
        centre = points[members].mean(axis=0)
        central = members[int(np.argmax(points[members] @ centre))]
        clusters.append(Cluster(members, central, top_terms(texts, members)))
    return clusters


def _reduced(vectors: Any, dimensions: int = 128) -> np.ndarray:
    """Dense rows for clustering: dense rows centred (``centred``); sparse
    TF-IDF rows (tens of thousands of columns) reduced by a truncated SVD
    (latent semantic analysis)."""
    if not hasattr(vectors, "toarray"):
        dense_rows = np.asarray(vectors, dtype=np.float32)
        # the plain mean: grouping a handful of inputs means little either way (no shrinking)
        return np.asarray(centred(dense_rows, dense_rows.mean(axis=0) if len(dense_rows) else None), dtype=np.float32)
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    keep = min(dimensions, vectors.shape[0] - 1, vectors.shape[1] - 1)
    if keep < 2:
        return vectors.toarray().astype(np.float32)
    return normalize(TruncatedSVD(n_components=keep, random_state=0).fit_transform(vectors)).astype(np.float32)


STOP = frozenset("""a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have having he
her here hers him his how i if in into is it its itself just me more most my no nor not now of off on once only or
other our ours out over own same she should so some such than that the their theirs them then there these they this
those through to too under until up very was we were what when where which while who whom why will with would you
your yours pls please state states parties party panel speaker also need needs must""".split())
WORD = re.compile(r"[a-z][a-z\-]{2,}")


def top_terms(texts: Sequence[str], members: Sequence[int], count: int = 4) -> list[str]:
    """Words frequent in these texts and rarer elsewhere (a log-odds ratio)."""
    inside: Counter[str] = Counter()
    everywhere: Counter[str] = Counter()
    chosen = set(members)
    for index, text in enumerate(texts):
        words = set(WORD.findall(text.lower())) - STOP
        everywhere.update(words)
        if index in chosen:
            inside.update(words)
    total, size = len(texts), max(len(chosen), 1)
    ranked = sorted(inside, key=lambda w: (-(inside[w] / size) * np.log((total + 1) / (everywhere[w] + 1)), w))
    return ranked[:count]
