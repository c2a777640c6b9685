"""Lines of Chinese for the supervision events a case's timeline shows: petitions (信访)
naming the case, and the interference register's records (干预过问案件登记), which only the
command centre and discipline inspection are shown (``services.command.timelines``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from zhixing.clock import CHINA_TZ

MANNERS = {
    "phone": "电话", "visit": "当面", "letter": "信函", "message": "短信或网络消息",
    "in_meeting": "会议中", "other": "其他方式",
}  # fmt: skip
PETITION_CHANNELS = {
    "visit": "来访", "letter": "来信", "phone": "来电", "online": "网上信访",
    "hotline_12368": "12368热线",
}  # fmt: skip
REPLY_CHANNELS = {
    "letter": "书面", "visit": "当面", "phone": "电话", "online": "网上", "sms": "短信",
}  # fmt: skip
PETITIONER_ROLES = {
    "applicant": "申请执行人", "debtor": "被执行人", "third_party": "案外人", "other": "其他人",
}  # fmt: skip


def _at(stamp: str) -> str:
    """An RFC 3339 instant (a Timestamp in its JSON form) as China time."""
    try:
        instant = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return instant.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def interference_line(p: dict[str, Any]) -> str:
    who = p.get("person_name", "")
    post = "".join(x for x in (p.get("person_organisation", ""), p.get("person_position", "")))
    side = "院内" if p.get("inside_court") else "院外"
    line = (
        f"{who}（{post + '，' if post else ''}{side}）于{_at(p.get('occurred_at', ''))}"
        f"以{MANNERS.get(p.get('manner', ''), p.get('manner', ''))}方式过问：{p.get('content', '')}"
        f"；处理情况：{p.get('handling', '') or '未填写'}"
    )
    if p.get("corrects_record_id"):
        line = f"【更正记录，更正 {p['corrects_record_id']}】" + line
    return f"{line}（登记人 {p.get('recorded_by', '')}）"


def petition_line(event: str, p: dict[str, Any]) -> str:
    if event == "PetitionReceived":
        channel = PETITION_CHANNELS.get(p.get("channel", ""), p.get("channel", ""))
        role = PETITIONER_ROLES.get(p.get("petitioner_role", ""), "")
        return (
            f"{p.get('received_on', '')}收到{channel}，信访人{p.get('petitioner_name', '')}"
            f"{'（' + role + '）' if role else ''}：{p.get('summary', '')}"
        )
    if event == "PetitionRegistered":
        counts = [int(c) for c in p.get("repeat_counts", [])]
        repeat = f"；涉案信访累计 {max(counts)} 件" if counts and max(counts) > 1 else ""
        return f"信访已登记，承办人 {p.get('handler', '') or '未指定'}{repeat}"
    if event == "PetitionAnswered":
        channel = REPLY_CHANNELS.get(p.get("reply_channel", ""), p.get("reply_channel", ""))
        return f"{p.get('replied_on', '')}{channel}答复信访人：{p.get('reply', '')}"
    return ""


def supervision_line(event: str, payload: dict[str, Any]) -> str:
    if event == "InterferenceRecorded":
        return interference_line(payload)
    return petition_line(event, payload)
