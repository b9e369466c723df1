"""A short integration through the Python client generated from openapi/openapi.json.

Run by .ci/clients/run against a running service: reference data, an application from Kaspi,
the registry office's execution, Kaspi's order, a clerk's intake, the envelope, the registry and
the courier, then Kaspi's status events, each signed with the official `standardwebhooks`
package, and a read. Every answer must be the documented success model; anything else fails.

Usage: python scenario.py BASE_URL  (ADMIN, KASPI, RAGS keys and KASPI_SECRET in the environment)
"""

import datetime
import json
import os
import sys
import uuid

from standardwebhooks import Webhook

from postamat_client import AuthenticatedClient, Client
from postamat_client.api.admin import create_key, put_branch, put_postamat
from postamat_client.api.clerks import (
    create_registry,
    get_shipment,
    hand_over,
    intake,
    label_envelope,
    seal_registry,
)
from postamat_client.api.integrations import (
    order_created,
    receive_event,
    register_application,
    registry_office_event,
)
from postamat_client.models import (
    Branch,
    BranchDetails,
    CreateKey,
    CreatedKey,
    CreateRegistry,
    EventApplied,
    EventResult,
    HandOver,
    IntakeRequest,
    IntakeResult,
    KaspiEventAcceptedAtPoint,
    KaspiEventPlacedInCell,
    LabelRequest,
    OrderCreated,
    OrderRecorded,
    Postamat,
    PostamatDetails,
    RegisterApplication,
    Registry,
    RegistryOfficeEvent,
    ShipmentDetail,
)
from postamat_client.models.application_view import ApplicationView

BASE = sys.argv[1]
NOW = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def client(key_env):
    return AuthenticatedClient(base_url=BASE, token=os.environ[key_env], raise_on_unexpected_status=True)


def expect(response, model, step):
    if not isinstance(response.parsed, model):
        body = response.content.decode(errors="replace")
        sys.exit(f"{step}: HTTP {response.status_code}, expected {model.__name__}: {body}")
    print(f"{step}: HTTP {response.status_code} {model.__name__}")
    return response.parsed


# Kaspi's side: the body the generated client sends is signed in a request hook, so the
# signature covers exactly the bytes on the wire (Standard Webhooks).
webhook = Webhook(os.environ["KASPI_SECRET"])


def sign(request):
    msg_id = request.headers["webhook-id"]
    at = datetime.datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), datetime.timezone.utc)
    request.headers["webhook-signature"] = webhook.sign(msg_id, at, request.content.decode())


kaspi_events = Client(base_url=BASE, httpx_args={"event_hooks": {"request": [sign]}})


def kaspi_event(body, step):
    response = receive_event.sync_detailed(
        client=kaspi_events,
        body=body,
        webhook_id=f"msg_{uuid.uuid4().hex}",
        webhook_timestamp=int(datetime.datetime.now().timestamp()),
        webhook_signature="v1,signed-by-the-request-hook",
    )
    result = expect(response, EventResult, step)
    if result.outcome.value != "applied":
        sys.exit(f"{step}: outcome {result.outcome.value}: {result.detail}")
    return result


admin, kaspi, rags = client("ADMIN"), client("KASPI"), client("RAGS")

expect(
    put_branch.sync_detailed(
        "ALM01",
        client=admin,
        body=BranchDetails.from_dict(
            {
                "name_kk": "Алматы қаласы бойынша №1 ХҚКО",
                "name_ru": "ЦОН №1 города Алматы",
                "city": "Алматы",
                "city_code": "750000000",
                "address_kk": "Алматы қ., Абай даңғ., 10",
                "address_ru": "г. Алматы, пр. Абая, 10",
            }
        ),
    ),
    Branch,
    "admin: branch",
)
expect(
    put_postamat.sync_detailed(
        "PST-ALA-0042",
        client=admin,
        body=PostamatDetails.from_dict(
            {
                "city": "г. Алматы",
                "city_code": "750000000",
                "address_kk": "Төле би к-сі, 55",
                "address_ru": "ул. Толе би, 55",
            }
        ),
    ),
    Postamat,
    "admin: postamat",
)


