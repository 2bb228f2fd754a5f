"""The demo: a Constructive Dialogue on Trafficking in Persons with its
Preparation Day, seeded through the same commands the pages use."""
from __future__ import annotations

import datetime as dt
import secrets
from zoneinfo import ZoneInfo

from sqlalchemy import select

from moderation.core.auth import SYSTEM
from moderation.models import Credential, Dialogue, Participant, User

DEMO_TITLE = "Constructive Dialogue on Trafficking in Persons"
PREP_TITLE = "Multistakeholder Preparation Day on Trafficking in Persons"
DEMO_LABEL = "demo link"
ADMIN_USERNAME = "secretariat"

PREP_AGENDA = [
    ("generic", "Welcome and objectives of the day", 10),
    ("briefing", "Introduction to the UNTOC review mechanism", 30),
    ("generic", "Preparing effective interventions for the dialogue", 40),
    ("input_collection", "Questions and first inputs", 30),
]
DIALOGUE_AGENDA = [
    ("briefing", "Briefing on the review process of the Convention and its Protocols", 20),
    ("working_group_update", "Update on the Working Group on Trafficking in Persons", 15),
    ("panel_discussion", "Panel discussion: identifying and protecting victims of trafficking", 60),
    ("input_collection", "Collection of inputs and suggestions to States parties", 45),
]
# (participant, organization, category, country, channel)
PEOPLE = [
    ("Amina Okafor", "Network of Survivors for Change", "ngo", "Nigeria", "room"),
    ("Lukas Berger", "Danube Coalition against Human Trafficking", "ngo_ecosoc", "Austria", "room"),
    ("María Fernández", "Red Latinoamericana contra la Trata", "ngo_ecosoc", "Mexico", "online"),
    ("Priya Raman", "Migrant Workers' Rights Forum", "ngo", "India", "online"),
    ("Jonas Lindqvist", "Nordic Institute for Criminology", "academia", "Sweden", "online"),
    ("Dr. Chen Wei", "Centre for Migration and Law Studies", "academia", "Singapore", "room"),
    ("Sarah Mensah", "Fair Supply Chains Initiative", "private_sector", "Ghana", "online"),
    ("Tomás Silva", "Seafarers' Welfare Alliance", "ngo", "Portugal", "online"),
    ("Anna Kowalska", "Permanent Mission of Poland", "state_party", "Poland", "room"),
    ("Kwame Asante", "Permanent Mission of Ghana", "state_party", "Ghana", "online"),
    ("Elena Rossi", "Intergovernmental Office for Migration Policy", "igo", "", "room"),
    ("Fatima Zahra El Idrissi", "Victim-Led Voices Morocco", "ngo", "Morocco", "online"),
]


def _find(session, title: str) -> Dialogue | None:
    return session.scalar(select(Dialogue).where(Dialogue.title == title))


def seed_demo(app, base_url: str) -> dict:
    """Create the demo (once) and issue fresh demo links; return them by role."""
    service = app.extensions["moderation"]
    db = service.db

    def run(name: str, payload: dict) -> dict:
        return service.dispatch(SYSTEM, name, payload).result

    admin_password = secrets.token_urlsafe(9)
    with db.session() as s:
        existing = _find(s, DEMO_TITLE)
        dialogue_id = existing.id if existing else None
        admin_exists = s.scalar(select(User).where(User.username == ADMIN_USERNAME)) is not None
    if admin_exists:
        run("user.set_password", {"username": ADMIN_USERNAME, "password": admin_password})
    else:
        run("user.create", {"username": ADMIN_USERNAME, "password": admin_password, "is_admin": True,
                            "display_name": "Secretariat (demo)"})
    if dialogue_id is None:
        dialogue_id = _create_demo(run)
    with db.session() as s:
        people = s.execute(select(Participant.id, Participant.channel).where(
            Participant.dialogue_id == dialogue_id).order_by(Participant.id)).all()
        old_links = list(s.scalars(select(Credential.id).where(
            Credential.label == DEMO_LABEL, Credential.revoked_at.is_(None),
            Credential.dialogue_id == dialogue_id)))
    for credential_id in old_links:
        run("access.revoke", {"dialogue_id": dialogue_id, "credential_id": credential_id})
    base = base_url.rstrip("/")

    def link(role: str, **extra) -> str:
        token = run("access.issue_link", {"dialogue_id": dialogue_id, "role": role, "label": DEMO_LABEL,
                                          **extra})["token"]
        return f"{base}/l/{token}"

    in_room = next(pid for pid, channel in people if channel == "room")
    online = next(pid for pid, channel in people if channel == "online")
    code = run("dialogue.configure_join", {"dialogue_id": dialogue_id, "enabled": True})["code"]
    admin_token = run("user.issue_sign_in_link", {"username": ADMIN_USERNAME})["token"]
    links = {
        "secretariat": f"{base}/l/{admin_token}",
        "moderator": link("moderator"),
        "rapporteur": link("rapporteur"),
        "participant": link("participant", participant_id=in_room),
        "participant_online": link("participant", participant_id=online),
        "display": link("display"),
    }
    return {"dialogue_id": dialogue_id, "links": links, "join_code": code,
            "join_url": f"{base}/d/{dialogue_id}/join",
            "admin": {"username": ADMIN_USERNAME, "password": admin_password}}


def _create_demo(run) -> int:
    today = dt.datetime.now(ZoneInfo("Europe/Vienna")).date().isoformat()
    place = "Vienna International Centre, Board Room D"
    dialogue_id = run("dialogue.create", {
        "title": DEMO_TITLE, "topic": "trafficking_in_persons", "kind": "constructive_dialogue",
        "local_start": f"{today}T15:00:00", "timezone": "Europe/Vienna", "venue": place,
        "format": "hybrid"})["dialogue_id"]
    prep_id = run("dialogue.create", {
        "title": PREP_TITLE, "topic": "trafficking_in_persons", "kind": "preparation_day",
        "prepares_id": dialogue_id, "local_start": f"{today}T10:00:00", "timezone": "Europe/Vienna",
        "venue": place, "format": "hybrid"})["dialogue_id"]
    for target, agenda in ((dialogue_id, DIALOGUE_AGENDA), (prep_id, PREP_AGENDA)):
        for item_type, title, minutes in agenda:
            run("agenda.add_item", {"dialogue_id": target, "item_type": item_type, "title": title,
                                    "planned_minutes": minutes})
    for name, org, category, country, channel in PEOPLE:
        run("participant.register", {"dialogue_id": dialogue_id, "name": name, "channel": channel,
                                     "organization": {"name": org, "category": category, "country": country}})
    return dialogue_id
