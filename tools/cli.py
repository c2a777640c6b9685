"""The ``zhixing`` command: tools for people and scripts.

zhixing token --court 苏1283 --role clerk     a dev token
zhixing audit verify                          check the audit hash chain
zhixing run                                   the whole platform (what `make run` calls)
zhixing kafka-jars                            fetch the Kafka broker jars
zhixing funds reconcile --court 苏12           prove every case's money balances
zhixing bulletin --court 苏12 --week 2026-W48  the jurisdiction's weekly bulletin (通报)
zhixing outbox parked --service intake        what a service's outbox relay set aside
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console

from zhixing.auth import Role, TokenAuthority
from zhixing.clock import CHINA_TZ, SystemClock
from zhixing.courts import CourtDirectory, CourtFileError, UnknownCourtCode, directory
from zhixing.periods import Due, PeriodCounter, Unit
from zhixing.settings import AuthSettings, RedisSettings
from zhixing.workcalendar import CalendarError, StatutoryCalendar

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from zhixing.outbox import Outbox
    from zhixing.state import KeySpace

T = TypeVar("T")

app = typer.Typer(help="Zhixing Command (执行指挥平台) tools.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail (留痕).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
calendar_app = typer.Typer(help="The statutory calendar and period counting.", no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")

err = Console(stderr=True)

UNREACHABLE = 3
"""The exit status of a command that could not reach Redis or Kafka (2 is bad input)."""


def _run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; Redis or Kafka out of reach is said in one line (which,
    and where it is configured) and exits ``UNREACHABLE``, not a traceback."""
    from aiokafka.errors import KafkaConnectionError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    try:
        return asyncio.run(main)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        said = f"Redis is not reachable (ZHIXING_REDIS_URL): {exc}"
    except KafkaConnectionError as exc:
        said = f"Kafka is not reachable (ZHIXING_KAFKA_BOOTSTRAP_SERVERS): {exc}"
    typer.echo(f"error: {said}", err=True)  # one line, whatever the terminal's width
    raise typer.Exit(UNREACHABLE)


def _on_redis(service: str, act: Callable[[Redis, KeySpace], Awaitable[T]]) -> T:
    """``act`` on ``service``'s keys in the Redis the services use (ZHIXING_REDIS_*), its
    client closed after; Redis or Kafka out of reach exits ``UNREACHABLE``."""
    from zhixing.state import KeySpace, connect

    settings = RedisSettings()

    async def run() -> T:
        redis = connect(settings)
        try:
            return await act(redis, KeySpace(settings.key_prefix, service))
        finally:
            await redis.aclose()

    return _run_async(run())


@app.command()
def token(
    court: Annotated[str, typer.Option(help="Court code, e.g. 苏1283")],
    role: Annotated[Role, typer.Option(help="Role the token grants (a person's role)")],
    subject: Annotated[str, typer.Option(help="Who the token names (pages show it)")] = "值班员",
    hours: Annotated[float, typer.Option(min=0.01, help="Lifetime in hours")] = 8.0,
) -> None:
    """Print a person's signed token (with ZHIXING_AUTH_SECRET, or the dev default).

    Service credentials are never minted here: each service signs its own with
    ZHIXING_AUTH_SERVICE_SECRET, a key people's tools do not hold."""
    authority = TokenAuthority(AuthSettings(), SystemClock())
    if role is Role.SERVICE:
        err.print("error: the service role belongs to platform services, not to a person")
        raise typer.Exit(2)
    try:
        issued = authority.issue(
            subject=subject, court_code=court, role=role, ttl=timedelta(hours=hours)
        )
    except UnknownCourtCode as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None
    typer.echo(issued)


PublicKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--public-key",
        help="The audit notary's public key (PEM); default ZHIXING_AUDIT_PUBLIC_KEY_FILE, "
        "else .data/keys/audit-public.pem if it exists",
    ),
]


def _public_key(path: Path | None) -> Ed25519PublicKey | None:
    from zhixing.anchor import load_public_key

    chosen = path or Path(
        os.environ.get("ZHIXING_AUDIT_PUBLIC_KEY_FILE", ".data/keys/audit-public.pem")
    )
    if not chosen.exists():
        if path is not None:
            err.print(f"error: no public key at {path}")
            raise typer.Exit(2)
        return None
    return load_public_key(chosen)


