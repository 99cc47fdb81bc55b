"""python -m crm_sim.book OUT --count N [--bad-percent P]: write a synthetic book.

OUT ending in .csv gets CSV (key persons as kpN_* columns), anything else JSON Lines. With
--truth, a CSV of (row, field) for each spoiled row is written too, for tests to compare
the importer's report against.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from crm_sim.book.generate import book

CLIENT_COLUMNS = (
    "display_name", "credit_code", "industry_code", "region_code", "ownership_type",
    "founding_date", "registered_capital", "employee_count", "annual_revenue",
    "previous_annual_revenue", "total_assets", "group", "project_finance",
    "relationship_manager", "team",
)  # fmt: skip
PERSON_COLUMNS = (
    "role", "display_name", "id_number", "mobile_number", "birth_date", "gender",
    "education", "occupation", "income_band",
)  # fmt: skip
MAX_PERSONS = 3


def write_book(out: Path, count: int, *, bad_percent: float, seed: int, truth: Path | None) -> int:
    """Write the book; return the number of spoiled rows."""
    spoiled = 0
    as_csv = out.suffix.lower() == ".csv"
    header = [*CLIENT_COLUMNS] + [
        f"kp{n}_{c}" for n in range(1, MAX_PERSONS + 1) for c in PERSON_COLUMNS
    ]
    with out.open("w", encoding="utf-8", newline="") as handle:
        table = csv.writer(handle) if as_csv else None
        truth_file = truth.open("w", encoding="utf-8", newline="") if truth else None
        truth_rows = csv.writer(truth_file) if truth_file else None
        if table:
            table.writerow(header)
        if truth_rows:
            truth_rows.writerow(("row", "field"))
        for number, (row, field) in enumerate(book(count, bad_percent=bad_percent, seed=seed), 1):
            if field:
                spoiled += 1
                if truth_rows:
                    truth_rows.writerow((number, field))
            if table:
                people = row["key_persons"]
                cells = [row[c] for c in CLIENT_COLUMNS]
                for n in range(MAX_PERSONS):
                    person = people[n] if n < len(people) else {}
                    cells.extend(person.get(c, "") for c in PERSON_COLUMNS)
                table.writerow(cells)
            else:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        if truth_file:
            truth_file.close()
    return spoiled


def main(argv: list[str]) -> int:
    """Parse arguments and write the book."""
    parser = argparse.ArgumentParser(prog="python -m crm_sim.book", description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--bad-percent", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--truth", type=Path, help="also write (row, field) of spoiled rows")
    args = parser.parse_args(argv)
    spoiled = write_book(
        args.out, args.count, bad_percent=args.bad_percent, seed=args.seed, truth=args.truth
    )
    print(f"{args.out}: {args.count} rows, {spoiled} spoiled")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
