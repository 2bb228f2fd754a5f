"""features/agenda"""
