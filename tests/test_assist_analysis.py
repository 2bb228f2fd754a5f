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


def test_theme_scores_rank_an_untagged_input_by_the_theme_it_is_about():
    points = TfidfBackend().encode(TEXTS)
    themes, scores = theme_scores(points, {"marking": [0], "tracing": [2], "victims": [4]})
    assert themes == ["marking", "tracing", "victims"]
    assert scores.shape == (6, 3)
    assert [themes[int(np.argmax(scores[i]))] for i in (1, 3, 5)] == ["marking", "tracing", "victims"]
    # a theme with no tagged input is no theme
    assert theme_scores(points, {"marking": [0], "empty": []})[0] == ["marking"]


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


def test_theme_centroids_are_refined_on_the_untagged_inputs():
    """Two themes, each a cloud around its own direction; the one tagged input
    of theme A sits at the edge of its cloud, nearer theme B's centre than
    some of A's members are. Refined on the untagged inputs, the centroid
    moves into A's cloud and every member of A is scored A; with no
    refinement (steps=0) some are not."""
    rng = np.random.default_rng(3)
    a_centre, b_centre = np.eye(8, dtype=np.float32)[0], np.eye(8, dtype=np.float32)[1]
    a = a_centre + 0.2 * rng.normal(size=(20, 8)).astype(np.float32)
    b = b_centre + 0.2 * rng.normal(size=(20, 8)).astype(np.float32)
    edge = (0.55 * a_centre + 0.45 * b_centre + 0.6 * np.eye(8, dtype=np.float32)[2])[None, :]
    points = np.vstack([edge, a, b])
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    examples = {"A": [0], "B": [21]}
    truth = np.array([0] * 21 + [1] * 20)

    def right(**options) -> int:
        themes, scores = theme_scores(points, examples, **options)
        assert themes == ["A", "B"]
        return int((np.argmax(scores, axis=1) == truth).sum())
    assert right(steps=0) < len(truth)
    assert right() == len(truth)


def test_registers_are_set_aside_so_that_the_same_point_in_another_register_is_nearest():
    """Four inputs: two points (p, q), each written as a question and as a
    suggestion. The register's direction is stronger than the point's, so by
    plain cosines a question is nearest to the other question; with the
    registers' means removed it is nearest to the suggestion that makes its
    point. A new input checked against the stored ones gets the same scores
    as in the whole dialogue."""
    from moderation.features.assist.analysis import centred, centring, check_scores, dialogue_similarity

    e = np.eye(6, dtype=np.float32)
    question, suggestion, p, q = e[0], e[1], e[2], e[3]
    vectors = np.stack([question + 0.6 * p, question + 0.6 * q, suggestion + 0.6 * p, suggestion + 0.6 * q])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    registers = ["question", "question", "suggestion", "suggestion"]
    assert most_similar(dialogue_similarity(vectors)[0], 1, exclude=[0])[0][0] == 1
    with_registers = dialogue_similarity(vectors, registers)
    assert most_similar(with_registers[0], 1, exclude=[0])[0][0] == 2
    assert most_similar(with_registers[3], 1, exclude=[3])[0][0] == 1
    shared = centring(vectors, registers)
    stored = centred(vectors, shared, registers)
    assert np.allclose(check_scores(vectors[2:3], stored, shared, "suggestion"), with_registers[2], atol=1e-5)
    # one register alone is no register: compared as if there were none
    assert np.allclose(dialogue_similarity(vectors, ["comment"] * 4), dialogue_similarity(vectors), atol=1e-5)
    # an unknown register is left alone; the number of registers must match the rows
    assert check_scores(vectors[2:3], stored, shared, "statement").shape == (4,)
    with pytest.raises(ValueError):
        centring(vectors, registers[:3])
