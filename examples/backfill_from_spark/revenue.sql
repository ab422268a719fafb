-- The user's SQL: one row per paid order, with the columns the backfill reads
-- (key, time, value). {{data}} is replaced by the dataset's folder.
SELECT shop AS key,
       ts AS time,
       amount_cents AS value
FROM json.`{{data}}`
WHERE status = 'paid'
