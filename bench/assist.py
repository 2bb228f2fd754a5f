"""The rapporteur's assistant, measured on the labelled evaluation set in
``bench/assist_data`` (one file per working-group topic = one dialogue).

Parameters are tuned on the TUNING topics only; every figure printed is on
the other topics (inputs kept out of any tuning):

- dup_recall_at3: inputs that have a duplicate, with one among their three
  most similar inputs of the dialogue;
- likely_precision (and likely_recall): the "likely duplicate" flag (top
  candidate's score at or above the backend's threshold, tuned for 90 %
  precision on the tuning topics) right how often;
- theme_top1 / theme_top3: with 3 tagged inputs per theme (random, averaged
  over SEEDS draws), the right theme first / in the top 3 for the rest;
- discovery_ari: clustering from scratch against the theme labels
  (adjusted Rand index, mean over the test topics);
- contrast_confusions: same-theme pairs written to make different points,
  of which one is the other's top candidate and flagged likely;
- check_ms_p99: checking one new input against 2,000 stored ones (encode
  the new text, centre it, compare, take the top 3), p99 over CHECKS checks,
  the median of RUNS runs (check_cpu_ms_p99: the same in the thread's CPU
  time, i.e. without the waits for a core when the machine is busy);
- cluster_s: clustering 2,000 stored inputs (vectors already stored);
  cluster_cpu_s: the process's CPU time for it (all threads).

Usage: python bench/assist.py [--backend tfidf|minilm|all]
The last line is the default backend's figures.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moderation.features.assist.analysis import (  # noqa: E402
    centred,
    centring,
    check_scores,
    cluster,
    dialogue_similarity,
    most_similar,
    theme_scores,
)
from moderation.features.assist.similarity import built_in_backends  # noqa: E402

DATA = Path(__file__).resolve().parent / "assist_data"
TUNING = ("firearms", "technical_assistance")
SEEDS = 20
CHECKS = 300
RUNS = 3  # check_ms_p99: the median of the p99 of RUNS runs of CHECKS checks
STORED = 2000


def load() -> dict[str, list[dict]]:
    topics = {}
    for path in sorted(DATA.glob("*.jsonl")):
        topics[path.stem] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return topics


def top_candidates(similarity: np.ndarray) -> list[list[tuple[int, float]]]:
    return [most_similar(similarity[i], 3, exclude=[i]) for i in range(similarity.shape[0])]


def duplicates(rows, candidates, threshold):
    found = total = flagged = right = dup_flagged = 0
    for i, row in enumerate(rows):
        group = row["dup_group"]
        top = candidates[i]
        if group is not None:
            total += 1
            found += any(rows[j]["dup_group"] == group for j, _ in top)
        if top and top[0][1] >= threshold:
            flagged += 1
            hit = group is not None and rows[top[0][0]]["dup_group"] == group
            right += hit
            dup_flagged += hit
    return found, total, right, flagged, dup_flagged


def contrast_confusions(rows, candidates, threshold):
    ids = {row["id"]: i for i, row in enumerate(rows)}
    confused = pairs = 0
    for i, row in enumerate(rows):
        for other in row["contrasts_with"]:
            pairs += 1
            top = candidates[i]
            confused += bool(top and top[0][0] == ids[other] and top[0][1] >= threshold)
    return confused, pairs


def tune_threshold(scored: list[tuple[float, bool]], precision: float = 0.9) -> float:
    """The lowest score at which the flags are right at least ``precision`` of the time."""
    best = 1.0
    for cut in sorted({s for s, _ in scored}, reverse=True):
        kept = [hit for s, hit in scored if s >= cut]
        if kept and sum(kept) / len(kept) >= precision:
            best = cut
    return best


def registers(rows):
    """How each input is written (``suggestions.register``): its kind, or a rapporteur's note."""
    return [row["kind"] for row in rows]


def themes(rows, points, seeds=SEEDS):
    by_theme: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_theme.setdefault(row["theme"], []).append(i)
    top1 = top3 = count = 0
    for seed in range(seeds):
        rng = random.Random(seed)
        tagged = {theme: rng.sample(members, 3) for theme, members in by_theme.items()}
        names, scores = theme_scores(points, tagged)
        seen = {i for members in tagged.values() for i in members}
        for i, row in enumerate(rows):
            if i in seen:
                continue
            order = [names[j] for j in np.argsort(-scores[i], kind="stable")]
            top1 += order[0] == row["theme"]
            top3 += row["theme"] in order[:3]
            count += 1
    return top1, top3, count


def discovery(rows, vectors):
    from sklearn.metrics import adjusted_rand_score

    texts = [row["text"] for row in rows]
    clusters = cluster(vectors, texts, registers=registers(rows))
    labels = [0] * len(rows)
    for number, found in enumerate(clusters):
        for member in found.members:
            labels[member] = number
    return adjusted_rand_score([row["theme"] for row in rows], labels), len(clusters)


