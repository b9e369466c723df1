"""Schemathesis hooks for the CI fuzz pass (.ci/fuzz/run).

Each operation is called as the role that may call it, with keys made by `postamat keys create`
and passed in the environment; Kaspi's status events carry no key but a Standard Webhooks
signature, computed here over the exact bytes sent (the recipe in src/domain/webhook.rs).
"""

import base64
import hashlib
import hmac
import json
import os
import time
import uuid

import schemathesis
from schemathesis.core import NotSet

KEYS = {
    role: os.environ[f"FUZZ_KEY_{role.upper()}"]
    for role in (
        "admin",
        "supervisor",
        "national_supervisor",
        "accumulation_clerk",
        "issuance_clerk",
        "kaspi",
        "registry_office",
    )
}
# The run's own keys: revoking one would turn the rest of the pass into 401s.
OWN_KEY_IDS = set(os.environ["FUZZ_OWN_KEY_IDS"].split(","))
SECRET = base64.b64decode(os.environ["FUZZ_WEBHOOK_SECRET"].removeprefix("whsec_"))

SIGNED = {"/api/v1/integrations/kaspi/events", "/api/v1/integrations/kaspi/events/batch"}

SUPERVISOR_PREFIXES = (
    "/api/v1/disputes",
    "/api/v1/force-majeure",
    "/api/v1/exceptions",
    "/api/v1/reports",
    "/api/v1/discrepancies",
    "/api/v1/outbox",
)


def role_for(method: str, path: str) -> str:
    """The role whose key calls an operation (the policies in src/api/auth.rs)."""
    if path.startswith("/api/v1/admin/"):
        return "admin"
    if method in ("PUT", "DELETE") and path.startswith(("/api/v1/branches/", "/api/v1/postamats/")):
        return "admin"
    if path.startswith("/api/v1/integrations/registry-office/"):
        return "registry_office"
    if path == "/api/v1/integrations/kaspi/events":  # GET: the waiting and rejected events
        return "supervisor"
    if path.startswith("/api/v1/integrations/kaspi/"):
        return "kaspi"
    if path.startswith(SUPERVISOR_PREFIXES):
        return "supervisor"
    if path.startswith("/api/v1/calendar/") and path.endswith(("/edits", "/decree-swaps")):
        # The calendar is the whole country's: national supervisors edit it.
        return "national_supervisor"
    if path.endswith(("/issue", "/transfer", "/duplicates")):
        return "issuance_clerk"
    return "accumulation_clerk"


def body_bytes(case) -> bytes:
    if isinstance(case.body, NotSet):
        return b""
    if isinstance(case.body, bytes):
        return case.body
    return json.dumps(case.body, ensure_ascii=False).encode("utf-8")


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = dict(case.headers or {})
    method = case.method.upper()
    path = case.operation.path
    if method == "POST" and path in SIGNED:
        body = body_bytes(case)
        # The bytes signed are the bytes sent.
        kwargs["data"] = body
        message_id = f"fuzz-{uuid.uuid4()}"
        timestamp = str(int(time.time()))
        tag = hmac.new(SECRET, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256)
        headers["webhook-id"] = message_id
        headers["webhook-timestamp"] = timestamp
        headers["webhook-signature"] = "v1," + base64.b64encode(tag.digest()).decode()
        headers.pop("Authorization", None)
    elif path.startswith("/api/"):
        headers["Authorization"] = f"Bearer {KEYS[role_for(method, path)]}"
    if path == "/api/v1/admin/keys/{id}/revoke" and str(case.path_parameters.get("id")) in OWN_KEY_IDS:
        case.path_parameters = {**case.path_parameters, "id": str(uuid.uuid4())}
    case.headers = headers
