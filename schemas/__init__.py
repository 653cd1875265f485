"""Schemas and lake paths of every codemill table (see tables.py)."""
from schemas.tables import TABLES, Table, register, table

__all__ = ["TABLES", "Table", "register", "table"]
