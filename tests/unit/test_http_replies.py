"""Every service's replies encode whatever the client sent: a refusal quoting the input
never fails to encode it (a 500 for a 422)."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel, Field

from tests.factories import START
from tests.fakes import in_memory_context
from zhixing.clock import SimulatedClock
from zhixing.errors import Invalid, error_response
from zhixing.service import create_http_app

LONE_SURROGATE_BODY = b'{"payer": "\\ud800", "amount_fen": "many"}'


class Receipt(BaseModel):
    payer: str = Field(max_length=10)
    amount_fen: int


def app_taking_receipts() -> httpx.AsyncClient:
    app = create_http_app(in_memory_context("funds", SimulatedClock(START)), title="unit",
                          description="unit")  # fmt: skip
    router = APIRouter()

    @router.post("/receipts")
    async def receive(receipt: Receipt) -> dict[str, str]:
        return {"payer": receipt.payer}

    app.include_router(router)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://unit")


async def test_a_lone_surrogate_is_refused_naming_its_field_not_a_500() -> None:
    async with app_taking_receipts() as client:
        invalid = await client.post(
            "/receipts", content=LONE_SURROGATE_BODY,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        assert invalid.status_code == 422, invalid.text
        [error] = json.loads(invalid.content)["detail"]
        assert error["loc"] == ["body", "payer"] and "U+D800" in error["msg"]
        assert "lone surrogate" in error["msg"]


@pytest.mark.parametrize(("body", "loc", "char"), [
    (b'{"payer": "\\\\u0001 ok", "amount_fen": 1, "tags": ["a", "b\\u000b"]}',
     ["body", "tags", 1], "U+000B"),
    (b'{"payer": "x", "amount_fen": 1, "party": {"name": "\\u0000"}}',
     ["body", "party", "name"], "U+0000"),
    (b'{"payer": "x\\u007f", "amount_fen": 1}', ["body", "payer"], "U+007F"),
    ('{"payer": "x\u0085", "amount_fen": 1}'.encode(), ["body", "payer"], "U+0085"),  # raw C1
    (b'{"payer": "x", "amount_fen": 1, "\\u0007": 1}', ["body", "\u0007"], "U+0007"),
])  # fmt: skip
async def test_a_control_character_anywhere_in_a_body_is_refused_naming_where(
    body: bytes, loc: list[object], char: str
) -> None:
    """Before the route runs: a spreadsheet, an SMS or an event never holds one."""
    async with app_taking_receipts() as client:
        refused = await client.post("/receipts", content=body,
                                    headers={"Content-Type": "application/json"})  # fmt: skip
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["detail"]
        assert error["loc"] == loc and char in error["msg"]


async def test_tabs_line_breaks_and_an_escaped_backslash_are_text() -> None:
    async with app_taking_receipts() as client:
        body = b'{"payer": "a\\tb\\n\\\\u0001", "amount_fen": 1}'  # the text \u0001
        taken = await client.post("/receipts", content=body,
                                  headers={"Content-Type": "application/json"})  # fmt: skip
        assert taken.status_code == 200, taken.text
        assert taken.json() == {"payer": "a\tb\n\\u0001"}


def test_a_command_s_refusal_quoting_a_lone_surrogate_encodes() -> None:
    refused = error_response(Invalid("payer \ud800 unknown", loc=("body", "payer")))
    assert refused.status_code == 422
    assert json.loads(bytes(refused.body))["detail"][0]["msg"] == "payer \ud800 unknown"


async def test_a_refusal_in_chinese_is_written_as_utf8_as_before() -> None:
    async with app_taking_receipts() as client:
        too_long = "张三" * 6
        refused = await client.post("/receipts", json={"payer": too_long, "amount_fen": 1})
        assert refused.status_code == 422
        assert too_long.encode() in refused.content  # not escaped: only what UTF-8 cannot hold


async def test_json_nested_past_the_parsers_depth_with_an_escape_is_no_500() -> None:
    """The check parses a body that may hold a control character: nested too deep for the
    parser, the route's own parsing answers (4xx), and at the parser's depth the walk is no
    recursion."""
    async with app_taking_receipts() as client:
        for depth in (100_000, 900):
            body = b'{"payer": "x", "amount_fen": 1, "deep": ' + b"[" * depth + b'"\\u0001"'
            body += b"]" * depth + b"}"
            answer = await client.post("/receipts", content=body,
                                       headers={"Content-Type": "application/json"})  # fmt: skip
            assert 400 <= answer.status_code < 500, (depth, answer.status_code)
