"""Every plan action's facts, in one table.

What each view needs to know of an action (its symbol, its colour, how risky it is, what a count of
it is called, where the summary puts it) is a row here, not a dictionary in each view: adding an
action is one row in this table and its rules in the lifecycle, and ``tests/test_actions.py``
checks that every action has every fact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.model import Action

# ANSI select graphic rendition codes, as the text views paint with them
GREEN, YELLOW, RED, CYAN = "32", "33", "31", "36"


@dataclass(frozen=True)
class Facts:
    symbol: str  # before the action's name in text and markdown: + ~ -/+ -
    colour: str  # the ANSI colour of its line in a terminal
    #: review order, riskiest first: a stop cancels sendings for good, a replace swaps what
    #: customers receive, a create only adds a draft nobody sees
    risk: int
    noun: str  # what the markdown comment counts: "… and 3 more activations"
    nouns: str
    #: the summary's order: the order in which a person wants to read what a plan does
    summary: int


FACTS: Mapping[Action, Facts] = {
    Action.CREATE: Facts("+", GREEN, 7, "creation", "creations", 0),
    Action.ACTIVATE: Facts("+", GREEN, 3, "activation", "activations", 1),
    Action.COPY: Facts("+", GREEN, 4, "copy", "copies", 2),
    Action.UPDATE: Facts("~", YELLOW, 5, "update", "updates", 3),
    Action.REPLACE: Facts("-/+", YELLOW, 1, "replacement", "replacements", 4),
    Action.DISCARD: Facts("-", RED, 6, "discard", "discards", 5),
    Action.STOP: Facts("-", RED, 0, "stop", "stops", 6),
    Action.RESUME: Facts("+", GREEN, 2, "resumption", "resumptions", 7),
    # the least risky of all: nothing of the campaign changes, only who manages it
    Action.ADOPT: Facts("<=", CYAN, 8, "adoption", "adoptions", 8),
}

#: the actions a plan may hold, in the summary's order and in review order
SUMMARY_ORDER: tuple[Action, ...] = tuple(sorted(FACTS, key=lambda a: FACTS[a].summary))
RISK_ORDER: tuple[Action, ...] = tuple(sorted(FACTS, key=lambda a: FACTS[a].risk))
