"""The ``zhixing`` command: tools for people and scripts.

zhixing token --court 苏1283 --role clerk     a dev token
zhixing audit verify                          check the audit hash chain
zhixing run                                   the whole platform (what `make run` calls)
zhixing kafka-jars                            fetch the Kafka broker jars
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console

from zhixing.auth import PrincipalKind, Role, TokenAuthority
from zhixing.clock import SystemClock
from zhixing.courts import UnknownCourtCode
from zhixing.settings import AuthSettings, RedisSettings

app = typer.Typer(help="Zhixing Command (执行指挥平台) tools.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail (留痕).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")

err = Console(stderr=True)


@app.command()
def token(
    court: Annotated[str, typer.Option(help="Court code, e.g. 苏1283")],
    role: Annotated[Role, typer.Option(help="Role the token grants")],
    subject: Annotated[str, typer.Option(help="Who the token names")] = "dev-user",
    service: Annotated[bool, typer.Option(help="Issue a service token")] = False,
    hours: Annotated[float, typer.Option(min=0.01, help="Lifetime in hours")] = 8.0,
) -> None:
    """Print a signed token (with the secret of ZHIXING_AUTH_SECRET, or the dev default)."""
    authority = TokenAuthority(AuthSettings(), SystemClock())
    try:
        issued = authority.issue(
            subject=subject,
            court_code=court,
            role=role,
            kind=PrincipalKind.SERVICE if service else PrincipalKind.PERSON,
            ttl=timedelta(hours=hours),
        )
    except UnknownCourtCode as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None
    typer.echo(issued)


@audit_app.command("verify")
def audit_verify(
    service: Annotated[str, typer.Option(help="Service whose chain to check")] = "command",
) -> None:
    """Check the whole chain; exit 0 when intact, 1 naming the first bad record."""
    from zhixing.audit import AuditChain
    from zhixing.state import KeySpace, connect

    async def verify() -> int:
        settings = RedisSettings()
        redis = connect(settings)
        try:
            verdict = await AuditChain(redis, KeySpace(settings.key_prefix, service)).verify()
        finally:
            await redis.aclose()
        if verdict.intact:
            typer.echo(f"audit chain intact: {verdict.records} records")
            return 0
        err.print(f"audit chain BROKEN at record {verdict.first_bad}: {verdict.reason}")
        return 1

    raise typer.Exit(asyncio.run(verify()))


@app.command()
def run(
    demo: Annotated[bool, typer.Option(help="Load the demo cases")] = True,
) -> None:
    """Start Kafka, Redis and every service, load demo data, stay until Ctrl-C."""
    from zhixing.localrun import run_platform

    raise typer.Exit(run_platform(demo=demo))


@app.command("create-topics")
def create_topics_command() -> None:
    """Create every platform topic and its dead-letter twin (existing ones are kept)."""
    from zhixing.devinfra import create_topics
    from zhixing.settings import KafkaSettings

    kafka = KafkaSettings()
    for name in asyncio.run(create_topics(kafka.bootstrap_servers, kafka.topic_prefix)):
        typer.echo(name)


@app.command("kafka-jars")
def kafka_jars() -> None:
    """Fetch the official Kafka broker jars from Maven Central (once)."""
    from zhixing.devinfra import ensure_kafka_jars

    typer.echo(ensure_kafka_jars())
