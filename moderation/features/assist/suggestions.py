"""What the assistant suggests, from the dialogue's inputs as they are now:
possible duplicates, themes for untagged inputs, themes found from scratch.
Nothing here changes anything: the rapporteur acts through the commands
(``inputs.merge``, ``assist.dismiss_duplicate``, ``assist.accept_themes``,
``assist.accept_cluster``). The numeric work runs in the assistant's OS
thread (``Assistant.compute``)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.core.errors import NotFound
from moderation.features.assist import analysis
from moderation.features.assist.assistant import Assistant, compared_inputs
from moderation.features.inputs.audiences import input_view, themes_of
from moderation.models import DismissedPair, Input, Theme

# Scores for the built-in backends (bench/assist.py, tuned on the tuning
# topics): at or above ``likely`` a pair is flagged "likely duplicate"; below
# ``shown`` a pair is not listed in the whole-dialogue view; below ``theme``
# a theme is not suggested (it fits no better than any other text would).
# The scores are cosines of centred vectors (``analysis.dialogue_similarity``):
# for all-MiniLM-L6-v2, 0 is "as close as any two inputs of this dialogue".
# ``shown`` keeps every input whose nearest is its duplicate on the tuning
# topics (the list is sorted, the most likely first); ``likely`` is flagged
# right 90 % of the time there.
THRESHOLDS = {"minilm": {"likely": 0.96, "shown": 0.20, "theme": 0.0},
              "tfidf": {"likely": 0.85, "shown": 0.25, "theme": 0.03}}
DEFAULT_THRESHOLDS = {"likely": 0.9, "shown": 0.3, "theme": 0.0}


def thresholds(backend: Any) -> dict[str, float]:
    """The backend's own (attributes ``likely_score``, ``shown_score``,
    ``theme_score``), else the measured ones."""
    known = THRESHOLDS.get(backend.name, DEFAULT_THRESHOLDS)
    return {name: float(getattr(backend, f"{name}_score", known[name])) for name in ("likely", "shown", "theme")}


def dismissed_pairs(session: Session, dialogue_id: int) -> set[tuple[int, int]]:
    return {(a, b) for a, b in session.execute(select(DismissedPair.first_id, DismissedPair.second_id)
                                               .where(DismissedPair.dialogue_id == dialogue_id))}


def register(inp: Input) -> str:
    """How an input is written, which the comparison sets aside
    (``analysis.Centring``): its kind, or a rapporteur's note of an oral intervention."""
    return "oral" if inp.source == "oral" else inp.kind


def pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _backend(assistant: Assistant) -> dict[str, Any]:
    return {"name": assistant.backend.name, "label": assistant.backend.label}


def _views(session: Session, inputs: Sequence[Input], role_audience: str) -> dict[int, dict[str, Any]]:
    themes = themes_of(session, [i.id for i in inputs])
    return {i.id: input_view(i, role_audience, themes.get(i.id)) for i in inputs}


def possible_duplicates(assistant: Assistant, session: Session, dialogue_id: int, audience: str, *,
                        input_id: int | None = None, limit: int = 3, max_items: int = 50) -> dict[str, Any]:
    """For one input (``input_id``) or for the whole dialogue: each input's
    ``limit`` most similar other inputs, with a score and a "likely" flag,
    leaving out pairs the staff dismissed. The whole dialogue's list holds
    only the candidates that score at least the shown threshold, the most
    likely first."""
    inputs = compared_inputs(session, dialogue_id)
    if input_id is not None and input_id not in {i.id for i in inputs}:
        raise NotFound(f"There is no input {input_id} to compare in this dialogue (merged, withdrawn or hidden "
                       "inputs are not compared).")
    limits = thresholds(assistant.backend)
    ids = [i.id for i in inputs]
    position = {input_id_: n for n, input_id_ in enumerate(ids)}
    dismissed: dict[int, list[int]] = defaultdict(list)  # by position: the positions not to propose
    for a, b in dismissed_pairs(session, dialogue_id):
        if a in position and b in position:
            dismissed[position[a]].append(position[b])
            dismissed[position[b]].append(position[a])
    vectors = assistant.vectors(session, inputs) if len(inputs) > 1 else None
    registers = [register(i) for i in inputs]

    def compute() -> list[tuple[int, list[tuple[int, float]]]]:
        if vectors is None:
            return []
        rows = [position[input_id]] if input_id is not None else range(len(ids))
        if input_id is None:
            scores = analysis.dialogue_similarity(vectors, registers)
        else:
            centred = analysis.centred(vectors, registers=registers)
            scores = np.asarray(analysis.dense(centred @ centred[position[input_id]].T)).reshape(1, -1)
        found = []
        for r, n in enumerate(rows):
            found.append((n, analysis.most_similar(scores[r], limit, exclude=[n, *dismissed[n]])))
        return found
    found = assistant.compute(compute)
    items = []
    for n, candidates in found:
        listed = [{"input_id": ids[j], "score": round(score, 3), "likely": score >= limits["likely"]}
                  for j, score in candidates if input_id is not None or score >= limits["shown"]]
        if not listed and input_id is None:
            continue
        items.append({"input_id": ids[n], "candidates": listed})
    if input_id is None:
        items.sort(key=lambda item: (-item["candidates"][0]["score"], item["input_id"]))
        total = len(items)
        items = items[:max_items]
    else:
        total = len(items)
    shown = {item["input_id"] for item in items} | {c["input_id"] for item in items for c in item["candidates"]}
    views = _views(session, [i for i in inputs if i.id in shown], audience)
    return {"backend": _backend(assistant), "thresholds": limits, "items": items, "total": total,
            "inputs": [views[i] for i in sorted(views)]}


