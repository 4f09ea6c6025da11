"""``serve``: the site and the reader endpoints over HTTP (``newsletter.web``)."""

from __future__ import annotations

import threading
from pathlib import Path

import click

from feeds.build import load_topics
from newsletter.cli.group import cli, config_option, shown_path
from newsletter.config import load_config
from newsletter.runtime.migrate import migrate


@cli.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option(
    "--production",
    is_flag=True,
    help="Serve output/ exactly as published (behind a proxy at site.base_url). "
    "Default: a local preview whose pages and feeds link to this server.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Rebuild when a record, topic file, template or the config changes, and reload "
    "the preview's open pages (not with --production).",
)
def serve(config_path: Path, host: str, port: int, production: bool, watch: bool) -> None:
    """Serve output/ and the reader endpoints (sign-up, confirm, preferences, unsubscribe)."""
    import uvicorn

    from newsletter import state
    from newsletter.audience.tokens import secret_from_env
    from newsletter.web.app import ServeSettings, create_app
    from newsletter.web.guard import quiet_logging, server_config

    if watch and production:
        raise click.UsageError("--watch is for the local preview: drop --production")
    config = load_config(config_path)
    secret = secret_from_env(config.state.secret_env)
    migrate(config)
    topics = tuple((t.id, t.name) for t in load_topics(config).topics)
    watcher = None
    if watch:
        from newsletter.runtime.watch import Watcher

        watcher = Watcher(config_path, config, report=lambda line: click.echo(line, err=True))
    live = watcher.status.snapshot if watcher else None
    settings = ServeSettings(config, topics, preview=not production, live=live)
    app = create_app(settings, lambda: state.connect(config.database), secret)
    shown_host = f"[{host}]" if ":" in host else host
    address = f"http://{shown_host}:{port}{settings.base_path}/"
    if production:
        click.echo(f"Serving {shown_path(config.output)} as published on {address}", err=True)
    else:
        click.echo(
            f"Previewing {shown_path(config.output)} on {address} "
            "(links point here; --production serves the files as published)",
            err=True,
        )
    stop = threading.Event()
    if watcher is not None:
        click.echo("Watching records, topics, templates and the config for changes", err=True)
        threading.Thread(target=watcher.run, args=(stop,), name="watch", daemon=True).start()
    quiet_logging()
    try:
        uvicorn.Server(server_config(app, config.serve, host, port)).run()
    finally:
        stop.set()
