-- reverse: modify "inbox_messages" table
ALTER TABLE `inbox_messages` DROP INDEX `inboxmessage_processed_at`;
