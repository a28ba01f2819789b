"""A program written against the installed exitleft package, for mypy only (it never runs).

It type-checks only when mypy reads the package's own type hints: an installed package
gets them read only if it carries PEP 561's py.typed marker, and without it mypy reports
the import ("missing library stubs or py.typed marker"). The wrong types below the
`type: ignore` comments must stay errors: were the hints ignored, mypy would call those
comments unused (--warn-unused-ignores).
"""

import exitleft
from exitleft import Outcome


def wait_for_item(stage: exitleft.Stage, token: bytes) -> object:
    with stage.ticket(token) as me:
        outcome: Outcome = me.enter(timeout=1.5)
        if outcome is Outcome.HEAD:
            me.exit()
        return me.take()


version: str = exitleft.library_version()
wrong: int = exitleft.library_version()  # type: ignore[assignment]
exitleft.Stage().ticket("a str is not bytes")  # type: ignore[arg-type]
