"""python -m crm_import BOOK [options]: import a CSV or JSON Lines book (docs/IMPORT.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from pathlib import Path

import grpc

from crm_import.stream import Plan, Totals, run

HEADER_ENV = "CRM_IMPORT_HEADER"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m crm_import", description=__doc__)
    parser.add_argument("book", type=Path, help="a .csv file, or JSON Lines (any other name)")
    parser.add_argument("--target", default="127.0.0.1:50051", help="service or gateway host:port")
    parser.add_argument("--import-id", help="id of the import (default: from the file name)")
    parser.add_argument("--chunk-rows", type=int, default=2000, help="rows per chunk (≤ 5000)")
    parser.add_argument("--window", type=int, default=3, help="chunks in flight")
    parser.add_argument("--report", type=Path, help="error report CSV (default: BOOK.errors.csv)")
    parser.add_argument("--resume", action="store_true", help="continue after the last chunk")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    parser.add_argument(
        "--retries", type=int, default=5, help="new streams after a broken one (0: stop)"
    )
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"call metadata, e.g. the identity token (also from ${HEADER_ENV})",
    )
    return parser


def _metadata(headers: list[str]) -> tuple[tuple[str, str], ...]:
    items = [*headers, *filter(None, [os.environ.get(HEADER_ENV, "")])]
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--header {name!r} must look like NAME=VALUE")
        pairs.append((name.strip().lower(), value.strip()))
    return tuple(pairs)


def main(argv: list[str]) -> int:
    """Run one import; exit 0 when every chunk was answered, 1 when the stream broke."""
    args = _parser().parse_args(argv)
    book: Path = args.book
    plan = Plan(
        path=book,
        import_id=args.import_id or re.sub(r"[^A-Za-z0-9-]", "-", book.stem)[:63].strip("-"),
        target=args.target,
        metadata=_metadata(args.header),
        chunk_rows=args.chunk_rows,
        window=max(1, args.window),
        report=args.report or book.with_name(book.name + ".errors.csv"),
        resume=args.resume,
        progress=not args.quiet,
        retries=max(0, args.retries),
    )
    totals = Totals()
    try:
        asyncio.run(run(plan, totals))
    except grpc.aio.AioRpcError as error:
        print(f"\nimport stopped: {error.code().name}: {error.details()}", file=sys.stderr)
        print(f"run again with --resume to continue imports/{plan.import_id}", file=sys.stderr)
        return 1
    seconds = max(1e-9, time.monotonic() - totals.started)
    print(
        f"\nimports/{plan.import_id}: {totals.rows} rows read, {totals.loaded} loaded, "
        f"{len(totals.rejected_rows)} refused (report: {plan.report}), "
        f"{totals.replayed_chunks} chunks answered from the record, "
        f"{totals.reconnects} new streams, "
        f"{seconds:.1f} s, {totals.rows / seconds:.0f} rows/s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
