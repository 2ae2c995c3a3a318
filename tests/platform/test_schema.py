"""The application refuses an unmigrated database, and migrating is repeatable."""

import pytest

from omniloom.api import create_app
from omniloom.platform.db import Database, make_engine
from omniloom.platform.schema import DatabaseNotMigrated, pending_revisions, upgrade
from omniloom.platform.settings import Settings
from tests.conftest import DatabaseFactory


def test_the_app_refuses_an_unmigrated_database_then_starts_after_upgrade(database_factory: DatabaseFactory) -> None:
    engine = make_engine(database_factory.create(migrated=False))
    try:
        with pytest.raises(DatabaseNotMigrated, match="run `omniloom init` first"):
            create_app(Settings(), database=Database(engine))
        assert pending_revisions(engine)
        upgrade(engine)
        upgrade(engine)
        assert pending_revisions(engine) == set()
        assert create_app(Settings(), database=Database(engine)).title == "Omniloom"
    finally:
        engine.dispose()
