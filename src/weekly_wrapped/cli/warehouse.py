"""Commands for the warehouse: init, users, synthetic listening, a week's summary, the schema."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from weekly_wrapped.cli.app import (
    UserOption,
    app,
    err,
    get_settings,
    json_for_terminal,
    open_engine,
    out,
)
from weekly_wrapped.weeks import last_complete_week, parse_week, week_label

users_app = typer.Typer(help="Add and list the people whose listening is recapped.")
app.add_typer(users_app, name="users")

Format = Literal["table", "json"]


@app.command()
def init() -> None:
    """Create the warehouse, or upgrade it to the newest schema; with WRAPPED_BUS=kafka,
    also create the play and dead-letter topics if they are missing."""
    from weekly_wrapped.bus.factory import prepare_bus
    from weekly_wrapped.warehouse import db

    settings = get_settings()
    engine = open_engine(settings, check=False)
    revision = db.upgrade(engine)
    where = engine.url.render_as_string(hide_password=True)
    out.print(f"[green]Warehouse ready[/] at {escape(where)} (schema revision {revision})")
    if settings.bus == "kafka":
        created = prepare_bus(settings)
        topics = ", ".join(dict.fromkeys([settings.kafka_topic, settings.kafka_dlq_topic]))
        made = f"created {', '.join(created)}" if created else "all there already"
        out.print(
            f"[green]Topics ready[/] at {escape(settings.kafka_bootstrap)}: {escape(topics)} ({made})"
        )


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Option(help="Display name.")],
    email: Annotated[str | None, typer.Option(help="Where the weekly recap goes.")] = None,
    timezone: Annotated[str, typer.Option(help="IANA timezone, e.g. Europe/Berlin.")] = "UTC",
    weekly_email: Annotated[bool, typer.Option(help="Send the weekly email.")] = True,
) -> None:
    """Add a user and print their new id."""
    from weekly_wrapped.warehouse import users

    engine = open_engine(get_settings())
    with engine.begin() as conn:
        user_key = users.add_user(
            conn, name=name, email=email, timezone=timezone, weekly_email=weekly_email
        )
    print(user_key)


@users_app.command("update")
def users_update(
    user: UserOption,
    name: Annotated[str | None, typer.Option(help="New display name.")] = None,
    email: Annotated[str | None, typer.Option(help="New email address.")] = None,
    timezone: Annotated[
        str | None, typer.Option(help="New IANA timezone; plays move to their new local days.")
    ] = None,
    weekly_email: Annotated[
        bool | None, typer.Option("--weekly-email/--no-weekly-email", help="Opt in or out.")
    ] = None,
) -> None:
    """Change a user's name, email, timezone or weekly-email choice."""
    from weekly_wrapped.warehouse import users

    engine = open_engine(get_settings())
    with engine.begin() as conn:
        person = users.update_user(
            conn, user, name=name, email=email, weekly_email=weekly_email, timezone=timezone
        )
    out.print(Text(f"Updated user {person.user_key}: {person.display_name}, {person.timezone}"))


@users_app.command("list")
def users_list(
    format: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """List users."""
    from weekly_wrapped.warehouse import users

    engine = open_engine(get_settings())
    with engine.connect() as conn:
        people = users.list_users(conn)
    if format == "json":
        rows = [
            {
                "id": u.user_key,
                "name": u.display_name,
                "email": u.email,
                "timezone": u.timezone,
                "weekly_email": u.weekly_email,
                "auth_status": u.auth_status,
            }
            for u in people
        ]
        print(json_for_terminal(json.dumps(rows, indent=2, ensure_ascii=False)))
        return
    table = Table("id", "name", "email", "timezone", "weekly email", "spotify")
    for u in people:
        weekly = "yes" if u.weekly_email else "no"
        cells = (str(u.user_key), u.display_name, u.email or "", u.timezone, weekly, u.auth_status)
        table.add_row(*(Text(cell) for cell in cells))
    out.print(table)


@app.command()
def generate(
    user: UserOption,
    weeks: Annotated[int, typer.Option(min=1, max=520, help="Weeks of listening.")] = 12,
    seed: Annotated[int, typer.Option(help="Same seed, same listening.")] = 0,
    source: Annotated[
        Literal["manual", "api"], typer.Option(help="`api` plays have no ms_played.")
    ] = "manual",
) -> None:
    """Make realistic synthetic listening for a user and load it through the pipeline."""
    from weekly_wrapped import pipeline

    settings = get_settings()
    engine = open_engine(settings)
    result = pipeline.generate(
        engine, settings, user, weeks=weeks, seed=seed, source=source, console=err
    )
    if settings.bus == "kafka":
        out.print(
            f"Published {result.received:,} plays for user {user} to {settings.kafka_topic}; "
            "`wrapped process` writes them."
        )
        return
    out.print(
        f"Generated {result.received:,} plays for user {user}: "
        f"{result.inserted:,} new, {result.duplicates:,} already there, "
        f"{result.quarantined:,} quarantined."
    )


@app.command()
def summary(
    user: UserOption,
    week: Annotated[
        str | None, typer.Option(help="ISO week, e.g. 2026-W47. Default: the last complete week.")
    ] = None,
) -> None:
    """A short summary of one week's listening."""
    from weekly_wrapped.insights.stats import weekly_stats
    from weekly_wrapped.warehouse import users

    engine = open_engine(get_settings())
    with engine.connect() as conn:
        person = users.get_user(conn, user)
        start = parse_week(week) if week else last_complete_week(person.timezone)
        s = weekly_stats(conn, user, start)
    end = start + timedelta(days=6)
    out.print(
        f"[bold]{escape(person.display_name)}[/] · {week_label(start)} "
        f"({start:%d %b} – {end:%d %b %Y}, {person.timezone})"
    )
    if s.streams + s.skips == 0:
        out.print("No listening this week.")
        return
    out.print(f"{s.minutes_listened:,.1f} minutes · {s.streams} streams · {s.skips} skips")
    artists = Table("top artists", "minutes", title=None)
    for artist in s.top_artists:
        artists.add_row(Text(artist.name), f"{artist.minutes:,.1f}")
    tracks = Table("top tracks", "artist", "streams")
    for track in s.top_tracks:
        tracks.add_row(Text(track.name), Text(track.artist or ""), str(track.streams))
    out.print(artists)
    out.print(tracks)


@app.command()
def schema() -> None:
    """Print the PlayEvent v1 JSON Schema that every producer must follow."""
    from weekly_wrapped.events import json_schema

    print(json.dumps(json_schema(), indent=2, sort_keys=True))
