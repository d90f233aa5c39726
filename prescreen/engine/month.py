"""Calendar months: families know "May 2024" far more often than an exact day.

Kept in a module of its own because answers, expressions and the outcome's re-check date all use
it, and none of those should have to import the others to get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month: families know "May 2024" far more often than an exact day."""

    year: int
    month: int

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @property
    def ordinal(self) -> int:
        return self.year * 12 + self.month - 1

    @classmethod
    def from_ordinal(cls, n: int) -> Month:
        return cls(n // 12, n % 12 + 1)

    def __add__(self, months: object) -> Month:
        if isinstance(months, int) and not isinstance(months, bool):
            return Month.from_ordinal(self.ordinal + months)
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other: object) -> Month | int:
        if isinstance(other, Month):
            return self.ordinal - other.ordinal
        if isinstance(other, int) and not isinstance(other, bool):
            return Month.from_ordinal(self.ordinal - other)
        return NotImplemented

    def first_day_after(self) -> date:
        """The first day after this month ends: the earliest date we can promise."""
        nxt = self + 1
        return date(nxt.year, nxt.month, 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
