"""Give a generated book the client ids of real clients (the demo's, created by the client service).

The generator names its firms ``c00001``...; a demo that streams the book into a running platform
wants the postings to belong to clients the client service created, so that warnings reach their
RMs and segments. Every place a client id appears is rewritten: postings (owner and counterparty
client), client contexts and their related parties, facilities, labels and the clean set.
"""

from __future__ import annotations

from dataclasses import replace

from crm_risk.monitoring.engine.model import ClientContext
from crm_sim.monitoring.world import World


def _context(context: ClientContext, ids: dict[str, str]) -> ClientContext:
    parties = tuple(
        replace(p, client_id=ids.get(p.client_id, p.client_id)) if p.client_id else p
        for p in context.related_parties
    )
    return replace(context, client_id=ids[context.client_id], related_parties=parties)


def relabel(world: World, ids: dict[str, str]) -> World:
    """Return ``world`` with each synthetic client id ``k`` replaced by ``ids[k]``.

    ``ids`` must cover every client of the world; a client id that is not a key (a counterparty
    firm of another bank, say) is left as it is.
    """
    missing = set(world.clients) - set(ids)
    if missing:
        msg = f"{len(missing)} synthetic clients have no real id, e.g. {sorted(missing)[0]}"
        raise ValueError(msg)
    return replace(
        world,
        clients={ids[k]: _context(v, ids) for k, v in world.clients.items()},
        facilities={
            k: replace(v, client_id=ids[v.client_id]) for k, v in world.facilities.items()
        },
        transactions=[
            replace(
                t,
                client_id=ids[t.client_id],
                counterparty_client=ids.get(t.counterparty_client, t.counterparty_client),
            )
            for t in world.transactions
        ],
        labels=[replace(x, client_id=ids[x.client_id]) for x in world.labels],
        clean_client_ids=frozenset(ids[c] for c in world.clean_client_ids),
        hard_negatives={ids[k]: v for k, v in world.hard_negatives.items()},
    )
