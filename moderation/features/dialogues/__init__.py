"""Dialogues: creating one and its settings (title, venue, dates, time zone)."""
