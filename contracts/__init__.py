"""The language the modules share: event schemas and query ports.

Pure Python: pydantic, the standard library and the framework's pydantic-only bases
(`modulith.contracts`: `Event`, `ContractModel`, the port errors). Never Django, never a
module, never the rest of the framework (import-linter enforces it).
"""
