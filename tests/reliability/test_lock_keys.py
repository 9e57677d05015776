"""Every PostgreSQL advisory lock vcorch takes has a key of its own.

The scheduler leader holds its lock for as long as it leads; when it shared its key with
the booking lock, every booking in a PostgreSQL deployment waited for ever.  Keys are
module constants named ``*_LOCK_KEY``; every module is imported, so new ones are covered.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import defaultdict
from pathlib import Path

import vcorch


def test_advisory_lock_keys_are_distinct() -> None:
    owners: defaultdict[int, list[str]] = defaultdict(list)
    for info in pkgutil.walk_packages(vcorch.__path__, prefix="vcorch."):
        if ".migrations." in info.name or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        source = Path(str(module.__file__)).read_text(encoding="utf-8")
        # Constants the module defines itself (not ones it imports from another).
        for name in re.findall(r"^([A-Z_]*LOCK_KEY)\s*[:=]", source, flags=re.MULTILINE):
            value = getattr(module, name)
            assert isinstance(value, int), name
            owners[value].append(f"{info.name}.{name}")
    assert len(owners) >= 3, owners  # migrations, bookings and the leader at least
    shared = {key: names for key, names in owners.items() if len(names) > 1}
    assert not shared, shared
