-- Issue 22 item 3 (п.11): the wait at the Kaspi point ends when the document leaves it
-- (`out_for_delivery`), not when it is placed in a cell. Deadlines the old rule resolved, or
-- left open while the document was already on its way, are re-read against the first time the
-- document left the point after the wait began: met if by the due instant, met late otherwise.
-- Cancelled ones stay cancelled; a document never reported out for delivery keeps its
-- placement (a placement straight from the point is still when it left).
UPDATE deadlines
SET resolved_at = (
        SELECT MIN(e.occurred_at) FROM status_events e
        WHERE e.shipment_id = deadlines.shipment_id
          AND e.to_status = 'out_for_delivery'
          AND e.occurred_at >= deadlines.started_at
    ),
    state = CASE
        WHEN (
            SELECT MIN(e.occurred_at) FROM status_events e
            WHERE e.shipment_id = deadlines.shipment_id
              AND e.to_status = 'out_for_delivery'
              AND e.occurred_at >= deadlines.started_at
        ) <= deadlines.due_at THEN 'met'
        ELSE 'met_late'
    END
WHERE kind = 'point_wait'
  AND state IN ('pending', 'breached', 'met', 'met_late')
  AND EXISTS (
        SELECT 1 FROM status_events e
        WHERE e.shipment_id = deadlines.shipment_id
          AND e.to_status = 'out_for_delivery'
          AND e.occurred_at >= deadlines.started_at
    );
