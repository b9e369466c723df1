DROP TABLE outbound_messages;
DROP TABLE notifications;
DROP TABLE loss_acts;
DROP TABLE discrepancies;
DROP TABLE kaspi_events;
