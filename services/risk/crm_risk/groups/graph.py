"""The relation graph of clients: guarantee edges and shared group membership (pure).

- `circles`: guarantee circles (担保圈), the strongly connected components of the guarantee
  graph with more than one client, found with Tarjan's algorithm (iterative, so a long chain
  cannot exhaust Python's recursion limit).
- `related`: the clients a trouble at one client can reach within a number of steps, each
  with the shortest path that reaches it. A step is a guarantee in either direction (the
  guarantor of a troubled client must pay; a troubled guarantor's guarantees weaken) or a
  shared group (members of one group share control and usually cash).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Edge = tuple[str, str]  # (guarantor, beneficiary)


def circles(edges: Iterable[Edge]) -> list[tuple[str, ...]]:
    """Return every guarantee circle as its sorted members, sorted (Tarjan's SCCs, size > 1)."""
    graph: dict[str, list[str]] = {}
    for guarantor, beneficiary in edges:
        graph.setdefault(guarantor, []).append(beneficiary)
        graph.setdefault(beneficiary, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[tuple[str, ...]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = graph[node]
            if child < len(targets):
                work.append((node, child + 1))
                target = targets[child]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(tuple(sorted(component)))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return sorted(found)


@dataclass(frozen=True)
class Reached:
    """A client reached from the source, how far, and the path (source first)."""

    client: str
    depth: int
    path: tuple[str, ...]


def neighbours(
    edges: Iterable[Edge], groups: Mapping[str, Iterable[str]]
) -> dict[str, set[str]]:
    """Return each client's direct relations: guarantees both ways and fellow group members."""
    near: dict[str, set[str]] = {}
    for guarantor, beneficiary in edges:
        if guarantor != beneficiary:
            near.setdefault(guarantor, set()).add(beneficiary)
            near.setdefault(beneficiary, set()).add(guarantor)
    for members in groups.values():
        listed = sorted(set(members))
        for client in listed:
            near.setdefault(client, set()).update(m for m in listed if m != client)
    return near


def related(source: str, near: Mapping[str, Iterable[str]], depth: int) -> list[Reached]:
    """Return the clients within `depth` steps of `source` (breadth first, shortest paths,
    ties broken by name so the answer is deterministic), nearest first."""
    paths: dict[str, tuple[str, ...]] = {source: (source,)}
    queue = deque([source])
    reached: list[Reached] = []
    while queue:
        node = queue.popleft()
        path = paths[node]
        if len(path) - 1 >= depth:
            continue
        for other in sorted(near.get(node, ())):
            if other in paths:
                continue
            paths[other] = (*path, other)
            reached.append(Reached(other, len(path), paths[other]))
            queue.append(other)
    return reached
