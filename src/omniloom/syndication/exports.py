"""Feeds written to files and checked from the command line, each in its own transactions."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from omniloom.catalog import service as catalog
from omniloom.platform.clock import Clock
from omniloom.platform.db import Database
from omniloom.syndication import deltas, feeds
from omniloom.syndication.formats import FormatName, writer_for
from omniloom.syndication.items import Problem
from omniloom.syndication.service import feed_channel
from omniloom.syndication.validation import Target, target_for


class FeedExport:
    """One export of a channel's feed: caught up and given its cursor first, then written in one read."""

    def __init__(self, database: Database, channel_code: str, format_name: FormatName, *, clock: Clock,
                 since: str | None, preparation_minutes: int) -> None:
        self.database = database
        self.channel_code = channel_code
        self.format_name = format_name
        with database.write() as session:
            self.cursor = deltas.catch_up(session, channel_code, clock=clock)
            self.after = deltas.cursor_sequence(session, channel_code, since) if since is not None else None
            site = feed_channel(session, channel_code).site
            self.total = catalog.active_variant_count(session) if self.after is None else None
        self.writer = writer_for(format_name, delta=self.after is not None, channel_code=channel_code, site=site,
                                 preparation_minutes=preparation_minutes)

    def write(self, out: Path | None, *, advance: Callable[[int], None]) -> feeds.FeedCount:
        """Write the feed to ``out`` (whole or not at all: through a file beside it) or to standard output."""
        if out is None:
            return self._write_to(sys.stdout, advance)
        partial = out.with_name(f".{out.name}.partial")
        try:
            with partial.open("w", encoding="utf-8", newline="") as file:
                count = self._write_to(file, advance)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)
        return count

    def _write_to(self, file: TextIO, advance: Callable[[int], None]) -> feeds.FeedCount:
        count = feeds.FeedCount(on_batch=advance)
        with self.database.read() as session:
            channel = feed_channel(session, self.channel_code)
            target = feeds.target_of(self.format_name, channel)
            chunks = (feeds.full_feed(session, channel, self.writer, target=target, count=count)
                      if self.after is None else
                      feeds.delta_feed(session, channel, self.writer, target=target, after=self.after, count=count))
            for chunk in chunks:
                file.write(chunk)
        return count


@dataclass
class ValidationReport:
    """The problems of a channel's items under one set of rules."""

    target: Target
    items: int = 0
    errors: int = 0
    warnings: int = 0
    problems: list[Problem] = field(default_factory=list)

    def count_items(self, checked: int) -> None:
        self.items += checked


def validate(database: Database, channel_code: str, *, target: Target | None = None) -> ValidationReport:
    """Check every item of a channel (against its own kind's rules unless ``target`` names others)."""
    with database.read() as session:
        channel = feed_channel(session, channel_code)
        report = ValidationReport(target=target or target_for(channel.type))
        for problem in feeds.feed_issues(session, channel, target=report.target, counted=report.count_items):
            report.problems.append(problem)
            if problem.severity == "error":
                report.errors += 1
            else:
                report.warnings += 1
    return report