@audit_app.command("verify")
def audit_verify(
    service: Annotated[str, typer.Option(help="Service whose chain to check")] = "command",
    public_key: PublicKeyOption = None,
    kafka: Annotated[
        bool, typer.Option(help="Also check the signed checkpoint and the Kafka log")
    ] = True,
) -> None:
    """Check the chain: its links; the latest checkpoint the notary signed (with its public
    key); every record against the Kafka event it was built from. Exit 0 when all hold,
    1 saying what does not."""
    from zhixing.audit_check import verify
    from zhixing.settings import KafkaSettings

    key = _public_key(public_key)
    report = _on_redis(
        service, lambda redis, keys: verify(redis, keys, KafkaSettings() if kafka else None, key)
    )
    for note in report.notes:
        typer.echo(f"note: {note}")
    if report.ok:
        typer.echo(f"audit chain intact: {report.records} records")
        raise typer.Exit(0)
    for failure in report.failures[:50]:
        err.print(f"audit chain {failure}")
    if len(report.failures) > 50:
        err.print(f"… and {len(report.failures) - 50} more")
    raise typer.Exit(1)


@audit_app.command("watch")
def audit_watch(
    service: Annotated[str, typer.Option(help="Service whose chain to watch")] = "command",
    public_key: PublicKeyOption = None,
    state: Annotated[
        Path, typer.Option(help="Where the watcher keeps the last checkpoint it trusted")
    ] = Path(".data/audit-watch.json"),
    interval: Annotated[float, typer.Option(min=1, help="Seconds between looks")] = 60.0,
    once: Annotated[bool, typer.Option(help="Look once and exit")] = False,
) -> None:
    """An independent auditor: keeps the last signed checkpoint it trusted and reports any
    rewrite, truncation or fork of the chain since (exit 1 on the first alarm)."""
    from zhixing.audit_check import watch
    from zhixing.settings import KafkaSettings

    key = _public_key(public_key)
    if key is None:
        err.print("error: the watcher needs the notary's public key (--public-key)")
        raise typer.Exit(2)

    async def look(redis: Redis, keys: KeySpace) -> int:
        while True:
            trusted, alarms = await watch(redis, keys, KafkaSettings(), key, state)
            for alarm in alarms:
                err.print(f"ALARM {alarm}")
            if alarms:
                return 1
            trusted_text = (f"{trusted.size} records, root {trusted.root[:16]}…"
                            if trusted else "nothing signed yet")  # fmt: skip
            typer.echo(f"trusted: {trusted_text}")
            if once:
                return 0
            await asyncio.sleep(interval)

    raise typer.Exit(_on_redis(service, look))


@audit_app.command("keygen")
def audit_keygen(
    directory: Annotated[Path, typer.Option(help="Where to write the pair")] = Path(".data/keys"),
) -> None:
    """Write the audit notary's Ed25519 key pair (audit-signing.pem, owner-only, and
    audit-public.pem for verifiers). An existing pair is never overwritten."""
    from zhixing.anchor import write_key_pair

    private, public = directory / "audit-signing.pem", directory / "audit-public.pem"
    if private.exists():
        err.print(f"error: {private} exists; move it away to make a new pair")
        raise typer.Exit(2)
    write_key_pair(private, public)
    typer.echo(f"wrote {private} (keep it with the notary only) and {public}")


FromDate = Annotated[str, typer.Option("--from", help="Starting day YYYY-MM-DD (not counted)")]
WorkingDays = Annotated[int | None, typer.Option("--working-days", help="N working days (WD)")]
Days = Annotated[int | None, typer.Option("--days", help="N calendar days (CD)")]
Months = Annotated[int | None, typer.Option("--months", help="N calendar months (CM)")]
Provisional = Annotated[
    bool,
    typer.Option("--provisional", help="Allow a flagged estimate (weekends, fixed-date holidays)"),
]


