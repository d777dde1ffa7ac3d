"""The three digests the index keeps for every distribution (md5, sha256, blake2b-256), fed
chunk by chunk as bytes arrive: the one hashing rule for uploads, imports and verification."""

from __future__ import annotations

import hashlib
from typing import IO

CHUNK = 1024 * 1024


class Digests:
    def __init__(self) -> None:
        self.size = 0
        self._hashers = {
            "md5": hashlib.md5(usedforsecurity=False),
            "sha256": hashlib.sha256(),
            "blake2_256": hashlib.blake2b(digest_size=32),
        }

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        for hasher in self._hashers.values():
            hasher.update(chunk)

    def hexdigests(self) -> dict[str, str]:
        """{"md5": ..., "sha256": ..., "blake2_256": ...}, the names File's columns use."""
        return {name: hasher.hexdigest() for name, hasher in self._hashers.items()}


def digests_of_stream(handle: IO[bytes]) -> Digests:
    """Read `handle` to its end in chunks."""
    digests = Digests()
    while chunk := handle.read(CHUNK):
        digests.update(chunk)
    return digests
