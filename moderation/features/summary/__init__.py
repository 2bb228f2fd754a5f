"""features/summary"""
