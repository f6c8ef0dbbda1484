-- modify "inbox_messages" table
ALTER TABLE `inbox_messages` ADD INDEX `inboxmessage_processed_at` (`processed_at`);
-- modify "refresh_tokens" table
ALTER TABLE `refresh_tokens` ADD INDEX `refreshtoken_expires_at` (`expires_at`);
