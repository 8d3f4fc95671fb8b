"""`wrapped serve`: the web service under waitress, with the weekly schedule beside it."""

from __future__ import annotations

from typing import Annotated

import typer

from weekly_wrapped.cli.app import app, err, get_settings, open_engine


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    threads: Annotated[
        int, typer.Option(min=1, max=64, help="Request threads (each with a database connection).")
    ] = 16,
    no_scheduler: Annotated[
        bool,
        typer.Option(
            "--no-scheduler",
            help="Serve only: no polls, no Monday emails (for extra replicas).",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(min=1, max=64, help="Processes that build and send the Monday recaps."),
    ] = 2,
) -> None:
    """Run the dashboard, the JSON API and (unless --no-scheduler) the weekly schedule.

    The scheduler polls every connected user every WRAPPED_POLL_MINUTES and emails
    each opted-in user's recap on Monday at WRAPPED_SEND_AT in their own timezone.
    Several servers may share one database: a lock in it lets one send at a time,
    and the delivery ledger sends each recap once.
    """
    from weekly_wrapped.extras import require

    require("web", "flask", needed_by="wrapped serve")
    require("web", "waitress", needed_by="wrapped serve")
    from waitress import serve as waitress_serve

    from weekly_wrapped.scheduler import service
    from weekly_wrapped.scheduler.jobs import Schedule
    from weekly_wrapped.web import create_app

    settings = get_settings()
    # Each request thread holds a connection for its request, and a dashboard view may
    # open a second one; the scheduler's thread needs its own.
    engine = open_engine(settings, pool_size=threads + 1, max_overflow=threads + 4)
    web = create_app(settings, engine=engine)
    scheduler = None if no_scheduler else service.start(Schedule(engine, settings, workers=workers))
    where = f"http://{host}:{port}"
    err.print(f"Serving Weekly Wrapped on {where}" + (" (no scheduler)" if no_scheduler else ""))
    try:
        waitress_serve(web, host=host, port=port, threads=threads, ident="weekly-wrapped")
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
