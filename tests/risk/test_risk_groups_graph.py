"""Guarantee circles (Tarjan SCC) and contagion reach, checked against brute force."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_risk.groups.graph import circles, neighbours, related

NODES = [f"c{i}" for i in range(7)]
edges_strategy = st.lists(
    st.tuples(st.sampled_from(NODES), st.sampled_from(NODES)).filter(lambda e: e[0] != e[1]),
    max_size=20,
)


def reachable(edges, start):
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        for a, b in edges:
            if a == node and b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


@settings(max_examples=200, deadline=None)
@given(edges_strategy)
def test_circles_are_exactly_the_mutually_reachable_sets(edges):
    """Two clients share a circle iff each reaches the other; singletons are no circle."""
    found = circles(edges)
    where = {member: circle for circle in found for member in circle}
    nodes = {n for e in edges for n in e}
    for a, b in itertools.permutations(nodes, 2):
        mutual = b in reachable(edges, a) and a in reachable(edges, b)
        assert mutual == (a in where and where.get(a) == where.get(b))
    assert all(len(c) > 1 and list(c) == sorted(c) for c in found)


@settings(max_examples=200, deadline=None)
@given(edges_strategy, st.integers(min_value=0, max_value=4))
def test_related_is_breadth_first_within_depth(edges, depth):
    """Every client within `depth` undirected steps is reached once, with a shortest path."""
    near = neighbours(edges, {})
    reached = related("c0", near, depth)
    distance = {"c0": 0}
    frontier = ["c0"]
    while frontier:
        nxt = []
        for node in frontier:
            for other in near.get(node, ()):
                if other not in distance:
                    distance[other] = distance[node] + 1
                    nxt.append(other)
        frontier = nxt
    expected = {n for n, d in distance.items() if 0 < d <= depth}
    assert {r.client for r in reached} == expected
    for r in reached:
        assert r.depth == distance[r.client] == len(r.path) - 1
        assert r.path[0] == "c0" and r.path[-1] == r.client
        assert all(b in near[a] for a, b in itertools.pairwise(r.path))


def test_a_chain_of_four_with_one_circle():
    """a→b→c→d is a chain, no circle; d→e→f→d is one circle."""
    edges = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e"), ("e", "f"), ("f", "d")]
    assert circles(edges) == [("d", "e", "f")]


def test_a_long_chain_does_not_recurse():
    """10,000 clients in one ring: one circle, no RecursionError."""
    ring = [(f"n{i}", f"n{(i + 1) % 10_000}") for i in range(10_000)]
    assert [len(c) for c in circles(ring)] == [10_000]


def test_group_members_are_one_step_apart():
    """Fellow members are neighbours; the guarantee chain continues from them."""
    near = neighbours([("m2", "x")], {"g": ["m1", "m2", "m3"]})
    got = {r.client: r.path for r in related("m1", near, 2)}
    assert got == {"m2": ("m1", "m2"), "m3": ("m1", "m3"), "x": ("m1", "m2", "x")}
