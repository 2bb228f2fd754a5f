"""Built-in input filters: the length and character check, and the exact
duplicate check. Registered through the ``moderation.plugins`` entry point."""
from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select

from moderation.plugins.hookspecs import FilterVerdict, InputFilter, hookimpl

# Control characters other than line breaks and tabs have no place in a
# comment and can hide text in exports.
FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def normalized(text: str) -> str:
    """The text as compared for duplicates: NFC, inner white space folded."""
    return " ".join(unicodedata.normalize("NFC", text).split()).casefold()


def _length_and_characters(draft, session):
    if not draft.text.strip():
        return FilterVerdict("refuse", "The text is empty.")
    if FORBIDDEN.search(draft.text):
        return FilterVerdict("refuse", "The text contains control characters; please use plain text.")
    if draft.kind == "statement":
        words = len(draft.text.split())
        if words > draft.max_words:
            return FilterVerdict("refuse", f"A written statement may have up to {draft.max_words} words; "
                                           f"this one has {words}.")
    elif len(draft.text) > draft.max_chars:
        return FilterVerdict("refuse", f"An input may have up to {draft.max_chars} characters; this one has "
                                       f"{len(draft.text)}. Long statements can be sent while the "
                                       "written-input window is open.")
    return None


def _exact_duplicate(draft, session):
    from moderation.models import Input, InputStatus

    if draft.participant_id is None:
        return None
    wanted = normalized(draft.text)
    # Only what the participant wrote: a rapporteur's record of their oral
    # intervention (source "oral") carries their id too.
    # Plain Core on the session's connection: this runs for every submission
    # of a burst, and the ORM would add a flush check and its bookkeeping.
    table = Input.__table__.c
    texts = session.connection().scalars(select(table.text).where(
        table.dialogue_id == draft.dialogue_id, table.participant_id == draft.participant_id,
        table.source == "participant", table.status.not_in((InputStatus.WITHDRAWN.value,)),
        *([table.id != draft.input_id] if draft.input_id else [])))
    if any(normalized(text) == wanted for text in texts):
        return FilterVerdict("refuse", "You have already submitted this text.", code="conflict")
    return None


LENGTH = InputFilter("length_and_characters", "Length and characters", _length_and_characters)
DUPLICATE = InputFilter("exact_duplicate", "Exact duplicate from the same participant", _exact_duplicate)


@hookimpl
def input_filters():
    return [LENGTH, DUPLICATE]
