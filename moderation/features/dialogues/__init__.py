"""features/dialogues"""
