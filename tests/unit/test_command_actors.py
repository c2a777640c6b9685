"""A timeline's actors in Chinese (issue 18): every service actor id the code acts under has
a Chinese name, and a person is shown by name and post."""

from __future__ import annotations

import re
from pathlib import Path

from services.command.actors import SERVICE_NAMES, actor_name

ROOT = Path(__file__).resolve().parents[2]
# A service's actor (id="svc:…") or credential (issue_service("…")) in the code.
ACTOR_ID = re.compile(r"""id="(svc:[\w/]+)\"""")


def service_actor_ids() -> set[str]:
    found = set()
    for path in (ROOT / "services").rglob("*.py"):
        found.update(ACTOR_ID.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_service_actor_in_the_code_has_a_chinese_name() -> None:
    ids = service_actor_ids()
    assert {"svc:deadlines", "svc:intake/triage", "svc:funds"} <= ids  # the search works
    for actor in sorted(ids):
        name = actor_name(actor)
        assert actor.split("/")[0] in SERVICE_NAMES, actor
        assert re.fullmatch(r"[\u4e00-\u9fff（）]+", name), (actor, name)
    # Every service's own credential (svc:<its name>) too.
    for service in (p.name for p in (ROOT / "services").iterdir() if (p / "bootstrap.py").exists()):
        assert f"svc:{service}" in SERVICE_NAMES, service


def test_actors_are_shown_by_service_name_or_by_name_and_post() -> None:
    assert actor_name("svc:deadlines") == "节点期限管理系统"
    assert actor_name("svc:intake/triage") == "立案系统（繁简分流）"
    assert actor_name("svc:command/deadlines") == "执行指挥中心系统（期限管理）"
    assert actor_name("svc:unknown") == "平台服务"
    assert actor_name("执行员 张某", "officer", "苏1283") == "执行员 张某（泰兴市人民法院 执行员）"
    assert actor_name("王某", "command", "苏12") == "王某（泰州市中级人民法院 指挥中心）"
    assert actor_name("李某") == "李某"
