"""The language the modules share: event schemas and query ports.

Pure Python: pydantic and the standard library only. Never Django, never a module, never the
framework (import-linter enforces it).
"""
