-- modify "outbox_events" table
ALTER TABLE `outbox_events` ADD COLUMN `trace_context` text NULL;
