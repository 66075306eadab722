"""Curation: an ordered chain of ops (ops.py, dedup.py, decontaminate.py) run by runner.py."""
