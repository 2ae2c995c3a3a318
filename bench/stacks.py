"""Summarise py-spy collapsed stacks (``--format raw``): where the samples go, by function and by package.

Usage: ``python bench/stacks.py FILE... [--under FUNCTION] [--top 30]``

``--under channel_availability`` keeps only the samples inside that function and measures shares against them.
Prints, as a share of the samples: the functions the samples were inside of (inclusive), the functions they
were in (self), and the self time per package (omniloom, sqlalchemy, psycopg, fastapi, ...).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>.*?)(?::\d+)?\)$")
PACKAGES = ("omniloom", "sqlalchemy", "psycopg", "pydantic", "fastapi", "starlette", "uvicorn", "anyio", "httptools",
            "asyncio", "threading", "json", "ulid")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--under", help="only samples inside this function (name as py-spy prints it)")
    parser.add_argument("--top", type=int, default=30)
    return parser.parse_args()


def samples(files: list[Path], under: str | None) -> Iterator[tuple[list[str], int]]:
    """(frames from the outermost, count) per distinct stack; with ``under``, the frames below that function."""
    for path in files:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = stack.split(";")
            if under is not None:
                start = next((i for i, frame in enumerate(frames) if frame.startswith(f"{under} (")), None)
                if start is None:
                    continue
                frames = frames[start:]
            yield frames, int(count)


def short(frame: str) -> str:
    """``name (path/to/file.py:12)`` → ``name (file.py)``."""
    match = FRAME.match(frame)
    return f"{match['function']} ({Path(match['file']).name})" if match else frame


def package(frame: str) -> str:
    match = FRAME.match(frame)
    path = match["file"] if match else frame
    return next((name for name in PACKAGES if name in path), Path(path).name or "?")


def main() -> None:
    args = parse_args()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for frames, count in samples(args.files, args.under):
        total += count
        for name in {short(frame) for frame in frames}:
            inclusive[name] += count
        own[short(frames[-1])] += count
        packages[package(frames[-1])] += count
    if not total:
        raise SystemExit("no samples" + (f" inside {args.under}" if args.under else ""))
    print(f"{total} samples" + (f" inside {args.under}" if args.under else ""))
    for title, counter in (("inclusive", inclusive), ("self", own), ("self, by package", packages)):
        print(f"\n== {title}")
        for name, count in counter.most_common(args.top):
            print(f"{100 * count / total:6.1f}%  {name}")


if __name__ == "__main__":
    main()
