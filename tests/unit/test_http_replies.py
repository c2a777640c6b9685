"""Every service's replies encode whatever the client sent: a refusal quoting the input
never fails to encode it (a 500 for a 422)."""

from __future__ import annotations

import json

import httpx
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


async def test_a_refusal_quoting_a_lone_surrogate_is_a_422_not_a_500() -> None:
    async with app_taking_receipts() as client:
        invalid = await client.post(
            "/receipts", content=LONE_SURROGATE_BODY,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        assert invalid.status_code == 422, invalid.text
        errors = json.loads(invalid.content)["detail"]  # JSON, the surrogate escaped
        assert [(e["loc"], e["input"]) for e in errors] == [
            (["body", "payer"], "\ud800"), (["body", "amount_fen"], "many")
        ]  # fmt: skip


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
