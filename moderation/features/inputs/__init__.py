"""features/inputs"""
