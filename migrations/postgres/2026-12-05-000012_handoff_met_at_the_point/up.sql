-- Issue 22 item 1 (п.17): the courier's deadline is met by the arrival at the Kaspi point
-- (Kaspi's acceptance of the registry, at Kaspi's own time), not by the signature at the ЦОН.
-- Handoff deadlines the old rule met at the signature are re-read (only lines that moved the
-- document count: a Kaspi fact recorded late as a note keeps the state it found):
-- 1. accepted since: met at the first acceptance after the deadline began, late if after due;
UPDATE deadlines
SET resolved_at = (
        SELECT MIN(e.occurred_at) FROM status_events e
        WHERE e.shipment_id = deadlines.shipment_id
          AND e.to_status = 'accepted_at_kaspi_point' AND e.from_status = 'handed_to_courier'
          AND e.occurred_at >= deadlines.started_at
    ),
    state = CASE
        WHEN (
            SELECT MIN(e.occurred_at) FROM status_events e
            WHERE e.shipment_id = deadlines.shipment_id
              AND e.to_status = 'accepted_at_kaspi_point' AND e.from_status = 'handed_to_courier'
              AND e.occurred_at >= deadlines.started_at
        ) <= deadlines.due_at THEN 'met'
        ELSE 'met_late'
    END
WHERE kind = 'handoff'
  AND state IN ('met', 'met_late')
  AND EXISTS (
        SELECT 1 FROM status_events e
        WHERE e.shipment_id = deadlines.shipment_id
          AND e.to_status = 'accepted_at_kaspi_point' AND e.from_status = 'handed_to_courier'
          AND e.occurred_at >= deadlines.started_at
    );

-- 2. lost before any acceptance: cancelled at the loss, as every pending deadline of a lost
--    document is (п.22–23);
UPDATE deadlines
SET resolved_at = (
        SELECT MIN(e.occurred_at) FROM status_events e
        WHERE e.shipment_id = deadlines.shipment_id
          AND e.to_status = 'lost' AND e.from_status <> 'lost'
          AND e.occurred_at >= deadlines.started_at
    ),
    state = 'cancelled'
WHERE kind = 'handoff'
  AND state IN ('met', 'met_late')
  AND NOT EXISTS (
        SELECT 1 FROM status_events e
        WHERE e.shipment_id = deadlines.shipment_id
          AND e.to_status = 'accepted_at_kaspi_point' AND e.from_status = 'handed_to_courier'
          AND e.occurred_at >= deadlines.started_at
    )
  AND EXISTS (
        SELECT 1 FROM status_events e
        WHERE e.shipment_id = deadlines.shipment_id
          AND e.to_status = 'lost' AND e.from_status <> 'lost'
          AND e.occurred_at >= deadlines.started_at
    );

-- 3. still with the courier (signed for, not accepted — including an envelope the point did not
--    accept, п.18): open again; the sweeper judges it against its due instant on its next round.
UPDATE deadlines
SET resolved_at = NULL,
    state = 'pending',
    sweep_attempts = 0,
    sweep_after = NULL,
    sweep_error = NULL
WHERE kind = 'handoff'
  AND state IN ('met', 'met_late')
  AND EXISTS (
        SELECT 1 FROM shipments s
        WHERE s.id = deadlines.shipment_id
          AND s.status = 'handed_to_courier'
    );
