"""Alembic migrations, shipped inside the package so that an installed vcorch can migrate."""
