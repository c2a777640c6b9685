"""The audit trail verifiable from outside (issue 13): someone who can write Redis rewrites
a record and re-hashes every record after it and the head. The chain still links, so the
old check passed; the signed checkpoint, the Kafka log and the watcher all catch it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from services.audit_notary.handlers import Notary, NotarySettings
from tests.conftest import AUDIT_PUBLIC_KEY, Isolated
from tests.factories import filing
from tests.integration.platform_stack import Stack, platform_stack
from tests.polling import eventually
from zhixing.anchor import load_public_key, write_key_pair
from zhixing.audit import AuditChain, canonical_json, record_hash
from zhixing.audit_check import read_chain, verify, watch
from zhixing.auth import Role
from zhixing.merkle import leaf_hash, verify_consistency, verify_inclusion
from zhixing.state import KeySpace

pytestmark = pytest.mark.integration

EVERY_POLL = NotarySettings(checkpoint_interval_s=0, poll_interval_s=0.1)


def notary_of(stack: Stack) -> Notary:
    assert stack.notary is not None
    notary: Notary = stack.notary.http.state.notary
    return notary


async def a_signed_chain(stack: Stack, isolated: Isolated) -> list[bytes]:
    """File a case, and wait until the notary signed every record the chain holds."""
    async with stack.client(stack.intake) as http:
        filed = await http.post("/v1/cases", json=filing(), headers=stack.headers(Role.CLERK))
        assert filed.status_code == 201, filed.text
    keys = KeySpace(isolated.prefix, "command")
    seen: list[bytes] = []
    quiet = [0]

    async def signed_all_and_quiet() -> bool:
        """Signed up to its end, and no record appended for five looks in a row (the
        simulated clock stands still, so once the filing's work is done nothing follows)."""
        raw = await read_chain(isolated.redis, keys)
        latest = await notary_of(stack).latest()
        quiet[0] = quiet[0] + 1 if len(raw) == len(seen) else 0
        seen[:] = raw
        await asyncio.sleep(0.2)
        signed = latest is not None and latest.size == len(raw)
        return len(raw) >= 3 and signed and quiet[0] >= 5

    await eventually(signed_all_and_quiet)
    return seen


async def rewrite_and_rehash(isolated: Isolated, position: int) -> None:
    """The attack: change one record's content, re-hash it and every record after it, and
    set the head to match, so the chain still links."""
    chain = AuditChain(isolated.redis, KeySpace(isolated.prefix, "command"))
    raw = await read_chain(isolated.redis, KeySpace(isolated.prefix, "command"))
    records = [json.loads(r) for r in raw]
    records[position]["court_code"] = "苏0281"  # moved to another court, quietly
    for index in range(position, len(records)):
        if index:
            records[index]["prev_hash"] = records[index - 1]["hash"]
        records[index]["hash"] = record_hash(records[index])
    async with isolated.redis.pipeline(transaction=True) as pipe:
        pipe.delete(chain.records_key)
        pipe.rpush(chain.records_key, *(canonical_json(r) for r in records))
        pipe.hset(chain.head_key, mapping={"length": len(records), "hash": records[-1]["hash"]})
        await pipe.execute()


async def test_a_rewritten_and_rehashed_chain_is_caught(isolated: Isolated, tmp_path: Path) -> None:
    public_key = load_public_key(AUDIT_PUBLIC_KEY)
    keys = KeySpace(isolated.prefix, "command")
    async with platform_stack(isolated, tmp_path, with_notary=True, notary=EVERY_POLL) as stack:
        await a_signed_chain(stack, isolated)
        state = tmp_path / "watch.json"
        before = await verify(isolated.redis, keys, isolated.kafka, public_key)
        assert before.ok, before.failures
        trusted, alarms = await watch(isolated.redis, keys, isolated.kafka, public_key, state)
        assert alarms == [] and trusted is not None and state.exists()

        await rewrite_and_rehash(isolated, position=1)

        links_only = await verify(isolated.redis, keys, None, None)
        assert links_only.ok  # what `zhixing audit verify` used to check still passes
        after = await verify(isolated.redis, keys, isolated.kafka, public_key)
        assert any(f.startswith("REWRITTEN") for f in after.failures), after.failures
        assert any("record 1 " in f and "court_code" in f for f in after.failures)
        _, alarms = await watch(isolated.redis, keys, isolated.kafka, public_key, state)
        assert any(a.startswith("REWRITTEN") for a in alarms), alarms


async def test_a_truncated_chain_and_a_forged_checkpoint_are_caught(
    isolated: Isolated, tmp_path: Path
) -> None:
    keys = KeySpace(isolated.prefix, "command")
    public_key = load_public_key(AUDIT_PUBLIC_KEY)
    async with platform_stack(isolated, tmp_path, with_notary=True, notary=EVERY_POLL) as stack:
        raw = await a_signed_chain(stack, isolated)
        chain = AuditChain(isolated.redis, keys)
        await isolated.redis.ltrim(chain.records_key, 0, len(raw) - 2)
        last = json.loads(raw[-2])
        await isolated.redis.hset(chain.head_key, mapping={"length": len(raw) - 1,
                                                           "hash": last["hash"]})  # fmt: skip
        report = await verify(isolated.redis, keys, isolated.kafka, public_key)
        assert any(f.startswith("TRUNCATED") for f in report.failures), report.failures

        # A key that is not the notary's: its checkpoints are not believed.
        write_key_pair(tmp_path / "other.pem", tmp_path / "other-public.pem")
        other = load_public_key(tmp_path / "other-public.pem")
        forged = await verify(isolated.redis, keys, isolated.kafka, other)
        assert any(f.startswith("FORGED") for f in forged.failures)


async def test_an_overseer_proves_one_record_without_the_whole_chain(
    isolated: Isolated, tmp_path: Path
) -> None:
    async with platform_stack(isolated, tmp_path, with_notary=True, notary=EVERY_POLL) as stack:
        raw = await a_signed_chain(stack, isolated)
        assert stack.notary is not None
        overseer = stack.headers(Role.OVERSEER, "苏12")
        async with stack.client(stack.notary) as http:
            checkpoint = (await http.get("/v1/audit/checkpoint", headers=overseer)).json()
            proof = (await http.get("/v1/audit/records/1/proof", headers=overseer)).json()
            grown = (await http.get("/v1/audit/consistency", params={"from": 1},
                                    headers=overseer)).json()  # fmt: skip
            beyond = await http.get(f"/v1/audit/records/{len(raw) + 5}/proof", headers=overseer)
            assert beyond.status_code == 404
            agency = stack.headers(Role.AGENCY, "苏1283")
            assert (await http.get("/v1/audit/checkpoint", headers=agency)).status_code == 403
        # The overseer holds record 1 (from the timeline, say) and the signed root.
        assert leaf_hash(raw[1]).hex() == proof["leaf_hash"]
        assert proof["root"] == checkpoint["root"]
        assert verify_inclusion(
            leaf_hash(raw[1]), 1, checkpoint["size"], [bytes.fromhex(h) for h in proof["proof"]],
            bytes.fromhex(checkpoint["root"]),
        )  # fmt: skip
        assert verify_consistency(
            1, grown["to"], bytes.fromhex(grown["from_root"]), bytes.fromhex(grown["to_root"]),
            [bytes.fromhex(h) for h in grown["proof"]],
        )  # fmt: skip
