"""features/access"""
