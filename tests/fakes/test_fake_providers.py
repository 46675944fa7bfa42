"""The fake providers speak the real wire formats: checked with the real SDK clients."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    RunConfig,
    Runner,
    TResponseInputItem,
    function_tool,
)
from agents.models.interface import Model
from openai import AsyncOpenAI, BadRequestError

from tests.fakes import (
    FAIL_MARKER,
    FakeChatCompletionsServer,
    FakeResponsesServer,
    call_marker,
    reply_for,
    tool_reply,
)

_RESPONSES_STREAM_TYPES = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def _client(base_url: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=base_url, api_key="test", max_retries=0)


async def _two_turns(model: Model) -> list[str]:
    """Run two turns through the Agents SDK, the second with the first's history."""
    agent = Agent(name="echo", instructions="Echo.", model=model, model_settings=ModelSettings())
    history: list[TResponseInputItem] = []
    outputs = []
    for text in ("first question", "second question"):
        history.append({"role": "user", "content": text})
        result = Runner.run_streamed(agent, history, run_config=RunConfig(tracing_disabled=True))
        deltas = [
            event.data.delta
            async for event in result.stream_events()
            if event.type == "raw_response_event"
            and event.data.type == "response.output_text.delta"
        ]
        assert len(deltas) > 1
        assert "".join(deltas) == result.final_output
        outputs.append(str(result.final_output))
        history = result.to_input_list()
    return outputs


def test_responses_stream_with_openai_client() -> None:
    async def scenario(fake: FakeResponsesServer) -> None:
        stream = await _client(fake.base_url).responses.create(
            model="gpt-test", input="hello there", stream=True
        )
        events = [event async for event in stream]
        types = [event.type for event in events if event.type != "response.output_text.delta"]
        deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
        assert types == _RESPONSES_STREAM_TYPES
        assert len(deltas) == 3
        assert "".join(deltas) == reply_for("hello there")
        completed = events[-1]
        assert completed.type == "response.completed"
        assert completed.response.output_text == reply_for("hello there")
        assert [e.sequence_number for e in events] == list(range(len(events)))

    with FakeResponsesServer() as fake:
        asyncio.run(scenario(fake))
        assert fake.requests[0]["input"] == "hello there"


def test_responses_non_stream_and_unique_message_ids() -> None:
    async def scenario(fake: FakeResponsesServer) -> list[Any]:
        client = _client(fake.base_url)
        return [
            await client.responses.create(
                model="gpt-test",
                input=[{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
            )
            for _ in range(2)
        ]

    with FakeResponsesServer() as fake:
        first, second = asyncio.run(scenario(fake))
    assert first.output_text == reply_for("hi")
    assert first.output[0].id.startswith("msg_")
    assert first.output[0].id != second.output[0].id


def test_responses_with_agents_sdk_two_turns() -> None:
    with FakeResponsesServer() as fake:
        model = OpenAIResponsesModel(model="gpt-test", openai_client=_client(fake.base_url))
        outputs = asyncio.run(_two_turns(model))
    assert outputs == [reply_for("first question"), reply_for("second question")]
    assert len(fake.requests) == 2
    history = fake.requests[1]["input"]
    assert history[0]["content"] == "first question"
    assert history[1]["role"] == "assistant"
    assert history[1]["content"][0]["text"] == reply_for("first question")
    assert history[-1]["content"] == "second question"


def test_chat_completions_stream_with_openai_client() -> None:
    async def scenario(fake: FakeChatCompletionsServer) -> list[Any]:
        stream = await _client(fake.base_url).chat.completions.create(
            model="gemini-test",
            messages=[{"role": "user", "content": "hello there"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        return [chunk async for chunk in stream]

    with FakeChatCompletionsServer() as fake:
        chunks = asyncio.run(scenario(fake))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reply_for("hello there")
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 15


def test_chat_completions_non_stream() -> None:
    async def scenario(fake: FakeChatCompletionsServer) -> Any:
        return await _client(fake.base_url).chat.completions.create(
            model="gemini-test",
            messages=[{"role": "user", "content": [{"type": "text", "text": "hey"}]}],
        )

    with FakeChatCompletionsServer() as fake:
        completion = asyncio.run(scenario(fake))
    assert completion.choices[0].message.content == reply_for("hey")


def test_chat_completions_with_agents_sdk_two_turns() -> None:
    with FakeChatCompletionsServer() as fake:
        model = OpenAIChatCompletionsModel(
            model="gemini-test", openai_client=_client(fake.base_url)
        )
        outputs = asyncio.run(_two_turns(model))
    assert outputs == [reply_for("first question"), reply_for("second question")]
    messages = fake.requests[1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == reply_for("first question")


@pytest.mark.parametrize("fake_class", [FakeResponsesServer, FakeChatCompletionsServer])
def test_fail_marker_gives_a_provider_error(
    fake_class: type[FakeResponsesServer] | type[FakeChatCompletionsServer],
) -> None:
    async def scenario(base_url: str) -> None:
        client = _client(base_url)
        if fake_class is FakeResponsesServer:
            await client.responses.create(model="m", input=f"please {FAIL_MARKER}")
        else:
            await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": f"please {FAIL_MARKER}"}]
            )

    with fake_class() as fake, pytest.raises(BadRequestError):
        asyncio.run(scenario(fake.base_url))


def test_stop_releases_the_port() -> None:
    fake = FakeResponsesServer()
    with fake:
        port = fake.port
        assert port > 0
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    with pytest.raises(RuntimeError):
        _ = fake.url


@pytest.mark.parametrize("fake_class", [FakeResponsesServer, FakeChatCompletionsServer])
def test_the_fakes_call_a_tool_when_asked_then_answer_its_output(
    fake_class: type[FakeResponsesServer] | type[FakeChatCompletionsServer],
) -> None:
    seen: list[str] = []

    @function_tool
    def save_note(text: str) -> str:
        """Save a note."""
        seen.append(text)
        return f"saved {text}"

    async def scenario(fake: FakeResponsesServer | FakeChatCompletionsServer) -> str:
        model: Model
        if isinstance(fake, FakeResponsesServer):
            model = OpenAIResponsesModel("gpt-test", _client(fake.base_url))
        else:
            model = OpenAIChatCompletionsModel("fake-model", _client(fake.base_url))
        agent = Agent(name="notes", instructions="Take notes.", model=model, tools=[save_note])
        question = f"Note it {call_marker('save_note', {'text': 'milk'})}"
        result = Runner.run_streamed(agent, question, run_config=RunConfig(tracing_disabled=True))
        async for _ in result.stream_events():
            pass
        return str(result.final_output)

    with fake_class() as fake:
        answer = asyncio.run(scenario(fake))
    assert seen == ["milk"]
    assert answer == tool_reply("saved milk")
    assert len(fake.requests) == 2


def test_the_fakes_never_call_a_tool_the_request_does_not_offer() -> None:
    async def scenario(fake: FakeResponsesServer) -> str:
        response = await _client(fake.base_url).responses.create(
            model="gpt-test", input=f"Hi {call_marker('save_note')}"
        )
        return response.output_text

    with FakeResponsesServer() as fake:
        assert asyncio.run(scenario(fake)) == reply_for(f"Hi {call_marker('save_note')}")
