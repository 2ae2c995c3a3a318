"""Schema migrations (Alembic): upgrade a database, and refuse to run on one that is behind."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from omniloom.platform.errors import OmniloomError


class DatabaseNotMigrated(OmniloomError):
    status = 503
    slug = "database-not-migrated"
    title = "Database not migrated"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("omniloom") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Create or migrate the database to the newest schema."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def pending_revisions(engine: Engine) -> set[str]:
    """Heads the code knows that the database has not reached (empty when up to date)."""
    script = ScriptDirectory.from_config(alembic_config(engine.url.render_as_string(hide_password=False)))
    with engine.connect().execution_options(omniloom_readonly=True) as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return set(script.get_heads()) - current


def ensure_migrated(engine: Engine) -> None:
    """Raise with a clear instruction when the schema is missing or older than the code."""
    if pending_revisions(engine):
        raise DatabaseNotMigrated(
            f"the database at {engine.url.render_as_string(hide_password=True)} is not migrated to this "
            "version of Omniloom; run `omniloom init` first"
        )
