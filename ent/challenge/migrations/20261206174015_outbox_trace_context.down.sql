-- reverse: modify "outbox_events" table
ALTER TABLE `outbox_events` DROP COLUMN `trace_context`;
