"""Password and client-secret hashing with argon2id, off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class SecretHasher:
    def __init__(self, time_cost: int = 3, memory_kib: int = 65_536) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        # Verifying against this when the account does not exist keeps the timing the same.
        self._decoy = self._hasher.hash("decoy password that matches nothing")

    def hash_sync(self, secret: str) -> str:
        return self._hasher.hash(secret)

    async def hash(self, secret: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, secret)

    def _verify(self, hashed: str | None, secret: str) -> bool:
        try:
            return self._hasher.verify(hashed or self._decoy, secret) and hashed is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, hashed: str | None, secret: str) -> bool:
        return await asyncio.to_thread(self._verify, hashed, secret)
