"""features/queue"""