def theme_suggestions(assistant: Assistant, session: Session, dialogue_id: int, audience: str, *,
                      limit: int = 3, max_items: int = 500) -> dict[str, Any]:
    """For every untagged input, the ``limit`` most likely of the themes that
    have tagged inputs (``analysis.theme_scores``: a theme's centroid, from
    its tagged inputs and refined on the untagged ones),
    leaving out themes below the backend's ``theme`` threshold: an input
    that fits no theme gets none."""
    inputs = compared_inputs(session, dialogue_id)
    themes = {t.id: t for t in session.scalars(select(Theme).where(Theme.dialogue_id == dialogue_id))}
    tagged_of = themes_of(session, [i.id for i in inputs])
    examples: dict[str, list[int]] = defaultdict(list)
    for n, inp in enumerate(inputs):
        for theme_id in tagged_of.get(inp.id, []):
            examples[str(theme_id)].append(n)
    untagged = [n for n, inp in enumerate(inputs) if not tagged_of.get(inp.id)]
    floor = thresholds(assistant.backend)["theme"]
    result: dict[str, Any] = {"backend": _backend(assistant), "items": [], "total": len(untagged),
                              "threshold": floor,
                              "themes_with_examples": sorted(int(t) for t in examples), "inputs": []}
    if not examples or not untagged:
        return result
    vectors = assistant.vectors(session, inputs)
    registers = [register(i) for i in inputs]

    def compute() -> tuple[list[str], np.ndarray]:
        return analysis.theme_scores(analysis.centred(vectors, registers=registers), dict(examples))
    names, scores = assistant.compute(compute)
    for n in untagged[:max_items]:
        order = np.argsort(-scores[n], kind="stable")[:limit]
        result["items"].append({"input_id": inputs[n].id, "themes": [
            {"theme_id": int(names[j]), "name": themes[int(names[j])].name, "score": round(float(scores[n, j]), 3)}
            for j in order if scores[n, j] >= floor]})
    listed = {item["input_id"] for item in result["items"]}
    views = _views(session, [i for i in inputs if i.id in listed], audience)
    result["inputs"] = [views[i] for i in sorted(views)]
    return result


def theme_clusters(assistant: Assistant, session: Session, dialogue_id: int, audience: str, *,
                   input_ids: list[int] | None = None, k: int | None = None) -> dict[str, Any]:
    """Themes found from scratch among the untagged inputs (or among
    ``input_ids``, to split a suggestion): groups of similar inputs, each
    labelled by its distinctive words and its most central input."""
    inputs = compared_inputs(session, dialogue_id)
    if input_ids is not None:
        chosen = set(input_ids)
        unknown = chosen - {i.id for i in inputs}
        if unknown:
            raise NotFound(f"There is no input {min(unknown)} to compare in this dialogue.")
        members = [i for i in inputs if i.id in chosen]
    else:
        tagged_of = themes_of(session, [i.id for i in inputs])
        members = [i for i in inputs if not tagged_of.get(i.id)]
    result: dict[str, Any] = {"backend": _backend(assistant), "clusters": [], "inputs": []}
    if len(members) < 2:
        return result
    vectors = assistant.vectors(session, members)
    texts = [i.text for i in members]

    def compute() -> list[analysis.Cluster]:
        count = k if k is None or k < len(members) else len(members) - 1
        return analysis.cluster(vectors, texts, registers=[register(i) for i in members], k=count)
    found = sorted(assistant.compute(compute), key=lambda c: (-len(c.members), c.central))
    for group in found:
        result["clusters"].append({
            "label": ", ".join(group.terms) or members[group.central].text[:60],
            "terms": group.terms,
            "central_input_id": members[group.central].id,
            "input_ids": sorted(members[n].id for n in group.members)})
    views = _views(session, members, audience)
    result["inputs"] = [views[i] for i in sorted(views)]
    return result

