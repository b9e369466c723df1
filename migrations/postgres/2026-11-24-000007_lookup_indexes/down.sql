DROP INDEX kaspi_events_waybill_idx;
DROP INDEX shipments_application_idx;
