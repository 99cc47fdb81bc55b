"""Split clients into service teams and relationship managers.

Ordinary clients are served by the branch of their registration city: about 100 clients
per team ("teams/<branch>-<k>") and 25 per relationship manager. Project-finance
borrowers go to dedicated teams ("teams/pf-<n>") with smaller books, 25 clients per team
and 10 per manager, because each project is followed closely. Managers are numbered
"staff/rm-001", "staff/rm-002"... across the bank.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

CLIENTS_PER_TEAM: Final = 100
CLIENTS_PER_MANAGER: Final = 25
PROJECT_FINANCE_CLIENTS_PER_TEAM: Final = 25
PROJECT_FINANCE_CLIENTS_PER_MANAGER: Final = 10
PROJECT_FINANCE_BUCKET: Final = "pf"


@dataclass(frozen=True)
class Assignment:
    """The team and relationship manager a client starts with."""

    team: str
    relationship_manager: str


def assign_teams(
    rng: random.Random, clients: Iterable[tuple[int, str, bool]]
) -> dict[int, Assignment]:
    """Return an assignment per client index, given (index, branch, project_finance) triples."""
    buckets: dict[str, list[int]] = {}
    for index, branch, project_finance in clients:
        bucket = PROJECT_FINANCE_BUCKET if project_finance else branch
        buckets.setdefault(bucket, []).append(index)
    assignments: dict[int, Assignment] = {}
    manager_number = 0
    for bucket in sorted(buckets):
        members = sorted(buckets[bucket])
        rng.shuffle(members)
        dedicated = bucket == PROJECT_FINANCE_BUCKET
        per_team = PROJECT_FINANCE_CLIENTS_PER_TEAM if dedicated else CLIENTS_PER_TEAM
        per_manager = PROJECT_FINANCE_CLIENTS_PER_MANAGER if dedicated else CLIENTS_PER_MANAGER
        team_count = math.ceil(len(members) / per_team)
        for team_number in range(1, team_count + 1):
            team = f"teams/{bucket}-{team_number}"
            team_members = members[team_number - 1 :: team_count]
            manager_count = math.ceil(len(team_members) / per_manager)
            managers = [
                f"staff/rm-{number:03d}"
                for number in range(manager_number + 1, manager_number + manager_count + 1)
            ]
            manager_number += manager_count
            for position, index in enumerate(team_members):
                manager = managers[position % manager_count]
                assignments[index] = Assignment(team=team, relationship_manager=manager)
    return assignments
