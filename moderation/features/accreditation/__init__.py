"""features/accreditation"""