def _period(
    start: str, working_days: int | None, days: int | None, months: int | None
) -> tuple[datetime, Unit, int]:
    """Parse the shared arguments, or exit 2 saying what is wrong."""
    chosen = [(u, n) for u, n in ((Unit.WORKING_DAYS, working_days), (Unit.CALENDAR_DAYS, days),
              (Unit.CALENDAR_MONTHS, months)) if n is not None]  # fmt: skip
    if len(chosen) != 1:
        err.print("error: give exactly one of --working-days, --days, --months")
        raise typer.Exit(2)
    unit, amount = chosen[0]
    if amount < 0:
        err.print(f"error: the period cannot be negative ({amount})")
        raise typer.Exit(2)
    try:
        day = date.fromisoformat(start)
    except ValueError:
        err.print(f"error: --from {start!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from None
    return datetime.combine(day, time(12), tzinfo=CHINA_TZ), unit, amount


def _due(start: datetime, unit: Unit, amount: int, provisional: bool, explain: bool) -> Due:
    try:
        counter = PeriodCounter(StatutoryCalendar.load())
        return counter.due(start, unit, amount, provisional=provisional, explain=explain)
    except CalendarError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from None


@calendar_app.command("due")
def calendar_due(
    start: FromDate,
    working_days: WorkingDays = None,
    days: Days = None,
    months: Months = None,
    provisional: Provisional = False,
) -> None:
    """Print the due date: the last day on which the act is in time."""
    due = _due(*_period(start, working_days, days, months), provisional, False)
    assert due.last_day is not None  # day units only
    typer.echo(due.last_day.isoformat())
    if due.provisional:
        years = ", ".join(map(str, due.unknown_years))
        err.print(
            f"provisional: estimate for {years} (weekends and the holidays fixed by date; "
            "no holiday schedule loaded)"
        )


@calendar_app.command("explain")
def calendar_explain(
    start: FromDate,
    working_days: WorkingDays = None,
    days: Days = None,
    months: Months = None,
    provisional: Provisional = False,
) -> None:
    """Show every day counted and skipped, and why."""
    from rich.table import Table

    due = _due(*_period(start, working_days, days, months), provisional, True)
    table = Table("day", "weekday", "counted", "why")
    for step in due.steps:
        table.add_row(step.day.isoformat(), f"{step.day:%a}", "✓" if step.counted else "", step.why)
    Console(width=100).print(table)
    assert due.last_day is not None
    flag = " (provisional)" if due.provisional else ""
    typer.echo(f"due: {due.last_day.isoformat()}, ends {due.due_at.isoformat()}{flag}")


courts_app = typer.Typer(help="The court directory (法院名录).", no_args_is_help=True)
app.add_typer(courts_app, name="courts")


def _directory_or_exit() -> CourtDirectory:
    try:
        return directory()
    except CourtFileError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from None


@courts_app.command("show")
def courts_show(code: Annotated[str, typer.Argument(help="Court code, e.g. 苏1283")]) -> None:
    """A court: name, level, superior, path to the top, the courts below it, divisions."""
    courts = _directory_or_exit()
    try:
        court = courts.lookup(code)
    except UnknownCourtCode as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None
    typer.echo(f"{court.code}  {court.name}  ({court.level.value})")
    typer.echo("path: " + " → ".join(f"{c.code} {c.name}" for c in courts.path_to_top(code)))
    below = courts.children(code)
    if below:
        typer.echo(f"courts below ({len(below)}): " + ", ".join(c.code for c in below))
    if court.divisions:
        typer.echo("divisions: " + ", ".join(court.divisions))


@courts_app.command("common-superior")
def courts_common_superior(
    codes: Annotated[list[str], typer.Argument(help="Two or more court codes")],
) -> None:
    """Print the lowest court superior to every court given (not one of them itself)."""
    if len(codes) < 2:
        err.print("error: give two or more court codes")
        raise typer.Exit(2)
    courts = _directory_or_exit()
    for code in codes:
        try:
            courts.lookup(code)
        except UnknownCourtCode as exc:
            err.print(f"error: {exc}")
            raise typer.Exit(2) from None
    typer.echo(courts.common_superior(*codes).code)


rules_app = typer.Typer(help="The rule catalogue.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


@rules_app.command("list")
def rules_list(
    kind: Annotated[str | None, typer.Option(help="Only clock, gate or constraint")] = None,
) -> None:
    """Print the catalogue: every rule with its limit, source and confidence."""
    from rich.table import Table

    from zhixing.rules import CatalogueError, Kind, catalogue

    try:
        rules = catalogue().rules
    except CatalogueError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from None
    table = Table("id", "kind", "limit", "conf", "source", "on expiry", "title")
    for rule in rules:
        if kind is not None and rule.kind is not Kind(kind):
            continue
        limit = f"{rule.limit} {rule.unit.value}" if rule.unit and rule.limit is not None else ""
        conf = rule.confidence.value
        if conf == "U":
            conf += f" ({rule.setting_name})"
        expiry = rule.on_expiry.value if rule.on_expiry else ""
        if rule.effect:
            expiry += f": {rule.effect}"
        table.add_row(rule.id, rule.kind.value, limit, conf, rule.source, expiry, rule.title)
    Console(width=220).print(table)


funds_app = typer.Typer(help="Case funds (执行案款).", no_args_is_help=True)
app.add_typer(funds_app, name="funds")


@funds_app.command("reconcile")
def funds_reconcile(
    court: Annotated[
        str, typer.Option(help="Court code: that court and every court below it")
    ] = "最高法",
) -> None:
    """Prove, per case and per court, received = paid + in the account + lodged (提存), each
    part summed from its own entries, and the courts' running sums equal to their cases'.
    Reads the funds service's Redis (ZHIXING_REDIS_*). Exit 0 when every court balances
    (saying how many deductions await finance's review: money the bank may have moved that
    no figure holds yet); 1 naming the first case (or court) that does not; 2 for an unknown
    court."""
    from rich.table import Table

    from services.funds.accounts import Reconciler
    from services.funds.repository import FundsRecords

    try:
        directory().lookup(court)
    except UnknownCourtCode as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None

    results = _on_redis(
        "funds", lambda redis, keys: Reconciler(FundsRecords(redis, keys)).courts(court)
    )
    table = Table("court", "cases", "received", "paid", "in account", "lodged",
                  "to review", "balances")  # fmt: skip
    for result in results:
        if result.cases or not result.balances:
            table.add_row(
                result.court_code, str(result.cases), f"{result.received_fen:,}",
                f"{result.paid_fen:,}", f"{result.in_account_fen:,}",
                f"{result.lodged_fen:,}", f"{result.deductions_to_review:,}",
                "yes" if result.balances else "NO",
            )  # fmt: skip
    Console(width=160).print(table)
    failed = next((r for r in results if not r.balances), None)
    if failed is None:
        cases = sum(r.cases for r in results)
        typer.echo(f"funds balance: {cases} cases in {court} and the courts below it (fen)")
        to_review = sum(r.deductions_to_review for r in results)
        if to_review:
            asked = sum(r.to_review_fen for r in results)
            deductions = "1 deduction awaits" if to_review == 1 else f"{to_review} deductions await"
            typer.echo(
                f"{deductions} finance's review ({asked:,} fen asked): the bank may have "
                "moved money these figures do not hold yet"
            )
        raise typer.Exit(0)
    where = f"case {failed.unbalanced_case}" if failed.unbalanced_case else "its sums"
    err.print(f"court {failed.court_code} does not balance: {where}: {failed.problem}")
    raise typer.Exit(1)


class BulletinFormat(StrEnum):
    PDF = "pdf"
    HTML = "html"
    XLSX = "xlsx"
    JSON = "json"


outbox_app = typer.Typer(
    help="A service's outbox: the events its relay set aside (too large to send, unreadable).",
    no_args_is_help=True,
)
app.add_typer(outbox_app, name="outbox")

ServiceName = Annotated[str, typer.Option(help="The service, e.g. intake, funds, command")]


def _on_outbox(service: str, act: Callable[[Redis, Outbox], Awaitable[T]]) -> T:
    """``act`` on the service's outbox, on its Redis (ZHIXING_REDIS_*); exit 2 for an
    unknown service."""
    from tools.localrun import SERVICES
    from zhixing.outbox import Outbox

    names = [spec.name for spec in SERVICES]
    if service not in names:
        err.print(f"error: no service {service!r} (one of: {', '.join(names)})")
        raise typer.Exit(2)
    return _on_redis(service, lambda redis, keys: act(redis, Outbox(keys)))


@outbox_app.command("parked")
def outbox_parked(
    service: ServiceName,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="List at most this many")] = 100,
) -> None:
    """List what the service's outbox relay set aside, oldest first (each event with the
    aggregate it holds, its size and why), the aggregates held and those asked to be sent
    again. Exit 0 when nothing is set aside, 1 when something is."""
    from rich.table import Table

    from zhixing.outbox import parking

    parked = _on_outbox(service, lambda redis, outbox: parking(redis, outbox, limit))
    if not parked.total:
        typer.echo(f"{service}: nothing set aside")
        raise typer.Exit(0)
    table = Table("parked id", "aggregate held", "type", "bytes", "why")
    for event in parked.events:
        table.add_row(event.parked_id, event.hold or "(unreadable)", event.event_type,
                      f"{event.size:,}", event.reason)  # fmt: skip
    Console(width=200).print(table)
    typer.echo(f"{service}: {parked.total} events set aside; aggregates held: "
               f"{', '.join(parked.held) or 'none'}")  # fmt: skip
    if parked.requeued:
        typer.echo(f"asked to be sent again: {', '.join(parked.requeued)}")
    raise typer.Exit(1)


