"""The journal listener: which pages are current, as the notifications heard tell."""

from __future__ import annotations

from sqlalchemy import create_engine

from pypi_web.cache.listener import LISTENED, JournalListener


def listener_at(max_remembered: int = 10_000) -> JournalListener:
    """A listener that has connected (no thread: notifications are applied by hand)."""
    listener = JournalListener(
        create_engine("postgresql+psycopg://"), max_remembered=max_remembered
    )
    listener._forget_everything()
    listener._live = True
    return listener


def test_a_page_is_current_until_its_project_or_for_index_pages_any_project_changes():
    listener = listener_at()
    filled = listener.generation
    project_page, index_page = (LISTENED, "numpy", filled), (LISTENED, None, filled)
    listener.apply("Django")
    assert listener.is_current(project_page)
    assert not listener.is_current(index_page)
    listener.apply("Flask\nNumPy")  # display names: normalized as the routes are
    assert not listener.is_current(project_page)
    # Rendered after the change was heard, a page shows it: current.
    assert listener.is_current((LISTENED, "numpy", listener.generation))
    # Filled while serials were read per request: not this listener's to vouch for.
    assert not listener.is_current(("project", 1, 1))


def test_a_page_rendered_across_a_change_is_never_current():
    """The generation is read before rendering: a change heard meanwhile makes it old."""
    listener = listener_at()
    token = listener.generation  # as token() gives it to a request
    listener.apply_local(["numpy"])  # committed while the page was being made
    assert not listener.is_current((LISTENED, "numpy", token))
    assert not listener.is_current((LISTENED, None, token))


def test_forgotten_changes_and_everything_notifications_count_for_every_page():
    listener = listener_at(max_remembered=2)
    before = listener.generation
    for name in ("a", "b", "c"):  # "a" is forgotten: any project may have changed then
        listener.apply(name)
    assert not listener.is_current((LISTENED, "zzz", before))
    assert listener.is_current((LISTENED, "zzz", before + 1))  # after "a"
    assert not listener.is_current((LISTENED, "c", before + 2))
    listener.apply("*")
    assert not listener.is_current((LISTENED, "zzz", before + 3))
    assert listener.is_current((LISTENED, "zzz", listener.generation))


def test_a_listener_not_connected_vouches_for_nothing():
    listener = listener_at()
    page_dependency = (LISTENED, "numpy", listener.generation)
    listener._live = False
    assert not listener.is_current(page_dependency)
