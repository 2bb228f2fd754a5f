"""Time every summary exporter on a large generated dialogue.

A dialogue with 2,000 published inputs (a third of them anonymous, mixed
kinds, over the four agenda items and the dialogue as a whole), 40 themes
(each input tagged with one or two) and 200 finished interventions. The
agenda, participants and settings go through the real commands; the bulk
rows are inserted with the ORM (submitting 2,000 inputs through the
commands would trip the rate limits and take minutes). Each exporter is
timed as build_summary + export, the median of 3 runs.

    .venv/bin/python bench/export.py [--runs 3] [--keep FILE.sqlite3]

The last line is machine-readable: ``docx_s=... xlsx_s=...`` (targets:
DOCX and XLSX under 3 seconds each).
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moderation import create_app  # noqa: E402
from moderation.core.auth import SYSTEM  # noqa: E402
from moderation.models import Input, InputTheme, SpeakerEntry, Theme  # noqa: E402

CATEGORIES = ["ngo_ecosoc", "ngo", "academia", "private_sector", "state_party", "igo", "other"]
KINDS = ["comment", "comment", "comment", "suggestion", "question"]
WORDS = ("victims survivors shelters funding data cooperation borders prevention prosecution training "
         "referral mechanism civil society partnership evidence online exploitation labour children").split()


def seed(service, inputs=2000, themes=40, interventions=200, seed_value=7):
    rng = random.Random(seed_value)
    run = lambda name, payload: service.dispatch(SYSTEM, name, payload).result  # noqa: E731
    dlg = run("dialogue.create", {"topic": "trafficking_in_persons", "local_start": "2026-06-03T10:00:00"})[
        "dialogue_id"]
    items = [run("agenda.add_item", {"dialogue_id": dlg, "item_type": t, "planned_minutes": m})["item_id"]
             for t, m in (("briefing", 20), ("working_group_update", 15), ("panel_discussion", 60),
                          ("input_collection", 45))]
    for n in range(60):
        run("participant.register", {"dialogue_id": dlg, "name": f"Participant {n}",
                                     "channel": "room" if n % 2 else "online",
                                     "organization": {"name": f"Organization {n % 30}",
                                                      "category": CATEGORIES[n % len(CATEGORIES)]}})
    run("summary.configure", {"dialogue_id": dlg, "attribution": True, "list_organizations": True})
    start = dt.datetime(2026, 6, 3, 8, 0, tzinfo=dt.UTC)
    with service.db.session() as session:
        theme_rows = [Theme(dialogue_id=dlg, name=f"Theme {n}: {' '.join(rng.sample(WORDS, 2))}",
                            description="", position=n) for n in range(themes)]
        session.add_all(theme_rows)
        entries = []
        for n in range(interventions):
            begin = start + dt.timedelta(seconds=60 * n)
            entries.append(SpeakerEntry(
                dialogue_id=dlg, agenda_item_id=items[n % len(items)], name=f"Speaker {n}",
                organization=f"Organization {n % 30}", category=CATEGORIES[n % len(CATEGORIES)],
                channel="room" if n % 3 else "online", intervention_type="statement", status="done",
                requested_at=begin, started_at=begin, ended_at=begin + dt.timedelta(seconds=50),
                elapsed_seconds=50.0))
        session.add_all(entries)
        rows = []
        for n in range(inputs):
            text = " ".join(rng.choices(WORDS, k=rng.randint(12, 60))).capitalize() + "."
            if n % 97 == 0:
                text = "=" + text  # formula-looking cells must stay text
            rows.append(Input(
                dialogue_id=dlg, agenda_item_id=None if n % 10 == 0 else items[n % len(items)],
                author_name=f"Participant {n % 60}", organization=f"Organization {n % 30}",
                category=CATEGORIES[n % len(CATEGORIES)], channel="room" if n % 2 else "online",
                named=n % 3 != 0, kind=KINDS[n % len(KINDS)], source="participant", text=text,
                status="published", endorsement_count=rng.randint(0, 12),
                created_at=start + dt.timedelta(seconds=5 * n), updated_at=start + dt.timedelta(seconds=5 * n)))
        session.add_all(rows)
        session.flush()
        session.add_all(InputTheme(input_id=row.id, theme_id=theme.id) for row in rows
                        for theme in rng.sample(theme_rows, rng.randint(1, 2)))
        session.commit()
    return dlg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", help="SQLite file to use (kept afterwards)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-export-"))
    path = Path(args.keep) if args.keep else folder / "bench.sqlite3"
    path.unlink(missing_ok=True)
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "ASYNC_MODE": "threading", "SECRET_KEY": "bench",
                      "INSTANCE_PATH": str(folder / "instance"), "AUTO_UPGRADE": True})
    service = app.extensions["moderation"]
    began = time.perf_counter()
    dlg = seed(service)
    print(f"seeded dialogue {dlg} in {time.perf_counter() - began:.1f} s ({path})")

    from moderation.plugins import summary_exporters
    results = {}
    print(f"{'format':<20}{'median s':>10}{'min s':>10}{'bytes':>12}")
    for name in summary_exporters(service.plugins):
        times, size = [], 0
        for _ in range(args.runs):
            t0 = time.perf_counter()
            _exporter, data, _filename = service.export(SYSTEM, dlg, name)
            times.append(time.perf_counter() - t0)
            size = len(data)
        results[name] = statistics.median(times)
        print(f"{name:<20}{results[name]:>10.3f}{min(times):>10.3f}{size:>12,}")
    app.extensions["db"].dispose()
    print(f"docx_s={results['docx']:.3f} xlsx_s={results['inputs_xlsx']:.3f}")


if __name__ == "__main__":
    main()
