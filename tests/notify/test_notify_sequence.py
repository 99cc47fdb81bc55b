"""Tests for the push stream's per-recipient replay window."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_notify.domain.sequence import GapError, ReplayWindow


class TestPendingAfter:
    def test_replays_contiguous_run_in_order(self):
        """Everything after the client's position comes back in order, once."""
        window = ReplayWindow(max_buffer=10)
        assert window.pending_after(3, [6, 4, 5, 5, 2, 3]) == [4, 5, 6]

    def test_nothing_pending(self):
        """A client that is up to date gets an empty batch."""
        assert ReplayWindow(10).pending_after(7, [5, 6, 7]) == []
        assert ReplayWindow(10).pending_after(0, []) == []

    def test_trimmed_buffer_is_a_gap(self):
        """If the next needed sequence was evicted, replay refuses rather than skip it."""
        with pytest.raises(GapError) as info:
            ReplayWindow(10).pending_after(3, [6, 7])
        assert (info.value.expected, info.value.found) == (4, 6)

    def test_hole_in_the_middle_is_a_gap(self):
        """A missing sequence inside the run is never skipped over."""
        with pytest.raises(GapError) as info:
            ReplayWindow(10).pending_after(0, [1, 2, 4])
        assert (info.value.expected, info.value.found) == (3, 4)

    def test_batch_is_limited_to_max_buffer(self):
        """One replay batch holds at most max_buffer messages."""
        assert ReplayWindow(3).pending_after(0, range(1, 10)) == [1, 2, 3]

    @settings(max_examples=200, deadline=None)
    @given(last=st.integers(0, 50), present=st.sets(st.integers(1, 80)))
    def test_result_is_ordered_unique_and_gap_free(self, last, present):
        """Any answer starts right after last_acked and has no holes; otherwise GapError."""
        window = ReplayWindow(max_buffer=16)
        try:
            batch = window.pending_after(last, sorted(present))
        except GapError as exc:
            assert exc.expected not in present and exc.found in present
            return
        assert batch == list(range(last + 1, last + 1 + len(batch)))
        assert set(batch) <= present and len(batch) <= 16


class TestAcknowledgements:
    def test_acks_only_move_forward(self):
        """A stale or duplicate acknowledgement never lowers the position."""
        window = ReplayWindow(5)
        assert window.last_acked("rm-1") == 0
        assert window.acknowledge("rm-1", 4) == 4
        assert window.acknowledge("rm-1", 2) == 4
        assert window.last_acked("rm-1") == 4
        assert window.last_acked("rm-2") == 0

    def test_evictable_keeps_newest_unacked(self):
        """Acked messages and overflow beyond max_buffer may be dropped, oldest first."""
        window = ReplayWindow(3)
        window.acknowledge("rm-1", 2)
        assert window.evictable("rm-1", [1, 2, 3, 4, 5, 6, 7]) == [1, 2, 3, 4]
        assert window.evictable("rm-1", [3, 4]) == []

    def test_resume_after_eviction_reports_gap(self):
        """A client behind the retained range gets GapError and must resync."""
        window = ReplayWindow(3)
        available = [1, 2, 3, 4, 5, 6]
        kept = sorted(set(available) - set(window.evictable("rm-1", available)))
        assert kept == [4, 5, 6]
        with pytest.raises(GapError):
            window.pending_after(0, kept)
        assert window.pending_after(3, kept) == [4, 5, 6]

    def test_invalid_arguments(self):
        """Buffers hold at least one message and sequences are not negative."""
        with pytest.raises(ValueError):
            ReplayWindow(0)
        with pytest.raises(ValueError):
            ReplayWindow(1).acknowledge("x", -1)
        with pytest.raises(ValueError):
            ReplayWindow(1).pending_after(-1, [])
