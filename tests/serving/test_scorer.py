"""The Scorer: requests that wait are gathered into one model call, each gets
its own answer in order, and a failed call fails every request in it. A fake
Predictor stands in for the SavedModel (no TensorFlow here), and holds each
call until the test lets it go, so what waits is decided, not timed."""

from __future__ import annotations

import asyncio
import threading

import pytest

from serving.scorer import Scorer, top_k

CLASSES = ("cat", "dog", "eye", "map")


class FakePredictor:
    """Scores a drawing (xs, ys, lengths) by its first x: class x % 4 first.

    Each call waits until `release` is set, so that requests pile up behind it.
    """

    max_k = 3

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[int] = []  # drawings per call
        self.started = threading.Event()
        self.release = threading.Event()
        self.fail = fail

    def score(self, drawings, k, batch_size=64):
        self.calls.append(len(drawings))
        self.started.set()
        self.release.wait(timeout=30)
        if self.fail:
            raise RuntimeError("the model broke")
        return [self._result(xs[0], k) for xs, _, _ in drawings]

    @staticmethod
    def _result(x: int, k: int) -> dict:
        order = [CLASSES[(x + i) % len(CLASSES)] for i in range(k)]
        return {"top_k": [{"class": c, "probability": 0.5**i} for i, c in
                          enumerate(order, 1)]}  # fmt: skip


def drawing(x: int) -> tuple[list, list, list[int]]:
    return [x, x + 1], [0, 1], [2]


async def _score_while_blocked(scorer: Scorer, predictor: FakePredictor, requests):
    """Sends the first request, waits until the model holds it, sends the rest,
    then lets the model go: the rest waited together."""
    first = asyncio.create_task(scorer.score(*requests[0]))
    await asyncio.to_thread(predictor.started.wait, 30)
    rest = [asyncio.create_task(scorer.score(*r)) for r in requests[1:]]
    await asyncio.sleep(0)  # one turn of the loop: each queues before it awaits
    predictor.release.set()
    return await asyncio.gather(first, *rest)


def run(predictor: FakePredictor, requests, **settings):
    async def main():
        scorer = Scorer(predictor, **settings)
        try:
            return await _score_while_blocked(scorer, predictor, requests)
        finally:
            await scorer.close()

    return asyncio.run(main())


def test_waiting_requests_share_one_call_and_each_gets_its_own_answer():
    predictor = FakePredictor()
    requests = [([drawing(i), drawing(i + 1)], 2) for i in range(5)]
    answers = run(predictor, requests, threads=1, max_batch=64)
    # The first call held one request; the four that waited went together.
    assert predictor.calls == [2, 8]
    for i, answer in enumerate(answers):
        assert [a["classes"][0] for a in answer] == [
            CLASSES[i % 4],
            CLASSES[(i + 1) % 4],
        ]
        assert all(len(a["classes"]) == len(a["probabilities"]) == 2 for a in answer)


def test_a_gathered_call_holds_at_most_max_batch_drawings():
    predictor = FakePredictor()
    requests = [([drawing(i)] * 3, 1) for i in range(5)]
    run(predictor, requests, threads=1, max_batch=7)
    assert predictor.calls == [3, 6, 6]  # never a request split between calls


def test_without_gathering_every_request_is_its_own_call():
    predictor = FakePredictor()
    requests = [([drawing(i)], 1) for i in range(4)]
    answers = run(predictor, requests, threads=2, gather=False)
    assert predictor.calls == [1, 1, 1, 1]
    assert [a[0]["classes"] for a in answers] == [[c] for c in CLASSES]


def test_a_failed_call_fails_each_request_in_it_and_the_next_call_runs():
    predictor = FakePredictor(fail=True)

    async def main():
        scorer = Scorer(predictor, threads=1)
        try:
            with pytest.raises(RuntimeError, match="the model broke"):
                await _score_while_blocked(
                    scorer, predictor, [([drawing(0)], 1), ([drawing(1)], 1)]
                )
            predictor.fail = False
            return await scorer.score([drawing(2)], 1)
        finally:
            await scorer.close()

    assert asyncio.run(main()) == [{"classes": ["eye"], "probabilities": [0.5]}]


def test_top_k_renames_and_cuts_and_refuses_an_error():
    result = {"top_k": [{"class": "cat", "probability": 0.7},
                        {"class": "dog", "probability": 0.2}]}  # fmt: skip
    assert top_k(result, 1) == {"classes": ["cat"], "probabilities": [0.7]}
    with pytest.raises(RuntimeError, match="refused a checked drawing: bad"):
        top_k({"error": "bad"}, 1)
