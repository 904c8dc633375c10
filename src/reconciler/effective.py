"""A campaign's effective spec: what its manifest amounts to once copying is taken into account.

A manifest without ``copyFrom`` is its own spec. With ``copyFrom``, its ``spec`` may be partial and
is laid over a base (:func:`reconciler.model.overlay`):

- a copy already in the runtime overlays its ``copy_base``, the source's live spec at the moment
  of the copy (copying happened once; later changes to the source do not flow into it);
- a new copy overlays its source's live spec as it will be once the manifests are applied: from
  the source's manifest when the repository has one that will be live (``state: live``, ``run:
  running``), else from the runtime (the live version it keeps: a draft or stopped manifest leaves
  it in place), else none: the source does not exist, or has never been live.

A pure function of (manifests, runtime snapshot), as planning is, with the planner's words for
what cannot be resolved. It assumes the plan is applied as written: a source whose own change the
plan would refuse is still read from its manifest.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.manifests import cycle_message
from reconciler.model import DesiredState, Manifest, Run, RuntimeState, Spec, overlay
from reconciler.validation import validate_spec

__all__ = ["Resolved", "Resolver"]

#: a spec, or why there is none (a message, as the planner words it)
Resolved = tuple[Spec, None] | tuple[None, str]


class Resolver:
    """Effective and live specs of the campaigns of ``manifests`` over ``state``, each worked out
    once (a chain of copies shares its links)."""

    def __init__(self, manifests: Mapping[str, Manifest], state: RuntimeState) -> None:
        self.manifests = manifests
        self.state = state
        self._live: dict[str, Spec | str | None] = {}  # a spec, None (never live), or a problem

    def effective(self, manifest: Manifest) -> Resolved:
        """The spec ``manifest`` describes, with its copy base laid under it; or why there is
        none."""
        if manifest.copy_from is None:
            return manifest.spec, None
        campaign = self.state.get(manifest.name)
        if campaign is not None:  # copied already, from this base
            return self._checked(manifest, overlay(campaign.copy_base or {}, manifest.spec))
        source = manifest.copy_from
        live = self.live(source)
        if isinstance(live, str):
            if source in self.manifests:
                return None, f"copyFrom source {source!r} has errors; fix it first"
            return None, live
        if live is None:
            return None, (
                f"copyFrom names {source!r}, which has never been live; "
                "only a campaign that has been live can be duplicated"
            )
        return self._checked(manifest, overlay(live, manifest.spec))

    def live(self, name: str) -> Spec | str | None:
        """The live spec campaign ``name`` will have once the manifests are applied: a spec, None
        when it will never have been live, or a message when it cannot be told."""
        if name not in self._live:
            # follow a chain of new copies to its first link that needs no other, then come back
            # up it: no recursion, however long the chain
            chain: list[str] = []
            link: str | None = name
            while link is not None and link not in self._live:
                if link in chain:  # the loader reports cycles: this is for other callers
                    self._live[link] = cycle_message([*chain[chain.index(link) :], link])
                    break
                chain.append(link)
                link = self._source(link)
            for link in reversed(chain):
                if link not in self._live:
                    self._live[link] = self._live_of(link)
        return self._live[name]

    def _source(self, name: str) -> str | None:
        """The campaign whose live spec ``name``'s is made from: a new copy's source that will
        be live from its manifest; None when ``name``'s live spec needs no other's."""
        manifest = self.manifests.get(name)
        if manifest is None or not _goes_live(manifest) or self.state.get(name) is not None:
            return None
        return manifest.copy_from

    def _live_of(self, name: str) -> Spec | str | None:
        manifest = self.manifests.get(name)
        campaign = self.state.get(name)
        if manifest is not None and _goes_live(manifest):
            spec, problem = self.effective(manifest)
            return spec if problem is None else problem
        if campaign is None:
            if manifest is not None:
                return None  # a draft, or a new campaign that is to start stopped: never live
            return f"copyFrom names {name!r}, which does not exist"
        return campaign.live.spec if campaign.live is not None else None

    def _checked(self, manifest: Manifest, spec: Spec) -> Resolved:
        problems = validate_spec(spec)
        if problems:
            return None, f"{problems[0]} (after copying from {manifest.copy_from!r})"
        return spec, None


def _goes_live(manifest: Manifest) -> bool:
    return manifest.state is DesiredState.LIVE and manifest.run is Run.RUNNING
