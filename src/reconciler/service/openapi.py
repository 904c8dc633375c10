"""The service's API, as an OpenAPI 3.1 document: what it serves at ``/api/v1/openapi.json``,
what ``schema/runtime-api.json`` holds (a test keeps the two identical), and what every request
body is checked against before a handler reads it (:func:`request_problem`).

One document is the contract three ways: for clients, for schemathesis (which tests that the
service answers as documented), and for the service itself, whose requests are validated by the
very schemas it publishes, so the two cannot drift apart.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from reconciler.model import Action
from reconciler.validation import python_patterns

Json = dict[str, Any]

#: the largest request body the service reads
MAX_BODY = 16 * 1024 * 1024

NAME = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
#: a spec hash, as ``model.spec_hash`` makes it
HASH = r"^sha256:[0-9a-f]{64}$"
#: free text from clients: anything but NUL, which no store keeps
TEXT = r"^[^\u0000]*$"
#: the actions a batch may hold: a plan's (a console's edits have a route of their own)
BATCH_ACTIONS = [a.value for a in Action if a is not Action.EDIT]
ROLES = ["viewer", "manager", "approver", "administrator"]
#: the longest ``ref`` a plan is published under
MAX_REF = 200
#: how many open published plans a listing gives, unless asked for more (at most MAX_PUBLISHED)
PUBLISHED_LIMIT = 50
MAX_PUBLISHED = 500


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _text(limit: int, *, nullable: bool = False) -> Json:
    schema: Json = {"type": ["string", "null"] if nullable else "string"}
    return schema | {"maxLength": limit, "pattern": TEXT}


def _object(properties: Mapping[str, Json], required: list[str], **more: Any) -> Json:
    return {
        "type": "object",
        "properties": dict(properties),
        "required": required,
        "additionalProperties": False,
        **more,
    }


def _loose(properties: Mapping[str, Json], required: list[str]) -> Json:
    """A response object: documented fields, and room for more in later minor versions."""
    return {"type": "object", "properties": dict(properties), "required": required}


SPEC = {
    "type": "object",
    "description": "A complete campaign spec, as the manifest schema's `spec` defines it "
    "(without state, run or copyFrom); checked by the same rules as a manifest's.",
}
NULLABLE_SPEC = SPEC | {"type": ["object", "null"]}
OWNER = _object(
    {
        "owner": _text(500) | {"minLength": 1},
        "pid": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
        "host": _text(255),
        "reason": _text(500),
    },
    ["owner", "pid", "host", "reason"],
)
WRITE = _object(
    {
        "key": _text(500) | {"minLength": 1},
        "action": {"enum": BATCH_ACTIONS},
        "campaign": {"type": "string", "pattern": NAME},
        "expected_etag": _text(64, nullable=True),
        "actor": _text(200),
        "commit": _text(100, nullable=True),
        "dirty": {"type": "boolean"},
        "plan_id": _text(200, nullable=True),
        "file": _text(4096, nullable=True),
        "spec": NULLABLE_SPEC,
        "copied_from": {"type": ["string", "null"], "pattern": NAME},
        "copy_base": NULLABLE_SPEC,
        "activate": {"type": "boolean"},
        "lock_owner": _text(600, nullable=True),
        "adopt": {"type": "boolean"},
        "base_hash": {"type": ["string", "null"], "pattern": HASH},
        # the manifest's: no limit beyond the body's, as the manifest schema sets none
        "title": {"type": ["string", "null"]},
        "labels": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
    },
    ["key", "action", "campaign", "expected_etag", "actor"],
)
ERROR = _loose(
    {
        "kind": {"type": "string"},
        "message": {"type": "string"},
        "holder": {"type": "string"},
    },
    ["kind", "message"],
)
CAMPAIGN = _loose(
    {
        "name": {"type": "string"},
        "channel": {"type": "string"},
        "kind": {"type": "string"},
        "status": {"type": "string"},
        "live": {"type": ["object", "null"]},
        "draft": {"type": ["object", "null"]},
        "etag": {"type": "string"},
        "versions": {"type": "integer"},
        "copied_from": {"type": ["string", "null"]},
        "managed": {"type": "boolean"},
    },
    ["name", "channel", "kind", "status", "live", "draft", "etag"],
)
SENDING = _loose(
    {
        "id": {"type": "string"},
        "campaign": {"type": "string"},
        "version": {"type": "integer"},
        "scheduled": {"type": "string"},
        "outcome": {"type": "string"},
    },
    ["id", "campaign", "version", "scheduled", "outcome"],
)
LOCK = {
    "type": ["object", "null"],
    "properties": {
        "holder": _ref("Owner"),
        "acquired": {"type": "string"},
        "expires": {"type": "string"},
    },
    "required": ["holder", "acquired", "expires"],
}
TOKEN = _loose(
    {
        "name": {"type": "string"},
        "role": {"enum": ROLES},
        "created": {"type": "string"},
        "last_used": {"type": ["string", "null"]},
    },
    ["name", "role", "created", "last_used"],
)

SCHEMAS: dict[str, Json] = {
    "Error": ERROR,
    "Owner": OWNER,
    "Write": WRITE,
    "Batch": _object(
        {"writes": {"type": "array", "items": _ref("Write"), "minItems": 1, "maxItems": 1000}},
        ["writes"],
    ),
    "Result": {
        "oneOf": [
            _loose(
                {
                    "applied": _loose(
                        {
                            "campaign": _ref("Campaign"),
                            "revision": {"type": "integer"},
                            "replayed": {"type": "boolean"},
                        },
                        ["campaign", "revision", "replayed"],
                    )
                },
                ["applied"],
            ),
            _loose({"refused": _ref("Error")}, ["refused"]),
        ]
    },
    "Results": _loose({"results": {"type": "array", "items": _ref("Result")}}, ["results"]),
    "Campaign": CAMPAIGN,
    "Snapshot": _loose(
        {
            "revision": {"type": "integer"},
            "campaigns": {"type": "array", "items": _ref("Campaign")},
        },
        ["revision", "campaigns"],
    ),
    "Runtime": _loose(
        {"runtime_id": {"type": ["string", "null"]}, "revision": {"type": "integer"}},
        ["runtime_id", "revision"],
    ),
    "Keys": _loose({"keys": {"type": "array", "items": {"type": "string"}}}, ["keys"]),
    "HistoryEntry": _loose(
        {
            "seq": {"type": "integer"},
            "revision": {"type": "integer"},
            "at": {"type": "string"},
            "actor": {"type": "string"},
            "operation": {"type": "string"},
            "campaign": {"type": "string"},
        },
        ["seq", "revision", "at", "actor", "operation", "campaign"],
    ),
    "History": _loose({"entries": {"type": "array", "items": _ref("HistoryEntry")}}, ["entries"]),
    "Sending": SENDING,
    "Sendings": _loose({"sendings": {"type": "array", "items": _ref("Sending")}}, ["sendings"]),
    "Lock": LOCK,
    "LockState": _loose({"lock": _ref("Lock")}, ["lock"]),
    "LockRequest": _object(
        {"owner": _ref("Owner"), "ttl": {"type": "number", "minimum": 1, "maximum": 3600}},
        ["owner"],
    ),
    "LockRelease": _object({"owner": _ref("Owner")}, ["owner"]),
    "LockAnswer": _loose(
        {"acquired": {"type": "boolean"}, "lock": _ref("Lock")}, ["acquired", "lock"]
    ),
    "Segments": _loose(
        {"segments": {"type": "object", "additionalProperties": {"type": "integer"}}},
        ["segments"],
    ),
    "SegmentSize": _object(
        {"size": {"type": "integer", "minimum": 0, "maximum": 10**12}}, ["size"]
    ),
    "Tick": _object({"now": {"type": "string", "maxLength": 64, "format": "date-time"}}, []),
    "Steps": _loose(
        {
            "steps": {
                "type": "array",
                "items": _loose(
                    {
                        "campaign": _ref("Campaign"),
                        "sendings": {"type": "array", "items": _ref("Sending")},
                        "events": {"type": "array", "items": {"type": "string"}},
                    },
                    ["campaign", "sendings", "events"],
                ),
            }
        },
        ["steps"],
    ),
    "Edit": _object(
        {"spec": SPEC, "expected_etag": _text(64) | {"minLength": 1}, "actor": _text(200)},
        ["spec", "expected_etag", "actor"],
    ),
    "Creation": _object(
        {
            "name": {"type": "string", "pattern": NAME},
            "spec": SPEC,
            "live": {"type": "boolean"},
            "actor": _text(200),
            "copied_from": {"type": ["string", "null"], "pattern": NAME},
            "copy_base": NULLABLE_SPEC,
            "stopped": {"type": "boolean"},
            "title": {"type": ["string", "null"]},
            "labels": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
        },
        ["name", "spec", "live", "actor"],
    ),
    "Edited": _loose({"campaign": _ref("Campaign")}, ["campaign"]),
    "Token": TOKEN,
    "Tokens": _loose({"tokens": {"type": "array", "items": _ref("Token")}}, ["tokens"]),
    "TokenRequest": _object(
        {"name": {"type": "string", "pattern": NAME}, "role": {"enum": ROLES}}, ["name", "role"]
    ),
    "TokenCreated": _loose({"token": {"type": "string"}, "info": _ref("Token")}, ["token", "info"]),
    "SigningKey": _loose({"key_id": {"type": "string"}}, ["key_id"]),
    "PlanBody": _object({"plan": {"type": "object"}}, ["plan"]),
    "Signature": _loose(
        {
            "algorithm": {"type": "string"},
            "key_id": {"type": "string"},
            "signed_at": {"type": "string"},
            "value": {"type": "string"},
        },
        ["algorithm", "key_id", "signed_at", "value"],
    ),
    "Signed": _loose({"signature": _ref("Signature")}, ["signature"]),
    "Verified": _loose({"key_id": {"type": "string"}}, ["key_id"]),
    "Health": _loose({"status": {"type": "string"}}, ["status"]),
    "SavedPlan": {
        "type": "object",
        "description": "A saved plan, as `plan --out` writes it; checked whole as `apply --plan` "
        "checks one (a plan that is not one is refused with 409)",
        "properties": {
            "format_version": {"type": "integer"},
            "plan_id": {"type": "string", "maxLength": 100},
            "summary": {"type": "object", "additionalProperties": {"type": "integer"}},
            "operations": {"type": "array"},
        },
        "required": ["format_version", "plan_id", "summary", "operations"],
    },
    "PublishedPlan": _loose(
        {
            "id": {"type": "integer"},
            "plan_id": {"type": "string"},
            "ref": {"type": ["string", "null"]},
            "published_at": {"type": "string"},
            "published_by": {"type": "string"},
            "summary": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
        ["id", "plan_id", "ref", "published_at", "published_by", "summary"],
    ),
    "PublishedPlans": _loose(
        {"plans": {"type": "array", "items": _ref("PublishedPlan")}}, ["plans"]
    ),
}


def _json(schema: str, description: str) -> Json:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema)}},
    }


def _errors(*codes: int) -> Json:
    said = {
        400: "A malformed request: not JSON, an unknown field, a value out of range",
        401: "No token, or one the service does not know (revoked, mistyped)",
        403: "The token's role may not do this",
        404: "No such thing",
        409: "Refused: a conflict, the lock held by another, a lifecycle rule",
        413: "The request body is larger than 16 MiB",
        503: "The store cannot be reached; retry",
    }
    return {str(code): _json("Error", said[code]) for code in codes}


#: what every route that needs a token may answer besides its own
AUTHENTICATED = (401, 503)


def _operation(
    summary: str,
    role: str | None,
    ok: Json,
    *,
    body: str | None = None,
    parameters: list[Json] | None = None,
    errors: tuple[int, ...] = (),
    ok_status: str = "200",
) -> Json:
    codes = set(errors)
    if role is not None:
        codes |= set(AUTHENTICATED)
        if role != "viewer":
            codes.add(403)
    if body is not None:
        codes |= {400, 413}
    if parameters:
        codes.add(400)
    op: Json = {
        "summary": summary,
        "description": f"Role: {role}." if role else "No token needed.",
        "responses": {ok_status: ok, **_errors(*sorted(codes))},
    }
    if role is not None:
        op["security"] = [{"token": []}]
    else:
        op["security"] = []
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    if parameters:
        op["parameters"] = parameters
    return op


def _query(name: str, schema: Json, description: str) -> Json:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path(name: str, schema: Json) -> Json:
    return {"name": name, "in": "path", "required": True, "schema": schema}


CAMPAIGN_QUERY = _query("campaign", {"type": "string", "pattern": NAME}, "Only this campaign.")


@functools.cache
def document() -> Json:
    """The OpenAPI document (built once; callers must not change it)."""
    name = _path("name", {"type": "string", "pattern": NAME})
    plain_text = {"description": "Prometheus metrics", "content": {"text/plain": {}}}
    paths: Json = {
        "/healthz": {"get": _operation("Alive", None, _json("Health", "Alive"))},
        "/readyz": {
            "get": _operation("The store answers", None, _json("Health", "Ready"), errors=(503,))
        },
        "/metrics": {"get": _operation("Prometheus metrics", None, plain_text)},
        "/api/v1/openapi.json": {
            "get": _operation(
                "This document",
                None,
                {"description": "OpenAPI 3.1", "content": {"application/json": {}}},
            )
        },
        "/api/v1/runtime": {
            "get": _operation(
                "The runtime's identity and revision", "viewer", _json("Runtime", "The runtime")
            )
        },
        "/api/v1/snapshot": {
            "get": {
                **_operation(
                    "Every campaign at one revision; ETag is the revision",
                    "viewer",
                    _json("Snapshot", "The snapshot"),
                    parameters=[
                        {
                            "name": "If-None-Match",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        }
                    ],
                ),
            }
        },
        "/api/v1/batches": {
            "post": _operation(
                "Apply writes in order in one transaction; a refusal ends the batch",
                "manager",
                _json("Results", "One result per write attempted"),
                body="Batch",
            )
        },
        "/api/v1/applied-keys": {
            "get": _operation(
                "Idempotency keys already applied",
                "viewer",
                _json("Keys", "The keys"),
                parameters=[
                    {**_query("prefix", _text(500), "Keys starting with this."), "required": True}
                ],
            )
        },
        "/api/v1/history": {
            "get": _operation(
                "The audit trail, oldest first",
                "viewer",
                _json("History", "Entries"),
                parameters=[
                    CAMPAIGN_QUERY,
                    _query(
                        "since",
                        {"type": "string", "maxLength": 64, "format": "date-time"},
                        "Entries at or after this RFC 3339 date-time.",
                    ),
                    _query(
                        "after",
                        {"type": "integer", "minimum": 0, "maximum": 2**62},
                        "Entries of revisions after this one.",
                    ),
                ],
            )
        },
        "/api/v1/sendings": {
            "get": _operation(
                "Sendings, oldest slot first",
                "viewer",
                _json("Sendings", "Sendings"),
                parameters=[CAMPAIGN_QUERY],
            )
        },
        "/api/v1/lock": {
            "get": _operation("Who holds the apply lock", "viewer", _json("LockState", "Lock")),
            "post": _operation(
                "Take or renew the apply lock (a lease: renew it before its ttl passes)",
                "manager",
                _json("LockAnswer", "Taken, or who holds it"),
                body="LockRequest",
            ),
        },
        "/api/v1/lock/release": {
            "post": _operation(
                "Release the lock this owner holds",
                "manager",
                _json("LockState", "The lock now"),
                body="LockRelease",
            )
        },
        "/api/v1/lock/break": {
            "post": _operation(
                "Break whoever's lock",
                "administrator",
                _json("LockState", "The lock that was broken"),
            )
        },
        "/api/v1/segments": {
            "get": _operation("Segment sizes", "viewer", _json("Segments", "Segments"))
        },
        "/api/v1/segments/{name}": {
            "put": {
                **_operation(
                    "Set a segment's size",
                    "administrator",
                    _json("Segments", "Segments"),
                    body="SegmentSize",
                ),
                "parameters": [name],
            }
        },
        "/api/v1/tick": {
            "post": _operation(
                "Advance the engine to now (or the time given)",
                "administrator",
                _json("Steps", "What the engine did"),
                body="Tick",
            )
        },
        "/api/v1/console/campaigns": {
            "post": _operation(
                "Make a campaign as from a campaign console: not managed by the reconciler, a "
                "draft or activated (live or scheduled by its start), then stopped when asked, a "
                "copy of copied_from when named (copy_base: its source's live spec); an existing "
                "name is refused (409)",
                "administrator",
                _json("Edited", "The campaign"),
                body="Creation",
                errors=(409,),
            )
        },
        "/api/v1/campaigns/{name}/edits": {
            "post": {
                **_operation(
                    "Write a new live version as from a campaign console",
                    "administrator",
                    _json("Edited", "The campaign"),
                    body="Edit",
                    errors=(404, 409),
                ),
                "parameters": [name],
            }
        },
        "/api/v1/tokens": {
            "get": _operation(
                "The tokens (never their secrets)", "administrator", _json("Tokens", "Tokens")
            ),
            "post": _operation(
                "Create a token; its secret is in this answer only",
                "administrator",
                _json("TokenCreated", "Created"),
                body="TokenRequest",
                errors=(409,),
            ),
        },
        "/api/v1/tokens/{name}": {
            "delete": {
                **_operation(
                    "Revoke a token",
                    "administrator",
                    _json("Tokens", "The tokens left"),
                    errors=(404,),
                ),
                "parameters": [name],
            }
        },
        "/api/v1/signing-key/rotate": {
            "post": _operation(
                "Rotate the plan-signing key", "administrator", _json("SigningKey", "The new key")
            )
        },
        "/api/v1/plans/sign": {
            "post": _operation(
                "Sign a plan with the service's key (the token's role must allow every "
                "operation in it)",
                "approver",
                _json("Signed", "The plan's signature"),
                body="PlanBody",
                errors=(409,),
            )
        },
        "/api/v1/plans/verify": {
            "post": _operation(
                "Check a plan's signature against the service's keys",
                "viewer",
                _json("Verified", "Signed by the service"),
                body="PlanBody",
                errors=(409,),
            )
        },
        "/api/v1/plans": {
            "get": _operation(
                "The open published plans, newest first: the latest of each ref, and each "
                "published without one",
                "viewer",
                _json("PublishedPlans", "The open plans"),
                parameters=[
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": MAX_PUBLISHED},
                        f"At most this many (default {PUBLISHED_LIMIT}).",
                    )
                ],
            ),
            "post": _operation(
                "Publish a saved plan to the dashboard, under a ref (a pull request and commit, "
                "say): it supersedes the plans published under that ref before it",
                "viewer",
                _json("PublishedPlan", "The plan as published"),
                body="SavedPlan",
                parameters=[
                    _query(
                        "ref",
                        _text(MAX_REF) | {"minLength": 1},
                        "What the plan is the plan of; none: the plan stands alone.",
                    )
                ],
                errors=(409,),
            ),
        },
        "/api/v1/events": {
            "get": _operation(
                "Server-sent events: one per change (id: revision; data: revision, campaign, "
                "operation)",
                "viewer",
                {"description": "An event stream", "content": {"text/event-stream": {}}},
                parameters=[
                    _query(
                        "after",
                        {"type": "integer", "minimum": 0, "maximum": 2**62},
                        "Start after this revision (or the Last-Event-ID header).",
                    )
                ],
            )
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "reconciler runtime service",
            "version": "1",
            "description": "A campaign runtime behind HTTP: what `reconciler` commands use "
            "through an http(s):// runtime URL.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
    }


@functools.cache
def _checked_document() -> Json:
    """The document as the validators take it: its patterns with their JSON Schema meaning."""
    checked: Json = python_patterns(document())
    return checked


@functools.cache
def _validator(schema: str) -> Draft202012Validator:
    root = Resource.from_contents(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", **_checked_document()}
    )
    registry: Registry[Any] = Registry().with_resource("urn:reconciler:api", root)
    return Draft202012Validator(
        {"$ref": f"urn:reconciler:api#/components/schemas/{schema}"}, registry=registry
    )


@functools.cache
def _fast(schema: str) -> Callable[[Any], Any]:
    """The schema compiled to code (fastjsonschema): a batch of 500 writes is checked in a few
    milliseconds, where jsonschema takes tens; it only says yes or no."""
    definition = {
        "$ref": f"#/components/schemas/{schema}",
        "components": _checked_document()["components"],
    }
    check: Callable[[Any], Any] = fastjsonschema.compile(
        definition, use_default=False, detailed_exceptions=False
    )
    return check


def request_problem(schema: str, body: Any) -> str | None:
    """What is wrong with a request body, against the named schema; None when nothing is. The
    compiled check says whether; jsonschema, the reference, says what (and decides)."""
    try:
        _fast(schema)(body)
    except fastjsonschema.JsonSchemaException:
        pass
    else:
        return None
    error = next(iter(_validator(schema).iter_errors(body)), None)
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{where.lstrip('.') or 'body'}: {error.message[:300]}"
