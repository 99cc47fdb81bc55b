"""Per-recipient sequence bookkeeping for the push stream's replay buffer.

The push stream promises what etcd's watch promises: ordered, unique, gap-free and resumable.
Each recipient's messages carry sequence numbers 1, 2, 3, …; a client resumes by saying the
last one it received. This module only decides *which* numbers to replay and which the store
may drop; the service owns the storage. It never delivers across a hole: if the numbers after
the client's position are not contiguous (the buffer was trimmed past it, or a write is
missing), it raises GapError and the client must resynchronise from its inbox instead.
"""

from __future__ import annotations

from collections.abc import Sequence


class GapError(Exception):
    """The next sequence the client needs is not available, so replay would skip messages."""

    def __init__(self, expected: int, found: int) -> None:
        super().__init__(f"sequence gap: expected {expected}, next available is {found}")
        self.expected = expected
        self.found = found


class ReplayWindow:
    """Acknowledged positions per recipient and replay rules for a buffer of `max_buffer`."""

    def __init__(self, max_buffer: int) -> None:
        """Create a window that replays and retains at most `max_buffer` messages per recipient."""
        if max_buffer < 1:
            raise ValueError("max_buffer must be at least 1")
        self.max_buffer = max_buffer
        self._acked: dict[str, int] = {}

    def last_acked(self, recipient: str) -> int:
        """Return the highest sequence the recipient acknowledged, 0 if none."""
        return self._acked.get(recipient, 0)

    def acknowledge(self, recipient: str, sequence: int) -> int:
        """Record an acknowledgement and return the recipient's highest acknowledged sequence.

        Acknowledgements only move forward: a late or duplicated lower one is ignored, so a
        reordered ack can never make the stream go back in time.
        """
        if sequence < 0:
            raise ValueError("sequence numbers are not negative")
        highest = max(self.last_acked(recipient), sequence)
        self._acked[recipient] = highest
        return highest

    def pending_after(self, last_acked: int, available: Sequence[int]) -> list[int]:
        """Return the sequences to replay after `last_acked`, in order, at most `max_buffer`.

        Duplicates in `available` are delivered once. Raise GapError when the first number
        after `last_acked` is missing or the run breaks before the batch is full.
        """
        if last_acked < 0:
            raise ValueError("sequence numbers are not negative")
        ahead = sorted({seq for seq in available if seq > last_acked})
        batch: list[int] = []
        expected = last_acked + 1
        for seq in ahead[: self.max_buffer]:
            if seq != expected:
                raise GapError(expected=expected, found=seq)
            batch.append(seq)
            expected += 1
        return batch

    def evictable(self, recipient: str, available: Sequence[int]) -> list[int]:
        """Return the buffered sequences the store may drop for this recipient.

        Everything acknowledged can go. Beyond that, only the newest `max_buffer` unacknowledged
        messages are kept; a client further behind gets GapError on resume and resyncs.
        """
        acked = self.last_acked(recipient)
        buffered = sorted(set(available))
        done = [seq for seq in buffered if seq <= acked]
        unacked = [seq for seq in buffered if seq > acked]
        overflow = max(0, len(unacked) - self.max_buffer)
        return done + unacked[:overflow]
