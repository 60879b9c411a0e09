"""core/errors.is_interrupt: Ctrl-C as the commands see it after trio.run."""

from __future__ import annotations

import pytest
import trio

from openclaw_gateway.core.errors import is_interrupt


def test_a_plain_or_grouped_keyboard_interrupt_is_an_interrupt() -> None:
    assert is_interrupt(KeyboardInterrupt())
    assert is_interrupt(BaseExceptionGroup("g", [KeyboardInterrupt()]))
    assert is_interrupt(BaseExceptionGroup("g", [ValueError(), KeyboardInterrupt()]))
    assert is_interrupt(
        BaseExceptionGroup("outer", [BaseExceptionGroup("inner", [KeyboardInterrupt()])])
    )


def test_other_failures_are_not() -> None:
    assert not is_interrupt(ValueError())
    assert not is_interrupt(ExceptionGroup("g", [ValueError(), OSError()]))
    assert not is_interrupt(SystemExit(1))


def test_a_keyboard_interrupt_raised_in_a_background_task_reaches_us_grouped() -> None:
    """What made `logs --follow` exit 1 on Ctrl-C now and then: trio delivers SIGINT to the
    task that runs at that moment, here a nursery child, and trio.run raises a group."""

    async def main() -> None:
        async def child() -> None:
            raise KeyboardInterrupt

        async with trio.open_nursery() as nursery:
            nursery.start_soon(child)
            await trio.sleep_forever()

    with pytest.raises(BaseExceptionGroup) as caught:
        trio.run(main)
    assert is_interrupt(caught.value)