def stored_texts(topics, count=STORED, seed=1):
    """``count`` distinct inputs made of halves of the set's inputs, each
    with the register of its first half."""
    rng = random.Random(seed)
    rows = [row for found in topics.values() for row in found]
    made, kinds = [], []
    for _ in range(count):
        a, b = rng.sample(rows, 2)
        words_a, words_b = a["text"].split(), b["text"].split()
        made.append(" ".join(words_a[: max(3, len(words_a) // 2)] + words_b[len(words_b) // 2:]))
        kinds.append(a["kind"])
    return made, kinds


def speed(backend, topics):
    """What the product does: the stored inputs' centred vectors and their
    ``centring`` are kept (computed once, outside the timing); a check
    encodes the new text, centres it and compares it with them, and takes
    the top 3.
    Wall-clock times (what the rapporteur waits) and the thread's CPU time
    (the same without the waits for a core on a busy machine)."""
    stored, kinds = stored_texts(topics)
    encoder = backend.fit(stored)
    vectors = encoder.transform(stored)
    shared = centring(vectors, kinds)
    stored_c = centred(vectors, shared, kinds)
    new, new_kinds = stored_texts(topics, CHECKS, seed=2)
    for text, kind in zip(new[:10], new_kinds, strict=False):  # warm: the model is loaded once per process
        most_similar(check_scores(encoder.transform([text]), stored_c, shared, kind), 3)
    p99s, medians, cpu_p99s = [], [], []
    for _ in range(RUNS):
        times, cpu = [], []
        for text, kind in zip(new, new_kinds, strict=True):
            start, start_cpu = time.perf_counter(), time.thread_time()
            most_similar(check_scores(encoder.transform([text]), stored_c, shared, kind), 3)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - start_cpu) * 1000)
        times.sort()
        cpu.sort()
        p99s.append(times[int(len(times) * 0.99) - 1])
        cpu_p99s.append(cpu[int(len(cpu) * 0.99) - 1])
        medians.append(statistics.median(times))
    start, start_cpu = time.perf_counter(), time.process_time()
    cluster(vectors, stored, registers=kinds)
    return (statistics.median(p99s), statistics.median(medians), statistics.median(cpu_p99s),
            time.perf_counter() - start, time.process_time() - start_cpu)


def measure(backend, topics):
    test = [name for name in topics if name not in TUNING]
    tuning = [name for name in topics if name in TUNING]
    prepared = {}
    for name, rows in topics.items():
        vectors = backend.encode([row["text"] for row in rows])
        similarity = dialogue_similarity(vectors, registers(rows))
        points = centred(vectors, registers=registers(rows))
        prepared[name] = (rows, vectors, similarity, top_candidates(similarity), points)
    scored = []
    for name in tuning:
        rows, _, _, candidates, _ = prepared[name]
        for i, row in enumerate(rows):
            if candidates[i]:
                j, score = candidates[i][0]
                scored.append((score, row["dup_group"] is not None and rows[j]["dup_group"] == row["dup_group"]))
    threshold = tune_threshold(scored)
    totals = dict.fromkeys(("found", "dups", "right", "flagged", "dup_flagged", "top1", "top3", "themed",
                            "confused", "pairs"), 0)
    aris = []
    for name in test:
        rows, vectors, _, candidates, points = prepared[name]
        found, dups, right, flagged, dup_flagged = duplicates(rows, candidates, threshold)
        top1, top3, themed = themes(rows, points)
        confused, pairs = contrast_confusions(rows, candidates, threshold)
        for key, value in zip(totals, (found, dups, right, flagged, dup_flagged, top1, top3, themed, confused, pairs),
                              strict=True):
            totals[key] += value
        ari, _ = discovery(rows, vectors)
        aris.append(ari)
    p99, median, cpu_p99, cluster_s, cluster_cpu_s = speed(backend, topics)
    return {
        "dup_recall_at3": totals["found"] / max(totals["dups"], 1),
        "likely_precision": totals["right"] / max(totals["flagged"], 1),
        "likely_recall": totals["dup_flagged"] / max(totals["dups"], 1),
        "likely_threshold": threshold,
        "theme_top1": totals["top1"] / max(totals["themed"], 1),
        "theme_top3": totals["top3"] / max(totals["themed"], 1),
        "discovery_ari": statistics.mean(aris) if aris else float("nan"),
        "contrast_confusions": f"{totals['confused']}/{totals['pairs']}",
        "check_ms_p50": median,
        "check_ms_p99": p99,
        "check_cpu_ms_p99": cpu_p99,
        "cluster_s": cluster_s,
        "cluster_cpu_s": cluster_cpu_s,
        "test_topics": ",".join(test),
        "test_inputs": sum(len(prepared[name][0]) for name in test),
    }


def line(result):
    keys = ("dup_recall_at3", "likely_precision", "theme_top1", "theme_top3", "discovery_ari", "check_ms_p99", "cluster_s")
    return " ".join(f"{key}={result[key]:.3f}" if key != "check_ms_p99" else f"{key}={result[key]:.1f}" for key in keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="all")
    args = parser.parse_args()
    topics = load()
    backends = [b for b in built_in_backends() if args.backend in ("all", b.name)]
    if not backends:
        raise SystemExit(f"no backend {args.backend!r} here (installed: {[b.name for b in built_in_backends()]})")
    results = []
    for backend in reversed(backends):  # the default (first) last
        result = measure(backend, topics)
        results.append((backend, result))
        print(f"{backend.name}: " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                             for k, v in result.items()), flush=True)
    backend, result = results[-1]
    print(f"default backend: {backend.name}")
    print(line(result))


if __name__ == "__main__":
    main()
