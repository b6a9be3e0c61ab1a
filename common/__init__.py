"""Helpers below every room: run-directory I/O (atomic writes, hashes, versions, commit, saved configs)."""
