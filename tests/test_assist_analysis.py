"""The assistant's computations on real vectors (the TF-IDF backend, which
needs nothing beyond scikit-learn, a dependency of the package): nearest inputs, theme scores from a few
tagged inputs, clusters with their labels."""
from __future__ import annotations

import numpy as np
import pytest

from moderation.features.assist.analysis import cluster, most_similar, similarity_matrix, theme_scores, top_terms
from moderation.features.assist.similarity import TfidfBackend

TEXTS = [
    "States should mark every firearm with a unique serial number at import.",        # 0 marking
    "Every imported firearm needs a unique serial number marked on it.",             # 1 marking (same point)
    "Tracing requests between States go unanswered for months.",                     # 2 tracing
    "Replies to international tracing requests take far too long.",                  # 3 tracing (same point)
    "Victims of trafficking must not be punished for crimes they were forced into.", # 4 non-punishment
    "Trafficked people are prosecuted for offences committed under coercion.",       # 5 non-punishment
]


def test_most_similar_is_best_first_and_leaves_out_what_is_excluded():
    scores = np.array([0.1, 0.9, 0.5, 0.9, -0.2], dtype=np.float32)
    assert most_similar(scores, 3, exclude=[1]) == [(3, pytest.approx(0.9)), (2, pytest.approx(0.5)),
                                                    (0, pytest.approx(0.1))]
    assert most_similar(scores, 10, exclude=range(5)) == []


def test_tfidf_vectors_are_normalized_and_a_paraphrase_with_shared_words_is_nearest():
    vectors = TfidfBackend().encode(TEXTS)
    similarity = similarity_matrix(vectors)
    assert np.allclose(np.diag(similarity), 1.0, atol=1e-5)
    assert most_similar(similarity[0], 1, exclude=[0])[0][0] == 1
    encoder = TfidfBackend().fit(TEXTS)
    new = encoder.transform(["unique serial numbers on firearms at import"])
    scores = np.asarray((encoder.transform(TEXTS) @ new.T).toarray()).ravel()
    assert most_similar(scores, 1)[0][0] in (0, 1)


def test_theme_scores_use_the_tagged_inputs_but_never_an_input_as_its_own_evidence():
    similarity = similarity_matrix(TfidfBackend().encode(TEXTS))
    themes, scores = theme_scores(similarity, {"marking": [0], "tracing": [2], "victims": [4, 5]})
    assert themes == ["marking", "tracing", "victims"]
    assert themes[int(np.argmax(scores[1]))] == "marking"
    assert themes[int(np.argmax(scores[3]))] == "tracing"
    # input 4 is tagged "victims": its score there comes from input 5 alone, not from itself (1.0)
    assert scores[4, 2] == pytest.approx(similarity[4, 5])


def test_clusters_cover_every_input_once_with_a_central_member_and_terms():
    texts = TEXTS * 3
    clusters = cluster(TfidfBackend().encode(texts), texts, k=3)
    members = sorted(i for found in clusters for i in found.members)
    assert members == list(range(len(texts)))
    for found in clusters:
        assert found.central in found.members and found.terms
    assert "serial" in top_terms(TEXTS, [0, 1]) or "marked" in top_terms(TEXTS, [0, 1])


def test_centred_removes_the_mean_and_normalizes_dense_rows_and_leaves_sparse_ones():
    from moderation.features.assist.analysis import SHRINK, centred, dialogue_mean, dialogue_similarity

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(6, 8)).astype(np.float32) + 5.0  # a strong shared direction
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    mean = dialogue_mean(vectors)
    assert np.allclose(mean, vectors.mean(axis=0) * 6 / (6 + SHRINK)), "shrunk while there are few inputs"
    many = np.repeat(vectors, 200, axis=0)
    assert np.allclose(dialogue_mean(many), vectors.mean(axis=0), atol=0.01), "and hardly at all with many"
    result = centred(vectors)
    assert np.allclose(np.linalg.norm(result, axis=1), 1.0, atol=1e-5)
    expected = (vectors - mean) / np.linalg.norm(vectors - mean, axis=1, keepdims=True)
    assert np.allclose(result, expected, atol=1e-5)
    assert np.allclose(dialogue_similarity(vectors), expected @ expected.T, atol=1e-5)
    # a row equal to the mean is similar to nothing (zeros, no NaN)
    assert np.allclose(centred(mean[None, :], mean), 0.0)
    sparse = TfidfBackend().encode(TEXTS)
    assert centred(sparse) is sparse and dialogue_mean(sparse) is None


def test_check_scores_equal_the_dialogue_similarity_row_of_a_stored_input():
    from moderation.features.assist.analysis import centred, check_scores, dialogue_mean, dialogue_similarity

    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(10, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    mean = dialogue_mean(vectors)
    scores = check_scores(vectors[3:4], centred(vectors, mean), mean)
    assert scores.shape == (10,)
    assert np.allclose(scores, dialogue_similarity(vectors)[3], atol=1e-5)
    assert most_similar(scores, 1)[0][0] == 3
    # TF-IDF: plain cosines against the stored rows
    encoder = TfidfBackend().fit(TEXTS)
    stored = encoder.transform(TEXTS)
    sparse_scores = check_scores(encoder.transform([TEXTS[2]]), centred(stored), dialogue_mean(stored))
    assert most_similar(sparse_scores, 1)[0][0] == 2


def test_theme_scores_average_every_tagged_input():
    similarity = np.array([[1.0, 0.2, 0.4, 0.9],
                           [0.2, 1.0, 0.6, 0.1],
                           [0.4, 0.6, 1.0, 0.3],
                           [0.9, 0.1, 0.3, 1.0]], dtype=np.float32)
    themes, scores = theme_scores(similarity, {"a": [0, 1, 2]})
    assert scores[3, 0] == pytest.approx((0.9 + 0.1 + 0.3) / 3)
    assert scores[0, 0] == pytest.approx((0.2 + 0.4) / 2)  # not itself