@outbox_app.command("requeue")
def outbox_requeue(
    service: ServiceName,
    holds: Annotated[list[str], typer.Argument(help="Aggregates held, as parked lists them")],
) -> None:
    """Ask the service's relay to send again what it set aside of these aggregates, once the
    cause is mended (ZHIXING_KAFKA_PRODUCER_MAX_REQUEST_SIZE raised with the broker's and the
    topics' limits): in order, before their later events; one still too large stays set
    aside. All or none: exit 1 naming the aggregates not held."""
    from zhixing.outbox import requeue

    missing = _on_outbox(service, lambda redis, outbox: requeue(redis, outbox, holds))
    if missing:
        err.print(f"error: not held in {service}'s outbox: {', '.join(missing)}; none asked")
        raise typer.Exit(1)
    typer.echo(f"{service}: asked to send again: {', '.join(dict.fromkeys(holds))}")


@outbox_app.command("drop")
def outbox_drop(
    service: ServiceName,
    to: Annotated[
        Path, typer.Option(help="A new JSON file the dropped entries are written to, whole")
    ],
    parked_ids: Annotated[
        list[str], typer.Argument(help="Parked ids of unreadable entries, as parked lists them")
    ],
) -> None:
    """Drop entries the relay set aside because they could not be read ("(unreadable)" in
    parked): they hold no aggregate and can never be sent. Each is written whole to the file
    first. All or none: exit 1 naming an id not set aside, or of an event that holds its
    aggregate (requeue that, never drop it)."""
    import json
    import re

    from zhixing.outbox import drop_unreadable

    def keep(entries: dict[str, dict[str, str]]) -> None:  # before any is dropped
        # A new file, the owner's alone (events carry parties' names); written again if the
        # transaction runs again.
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if kept else os.O_EXCL)
        with open(os.open(to, flags, 0o600), "w", encoding="utf-8") as file:
            json.dump(entries, file, ensure_ascii=False, indent=2)
        kept.append(to)

    kept: list[Path] = []

    malformed = [i for i in parked_ids if not re.fullmatch(r"\d{1,20}-\d{1,20}", i)]
    if malformed:
        err.print(f"error: not a parked id (as parked lists them, e.g. 1764979200000-0): "
                  f"{', '.join(malformed)}")  # fmt: skip
        raise typer.Exit(2)
    if to.exists():
        err.print(f"error: {to} exists; name a new file")
        raise typer.Exit(2)
    try:
        refused = _on_outbox(
            service, lambda redis, outbox: drop_unreadable(redis, outbox, parked_ids, keep)
        )
    except OSError as exc:
        err.print(f"error: cannot write {to}: {exc}; nothing dropped")
        raise typer.Exit(2) from None
    if refused:
        if kept:  # written, then found changed: the transaction ran again and refused
            to.unlink()
        for parked_id, why in refused.items():
            err.print(f"error: {parked_id}: {why}")
        err.print(f"none of {service}'s entries dropped")
        raise typer.Exit(1)
    typer.echo(f"{service}: dropped {len(set(parked_ids))} unreadable entries, kept in {to}")


