"""The dashboard's ``st.session_state`` keys, all spelled here.

Per page ``p`` (its ``PAGE`` name, also its URL path):

=================  ================================================================================
``p.<control>``    a control's widget value (restored from the URL or from this session)
``p.<button>``     a button's widget key (``p.play``, ``p.pin``, ...)
``p.pins``         the pinned settings overlaid on the current one
``_saved.p``       the page's last control values, restored when the page is visited again
``_hide.p``        the controls hidden by ``?hide=``
``_warnings.p``    the invalid-link warnings shown on this visit
``_player.p``      the player's state: the live run, playing or not, mid-run changes
``_result.p``      the page's headline numbers after each run (read by the tests and benchmarks)
``_clock.p``       the compute clock of the page's current run or playback frame (:mod:`app_pages.ui`)
=================  ================================================================================

App-wide: :data:`QP_WRITTEN` (the page and parameters last mirrored to the URL) and
:data:`SERVER_SECONDS` (server time of the last script run, written by app.py).
"""

from __future__ import annotations

QP_WRITTEN = "_qp_written"
SERVER_SECONDS = "_server_seconds"


def widget(page: str, name: str) -> str:
    """A control's or button's widget key on ``page``."""
    return f"{page}.{name}"


def pins(page: str) -> str:
    return widget(page, "pins")


def saved(page: str) -> str:
    return f"_saved.{page}"


def hidden(page: str) -> str:
    return f"_hide.{page}"


def warnings(page: str) -> str:
    return f"_warnings.{page}"


def player(page: str) -> str:
    return f"_player.{page}"


def result(page: str) -> str:
    return f"_result.{page}"


def clock(page: str) -> str:
    return f"_clock.{page}"
