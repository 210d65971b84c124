"""Scores checked drawings with the exported model, off the event loop.

`serving.predict.Predictor.score` hands the drawings to the SavedModel as
numbers. TensorFlow releases the GIL while it computes, so calls run in a
thread pool and the event loop keeps accepting and answering requests
meanwhile.

Gathering: while one model call runs, the requests that arrive wait in a
queue; the next call takes all of them (up to `max_batch` drawings) in one
batch. Nothing waits for a batch to fill, so a lone request is not delayed,
and under load one call serves many requests, which costs less per drawing
than many small calls (bench/README.md, "Serving"). `gather=False` gives
every request its own call, `threads` at a time.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by the caller: TensorFlow loads in main, not here
    from serving.predict import Points, Predictor


@dataclasses.dataclass
class _Pending:
    drawings: Sequence[Points]
    future: asyncio.Future


def top_k(result: dict, k: int) -> dict:
    """A Predictor result -> TF Serving's output names, the first k classes."""
    if "error" in result:  # the checks before scoring make this a server bug
        raise RuntimeError(f"the model refused a checked drawing: {result['error']}")
    best = result["top_k"][:k]
    return {
        "classes": [c["class"] for c in best],
        "probabilities": [c["probability"] for c in best],
    }


class Scorer:
    """`await scorer.score(drawings, k)`: one `{"classes", "probabilities"}` each.

    Create it inside the running event loop (it starts its gathering tasks),
    and `await close()` when done.
    """

    def __init__(
        self,
        predictor: Predictor,
        threads: int = 2,
        gather: bool = True,
        max_batch: int = 64,
    ) -> None:
        self.predictor = predictor
        self.max_k = predictor.max_k
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="model")
        self._gather = gather
        self._max_batch = max_batch
        self._waiting: collections.deque[_Pending] = collections.deque()
        self._arrived = asyncio.Event()
        self._tasks = (
            [asyncio.create_task(self._gatherer()) for _ in range(threads)]
            if gather
            else []
        )

    def _predict(self, drawings: Sequence[Points]) -> list[dict]:
        return self.predictor.score(drawings, self.max_k, self._max_batch)

    async def score(self, drawings: Sequence[Points], k: int) -> list[dict]:
        """Top-k classes of each (already checked) drawing, in order."""
        loop = asyncio.get_running_loop()
        if self._gather:
            future = loop.create_future()
            self._waiting.append(_Pending(drawings, future))
            self._arrived.set()
            results = await future
        else:
            results = await loop.run_in_executor(
                self._executor, self._predict, drawings
            )
        return [top_k(r, k) for r in results]

    async def _gatherer(self) -> None:
        """Takes everything waiting (up to max_batch drawings) into one call."""
        loop = asyncio.get_running_loop()
        while True:
            while not self._waiting:
                self._arrived.clear()
                await self._arrived.wait()
            batch = [self._waiting.popleft()]
            size = len(batch[0].drawings)
            while (
                self._waiting
                and size + len(self._waiting[0].drawings) <= self._max_batch
            ):
                batch.append(self._waiting.popleft())
                size += len(batch[-1].drawings)
            drawings = [d for p in batch for d in p.drawings]
            try:
                results = await loop.run_in_executor(
                    self._executor, self._predict, drawings
                )
            except Exception as err:  # handed to every waiter
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(err)
                continue
            start = 0
            for p in batch:
                if not p.future.done():  # its client may have gone
                    p.future.set_result(results[start : start + len(p.drawings)])
                start += len(p.drawings)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._executor.shutdown(wait=True)
