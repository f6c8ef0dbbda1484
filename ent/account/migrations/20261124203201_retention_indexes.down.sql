-- reverse: modify "refresh_tokens" table
ALTER TABLE `refresh_tokens` DROP INDEX `refreshtoken_expires_at`;
-- reverse: modify "inbox_messages" table
ALTER TABLE `inbox_messages` DROP INDEX `inboxmessage_processed_at`;