def staff_key(role, name):
    """A key for the branch's staff, made by the admin through the API."""
    created = expect(
        create_key.sync_detailed(
            client=admin, body=CreateKey.from_dict({"name": name, "role": role, "branch": "ALM01"})
        ),
        CreatedKey,
        f"admin: {role} key",
    )
    return AuthenticatedClient(base_url=BASE, token=created.token, raise_on_unexpected_status=True)


clerk = staff_key("accumulation_clerk", "Айгерим")
courier = staff_key("state_courier", "Ерлан")
expect(
    register_application.sync_detailed(
        client=kaspi,
        body=RegisterApplication.from_dict(
            {
                "application_number": "PY-1",
                "applicant_iin": "870412300109",
                "applicant_name": "Нұрланова Айгерім",
                "phone": "8 701 123 45 67",
                "language": "kk",
                "delivery_method": "postamat",
                "postamat_id": "PST-ALA-0042",
                "registry_office_code": "RAGS-ALM-3",
                "branch": "ALM01",
                "submitted_at": NOW,
            }
        ),
    ),
    ApplicationView,
    "kaspi: application",
)
expect(
    registry_office_event.sync_detailed(
        client=rags,
        body=RegistryOfficeEvent.from_dict(
            {"event_id": "rags-py-1", "application_number": "PY-1", "status": "executed", "occurred_at": NOW}
        ),
    ),
    EventApplied,
    "registry office: executed",
)
expect(
    order_created.sync_detailed(
        client=kaspi,
        body=OrderCreated.from_dict(
            {
                "event_id": "kaspi-order-py-1",
                "application_number": "PY-1",
                "kaspi_order_id": "K-PY-1",
                "waybill": "WB-PY-1",
                "occurred_at": NOW,
            }
        ),
    ),
    OrderRecorded,
    "kaspi: order",
)
taken = expect(
    intake.sync_detailed(client=clerk, body=IntakeRequest.from_dict({"application_numbers": ["PY-1"]})),
    IntakeResult,
    "clerk: intake",
)
shipment = taken.items[0].shipment_id
expect(
    label_envelope.sync_detailed(shipment, client=clerk, body=LabelRequest.from_dict({"waybill": "WB-PY-1"})),
    ShipmentDetail,
    "clerk: label",
)
registry = expect(
    create_registry.sync_detailed(client=clerk, body=CreateRegistry.from_dict({"application_numbers": ["PY-1"]})),
    Registry,
    "clerk: registry",
)
sealed = expect(seal_registry.sync_detailed(registry.id, client=clerk), Registry, "clerk: seal")
expect(
    hand_over.sync_detailed(registry.id, client=courier, body=HandOver.from_dict({"courier_name": "Ерлан Б."})),
    Registry,
    "courier: hand over",
)
kaspi_event(
    KaspiEventAcceptedAtPoint.from_dict(
        {
            "event_id": "kaspi-py-evt-1",
            "occurred_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "type": "accepted_at_point",
            "handoff_registry": sealed.number,
            "kaspi_registry_number": "KSP-REG-PY-1",
            "accepted_waybills": ["WB-PY-1"],
        }
    ),
    "kaspi: accepted at point (signed)",
)
kaspi_event(
    KaspiEventPlacedInCell.from_dict(
        {
            "event_id": "kaspi-py-evt-2",
            "occurred_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "type": "placed_in_cell",
            "waybill": "WB-PY-1",
            "postamat_id": "PST-ALA-0042",
            "cell": "C-17",
        }
    ),
    "kaspi: placed in cell (signed)",
)
detail = expect(get_shipment.sync_detailed(shipment, client=clerk), ShipmentDetail, "clerk: read")
state = detail.state.value
if state != "placed_in_cell":
    sys.exit(f"the shipment is {state}, expected placed_in_cell")
print(json.dumps({"shipment": str(shipment), "state": state, "timeline": len(detail.timeline)}))
print("scenario: every step answered as documented")
