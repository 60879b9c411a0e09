"""The one error of cron schedules (shared by the schedule, croner and zone modules)."""

from __future__ import annotations


class ScheduleError(ValueError):
    """A schedule the gateway refuses; the message is the human reason.

    `bare` is True for the `schedule.at` timestamp checks, which the official gateway sends as
    the whole error message; every other reason goes out as `invalid cron.<op> params: <reason>`.
    """

    def __init__(self, message: str, *, bare: bool = False) -> None:
        super().__init__(message)
        self.bare = bare
