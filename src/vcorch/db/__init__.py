"""Database plumbing shared by every package: the declarative base, engines, migrations."""
