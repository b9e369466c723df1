-- Every message to a citizen now has one dedup-key form, `<shipment>:<kind>[:<cause>]:<channel>`
-- (workflows::notify). Keys written before it lacked the channel for placed_in_cell,
-- delivery_late and storage_reminder; they get it, so a cause already told is not told again.
UPDATE notifications
SET dedup_key = dedup_key || ':' || channel
WHERE dedup_key NOT LIKE ('%:' || channel);
