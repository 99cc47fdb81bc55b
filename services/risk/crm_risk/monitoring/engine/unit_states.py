"""The engine's per-unit state and how it is saved and restored.

A unit's state (its traced loan money, windows and seen posting ids) changes with every
posting; the service saves the units that changed (``dirty_units``) in short checkpoints and
restores them at start. The whole-engine ``snapshot`` is for tests and tools.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from crm_risk.monitoring.engine.state import FORMAT_VERSION, UnitState


class UnitStates:
    """Per-unit state of a monitoring engine, with its persistence."""

    _label: str
    _states: dict[str, UnitState]
    _dirty: set[str]

    def snapshot(self) -> bytes:
        """Return the state of every unit as one compact JSON document."""
        document = {
            "v": FORMAT_VERSION,
            "ruleset": self._label,
            "units": {uid: self._states[uid].to_dict() for uid in sorted(self._states)},
        }
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()

    def restore(self, data: bytes) -> None:
        """Replace all unit state with a ``snapshot``; raise ``ValueError`` if malformed."""
        try:
            document: dict[str, Any] = json.loads(data)
            if document.get("v") != FORMAT_VERSION:
                msg = f"unsupported snapshot format {document.get('v')!r}"
                raise ValueError(msg)
            states = {str(uid): UnitState.from_dict(raw)
                      for uid, raw in document["units"].items()}
        except (KeyError, TypeError, AttributeError) as exc:
            msg = f"malformed monitoring snapshot: {exc}"
            raise ValueError(msg) from exc
        self._states = states
        self._dirty.clear()

    def snapshot_units(self, unit_ids: Iterable[str]) -> dict[str, bytes]:
        """Return per-unit state blobs (e.g. of ``dirty_units()``) for incremental saves."""
        return {uid: self._states[uid].to_bytes() for uid in unit_ids if uid in self._states}

    def restore_unit(self, unit_id: str, data: bytes) -> None:
        """Load one unit's state blob (from ``snapshot_units``)."""
        state = UnitState.from_bytes(data)
        if state.unit_id != unit_id:
            msg = f"state blob belongs to {state.unit_id!r}, not {unit_id!r}"
            raise ValueError(msg)
        self._states[unit_id] = state
        self._dirty.discard(unit_id)

    def unit_ids(self) -> list[str]:
        """Return the units that have state in memory."""
        return list(self._states)

    def drop_units(self, unit_ids: Iterable[str]) -> None:
        """Forget units' state (their partition moved to another replica)."""
        for unit_id in unit_ids:
            self._states.pop(unit_id, None)
            self._dirty.discard(unit_id)

    def dirty_units(self) -> set[str]:
        """Return the units whose state changed since the last ``mark_clean``."""
        return set(self._dirty)

    def mark_clean(self, unit_ids: Iterable[str] | None = None) -> None:
        """Mark ``unit_ids`` (all if None) as persisted."""
        if unit_ids is None:
            self._dirty.clear()
        else:
            self._dirty.difference_update(unit_ids)

    def unit_state(self, unit_id: str) -> UnitState | None:
        """Return the live state of a unit (for inspection; do not mutate)."""
        return self._states.get(unit_id)

    @property
    def unit_count(self) -> int:
        """Return how many units have state in memory."""
        return len(self._states)
