"""Every plan action has every fact the views need, in the one table (``reconciler.actions``)."""

from __future__ import annotations

import dataclasses

from reconciler.actions import FACTS, RISK_ORDER, SUMMARY_ORDER, Facts
from reconciler.model import ALLOWED, Action
from reconciler.plan import ACTION_ORDER, SHAPE


def test_every_action_a_plan_may_hold_has_every_fact() -> None:
    plan_actions = set(Action) - {Action.EDIT}  # an edit is a console's, never a plan's
    assert set(FACTS) == plan_actions
    for action, facts in FACTS.items():
        for field in dataclasses.fields(Facts):
            assert getattr(facts, field.name) not in (None, ""), (action, field.name)
    assert set(ALLOWED) >= set(FACTS)  # and the lifecycle's law says where each may be applied


def test_the_orders_are_total_and_each_place_is_taken_once() -> None:
    assert sorted(f.risk for f in FACTS.values()) == list(range(len(FACTS)))
    assert sorted(f.summary for f in FACTS.values()) == list(range(len(FACTS)))
    # an adoption changes nothing of the campaign: the least risky of all, after a new draft
    assert RISK_ORDER[0] is Action.STOP and RISK_ORDER[-2:] == (Action.CREATE, Action.ADOPT)
    assert SUMMARY_ORDER == ACTION_ORDER
    assert SHAPE["properties"]["operations"]["items"]["properties"]["action"]["enum"] == [
        a.value for a in SUMMARY_ORDER
    ]


def test_symbols_and_colours_are_what_the_views_show() -> None:
    shown = {a.value: (f.symbol, f.colour) for a, f in FACTS.items()}
    assert shown == {
        "create": ("+", "32"),
        "activate": ("+", "32"),
        "copy": ("+", "32"),
        "update": ("~", "33"),
        "replace": ("-/+", "33"),
        "discard": ("-", "31"),
        "stop": ("-", "31"),
        "resume": ("+", "32"),
        "adopt": ("<=", "36"),
    }
