UPDATE notifications
SET dedup_key = substr(dedup_key, 1, length(dedup_key) - length(channel) - 1)
WHERE kind IN ('placed_in_cell', 'delivery_late', 'storage_reminder')
  AND dedup_key LIKE ('%:' || channel);
