// Type-checked (not run) by .ci/clients/run against the TypeScript types generated from
// openapi/openapi.json: a typed openapi-fetch client sending Kaspi's events and a clerk's
// intake as an integrator would write them. A schema that stops describing these calls fails
// `tsc --noEmit`.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/schema";

type KaspiEvent = components["schemas"]["KaspiEvent"];

const placed: KaspiEvent = {
  event_id: "kaspi-evt-2",
  occurred_at: "2026-12-07T09:35:00Z",
  type: "placed_in_cell",
  waybill: "WB-100500",
  postamat_id: "PST-ALA-0042",
  cell: "C-17",
};

// The discriminator narrows: a placed_in_cell event has a cell, a collected one has not.
function cellOf(event: KaspiEvent): string | undefined {
  return event.type === "placed_in_cell" ? event.cell : undefined;
}

export async function integrate(base: string, token: string, signature: string): Promise<void> {
  const client = createClient<paths>({ baseUrl: base });
  const sent = await client.POST("/api/v1/integrations/kaspi/events", {
    params: {
      header: {
        "webhook-id": "msg_1",
        "webhook-timestamp": 1796636100,
        "webhook-signature": signature,
      },
    },
    body: placed,
  });
  if (sent.data) {
    const outcome: string = sent.data.outcome;
    console.log(outcome, cellOf(placed));
  }
  const batch = await client.POST("/api/v1/integrations/kaspi/events/batch", {
    params: {
      header: {
        "webhook-id": "msg_2",
        "webhook-timestamp": 1796636100,
        "webhook-signature": signature,
      },
    },
    body: {
      events: [
        placed,
        { event_id: "e3", occurred_at: "2026-12-07T10:00:00Z", type: "collected", waybill: "WB-100500" },
      ],
    },
  });
  console.log(batch.response.status);
  const taken = await client.POST("/api/v1/intake", {
    headers: { Authorization: `Bearer ${token}` },
    body: { application_numbers: ["WALK-1"] },
  });
  console.log(taken.data?.items.length);
}
