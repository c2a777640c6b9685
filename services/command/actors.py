"""Who did it, in Chinese: the actor of an event as a reader of a case's timeline sees it.

A platform service acts under its service id (``svc:<name>``, or ``svc:<name>/<part>`` for a
part of it: every service's ``*_ACTOR`` and ``TokenAuthority.issue_service``); it is shown by
its Chinese name. A person acts under the subject of their token (a name, such as 执行员 张某)
and is shown by that name and their post: the court and the role the token gave them.
"""

from __future__ import annotations

from zhixing.auth import Role
from zhixing.courts import court_name

# Every service actor id (``svc:<name>``) → its Chinese name. A part of a service
# (``svc:intake/triage``) adds its own name in brackets when it has one, else shows as its
# service.
SERVICE_NAMES: dict[str, str] = {
    "svc:intake": "立案系统",
    "svc:asset_control": "财产查控系统",
    "svc:funds": "案款管理系统",
    "svc:deadlines": "节点期限管理系统",
    "svc:command": "执行指挥中心系统",
    "svc:credit": "信用惩戒系统",
    "svc:supervision": "督办监管系统",
    "svc:entrustment": "委托执行系统",
    "svc:dispute_coordinator": "执行争议协调系统",
    "svc:notification": "送达通知系统",
    "svc:audit_notary": "审计存证系统",
    "svc:agency_gateway": "协助执行单位网关",
}
PART_NAMES: dict[str, str] = {
    "triage": "繁简分流",
    "deadlines": "期限管理",
}

# Every role (zhixing.auth.Role), as a post.
ROLE_NAMES: dict[str, str] = {
    Role.CLERK: "立案人员",
    Role.OFFICER: "执行员",
    Role.COMMAND: "指挥中心",
    Role.LEADER: "院领导",
    Role.PRESIDENT: "院长",
    Role.SUPERVISOR: "专人监管",
    Role.FINANCE: "财务",
    Role.COORDINATOR: "争议协调人",
    Role.OVERSEER: "检察监督",
    Role.DISCIPLINE: "纪检监察",
    Role.AGENCY: "协助执行单位",
    Role.SERVICE: "平台服务",
}


def service_name(actor_id: str) -> str | None:
    """The Chinese name of a service actor id; None for a person's."""
    if not actor_id.startswith("svc:"):
        return None
    if actor_id in SERVICE_NAMES:
        return SERVICE_NAMES[actor_id]
    service, _, part = actor_id.partition("/")
    name = SERVICE_NAMES.get(service, "平台服务")
    shown_part = PART_NAMES.get(part.rsplit("/", 1)[-1]) if part else None
    return f"{name}（{shown_part}）" if shown_part else name


def actor_name(actor_id: str, role: str = "", court_code: str = "") -> str:
    """The actor as shown: a service by its Chinese name; a person by name and post
    (执行员 张某（泰兴市人民法院 执行员）)."""
    service = service_name(actor_id)
    if service is not None:
        return service
    post = []
    if court_code:
        post.append(court_name(court_code))
    if role:
        post.append(ROLE_NAMES.get(role, role))
    name = actor_id or "未知人员"
    return f"{name}（{' '.join(post)}）" if post else name
