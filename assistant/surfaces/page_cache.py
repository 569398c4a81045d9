"""Rendered PDF pages kept in memory, least recently used first out, within a byte budget.

Takes a key (the file, its size and modification time, the page, the width) and a function that
renders; gives the PNG bytes, rendering only on a miss, so paging back and forth through a manual
answers from memory. The budget counts the PNGs' bytes (a text page ~70–200 KB at 1,600 px).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable


class PageCache:
    """An LRU of PNG bytes whose total never exceeds `max_bytes` (a larger image is not kept)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, render: Callable[[], bytes]) -> bytes:
        """The cached image for `key`, or `render()`'s, kept for next time. Rendering runs outside
        the lock: two requests for one new page may both render it, none waits for another page."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        image = render()
        self._put(key, image)
        return image

    def _put(self, key: Hashable, image: bytes) -> None:
        if len(image) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self.bytes -= len(old) if old is not None else 0
            self._items[key] = image
            self.bytes += len(image)
            while self.bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._items)