@app.command()
def bulletin(
    court: Annotated[str, typer.Option(help="The court whose jurisdiction it covers, e.g. 苏12")],
    week: Annotated[str | None, typer.Option(help="An ISO week, e.g. 2026-W48")] = None,
    month: Annotated[str | None, typer.Option(help="A month, e.g. 2026-11")] = None,
    output_format: Annotated[
        BulletinFormat, typer.Option("--format", help="pdf, html, xlsx or json")
    ] = BulletinFormat.PDF,
    out: Annotated[
        Path | None, typer.Option(help="File to write (default: named after court and period)")
    ] = None,
) -> None:
    """Write the jurisdiction's bulletin (通报) for a week or a month: each court's figures
    and rank, breaches by node and court, commands issued and not signed for, cases
    elevated or designated. Reads the command service's Redis (ZHIXING_REDIS_*), as the
    dashboard's bulletin page does. Exit 2 for an unknown court or a period that is not
    one."""
    import json

    from services.command.bulletin import (
        bulletin_html,
        bulletin_pdf,
        bulletin_tables,
        bulletin_xlsx,
    )
    from services.command.report_periods import PeriodKind, ReportPeriod
    from services.command.reports import Reports
    from zhixing.errors import Invalid

    if (week is None) == (month is None):
        err.print("error: name one period: --week 2026-W48 or --month 2026-11")
        raise typer.Exit(2)
    try:
        found = directory().lookup(court)
        period = ReportPeriod.parse(week or month or "")
    except (UnknownCourtCode, Invalid) as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None
    if period.kind is not (PeriodKind.WEEK if week else PeriodKind.MONTH):
        err.print(f"error: {week or month} is not a {'week' if week else 'month'}")
        raise typer.Exit(2)

    def gather(redis: Redis, keys: KeySpace) -> Awaitable[dict[str, object]]:
        return Reports(redis, keys, directory(), SystemClock()).bulletin(found.code, period)

    try:
        data = _on_redis("command", gather)
    except Invalid as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None
    target = out or Path(f"{found.name}执行工作通报-{period.label}.{output_format.value}")
    if output_format is BulletinFormat.JSON:
        target.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    elif output_format is BulletinFormat.HTML:
        target.write_text(bulletin_html(data), encoding="utf-8")
    elif output_format is BulletinFormat.PDF:
        target.write_bytes(bulletin_pdf(bulletin_html(data)))
    else:
        target.write_bytes(bulletin_xlsx(bulletin_tables(data, for_sheet=True)))
    typer.echo(f"{target} ({period.title()})")


