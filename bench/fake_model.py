"""The model every backend of the bench talks to: a fake OpenAI Responses API with known timing.

It streams the same SSE events as the tests' fake (``tests/fakes/openai_responses.py``), for a
fixed reply of ``tokens`` word-sized deltas: the first delta ``first_token_ms`` after the request,
each later one ``token_ms`` after the previous one. So the model's own time of a turn is known
(``Timing.model_seconds``), and the bench subtracts it from the turn time it measures.

On a loaded machine the sleeps run late, so the fake also records, per request, when it really
sent its first and last delta (seconds after the request arrived), keyed by the text of the last
user message; ``GET /timings`` returns those records and forgets them.

Run it as its own process (``python -m bench.fake_model --port 8123``), so that its CPU time is
neither the client's nor a server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.echo import last_user_text, text_deltas
from tests.fakes.openai_responses import _stream_events

_WORDS = "The quick brown fox jumps over the lazy dog while the bench counts every token. "


@dataclass(frozen=True)
class Timing:
    """How the fake model streams: when its deltas come and how many there are."""

    first_token_ms: float = 20.0
    token_ms: float = 5.0
    tokens: int = 24

    @property
    def reply(self) -> str:
        words = (_WORDS * (self.tokens // 10 + 1)).split()[: self.tokens]
        return " ".join(words)

    @property
    def model_seconds(self) -> float:
        """The model's own time from request to last delta, which no backend can save."""
        return (self.first_token_ms + (self.tokens - 1) * self.token_ms) / 1000

    @property
    def first_token_seconds(self) -> float:
        return self.first_token_ms / 1000


async def _timed_sse(
    events: list[dict[str, Any]], timing: Timing, record: list[float]
) -> AsyncIterator[bytes]:
    """The events, each delta after its delay; ``record`` gets [arrival, first, last] times."""
    deltas_sent = 0
    for event in events:
        is_delta = event["type"] == "response.output_text.delta"
        if is_delta:
            wait = timing.first_token_ms if deltas_sent == 0 else timing.token_ms
            await asyncio.sleep(wait / 1000)
            deltas_sent += 1
        yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
        if is_delta:
            record.append(time.perf_counter())


def create_app(timing: Timing) -> Starlette:
    """The fake API: ``POST /v1/responses`` (streaming only), ``GET /timings``, ``GET /health``."""
    reply = timing.reply
    if len(text_deltas(reply)) != timing.tokens:
        raise ValueError(f"the reply does not split into {timing.tokens} deltas")
    records: dict[str, list[float]] = {}

    async def responses(request: Request) -> Response:
        body = await request.json()
        if not body.get("stream"):
            # Titles are the only non-streamed calls, and the bench's threads have titles.
            error = {"message": "The bench's fake model only streams.", "type": "bench"}
            return JSONResponse({"error": error}, status_code=400)
        record = records.setdefault(last_user_text(body.get("input")), [])
        record[:] = [time.perf_counter()]
        events = _stream_events(body, reply)
        stream = _timed_sse(events, timing, record)
        return StreamingResponse(stream, media_type="text/event-stream")

    async def timings(request: Request) -> Response:
        """``{user text: [first delta, last delta]}`` in seconds after arrival; then forgets."""
        done = {
            text: [times[1] - times[0], times[-1] - times[0]]
            for text, times in records.items()
            if len(times) > 1
        }
        records.clear()
        return JSONResponse(done)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/v1/responses", responses, methods=["POST"]),
            Route("/timings", timings, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--first-token-ms", type=float, default=Timing.first_token_ms)
    parser.add_argument("--token-ms", type=float, default=Timing.token_ms)
    parser.add_argument("--tokens", type=int, default=Timing.tokens)
    args = parser.parse_args()
    timing = Timing(args.first_token_ms, args.token_ms, args.tokens)
    uvicorn.run(
        create_app(timing),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        backlog=4096,
    )


if __name__ == "__main__":
    main()
