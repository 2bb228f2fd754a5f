"""Agenda: the items, starting and ending them, their timing."""