@app.command()
def run(
    demo: Annotated[bool, typer.Option(help="Load the demo cases")] = True,
) -> None:
    """Start Kafka, Redis and every service, load demo data, stay until Ctrl-C."""
    from tools.localrun import run_platform

    raise typer.Exit(run_platform(demo=demo))


@app.command("create-topics")
def create_topics_command() -> None:
    """Create every platform topic and its dead-letter twin (existing ones are kept)."""
    from tools.devinfra import create_topics
    from zhixing.settings import KafkaSettings

    kafka = KafkaSettings()
    for name in _run_async(create_topics(kafka.bootstrap_servers, kafka.topic_prefix)):
        typer.echo(name)


@app.command("kafka-jars")
def kafka_jars() -> None:
    """Fetch the official Kafka broker jars from Maven Central (once)."""
    from tools.devinfra import ensure_kafka_jars

    typer.echo(ensure_kafka_jars())


@app.command()
def simulate(
    courts: Annotated[int, typer.Option(help="Basic courts taking cases (0: all)")] = 2,
    cases_per_court: Annotated[
        int, typer.Option(help="Cases per court per year (public figure: about 11,000)")
    ] = 500,
    days: Annotated[int, typer.Option(help="Calendar days to simulate")] = 30,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD")] = "2026-01-05",
    jurisdiction: Annotated[str, typer.Option(help="The intermediate court")] = "苏12",
    seed: Annotated[int, typer.Option(help="The same seed gives the same year")] = 2021,
) -> None:
    """Simulate a court year (or part of one) against the real services on the simulated
    clock, with a Kafka and Redis of its own; print what happened and how fast."""
    from rich.table import Table

    from tools.progress import Work
    from tools.simulator import FundsUnbalanced, WorkloadSettings, simulate_locally
    from zhixing.logs import configure_logging
    from zhixing.service import run_async
    from zhixing.settings import PlatformSettings

    # Only what went wrong: a year's debug lines would bury the table.
    configure_logging("simulator", PlatformSettings(log_level="WARNING", log_json=False))
    try:
        first = date.fromisoformat(start)
    except ValueError:
        err.print(f"error: --start {start!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from None
    try:
        settings = WorkloadSettings(
            intermediate_court=jurisdiction, courts=courts, days=days, start=first, seed=seed,
            cases_per_court_per_year=cases_per_court,
        )  # fmt: skip
        report = run_async(simulate_locally(settings, Work(Console(stderr=True))))
    except (ValueError, UnknownCourtCode) as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None
    except FundsUnbalanced as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from None
    summary = report.as_json()
    table = Table(title=f"{jurisdiction}: {report.days} simulated days")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name in ("filed", "events", "wall_s", "events_per_s"):
        table.add_row(name, str(summary[name]))
    for act, count in sorted(report.acts.items()):
        table.add_row(f"act {act}", str(count))
    for refusal, count in sorted(report.refused.items()):
        table.add_row(f"refused {refusal}", str(count))
    for name, value in report.figures["rates"].items():
        table.add_row(name, str(value))
    for part, fen in report.money.items():
        table.add_row(f"funds {part}", f"{fen:,}")
    table.add_row("funds balance (every court)", "yes" if report.balances else "no")
    Console(width=100).print(table)
