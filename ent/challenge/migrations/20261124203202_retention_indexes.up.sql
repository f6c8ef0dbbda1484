-- modify "inbox_messages" table
ALTER TABLE `inbox_messages` ADD INDEX `inboxmessage_processed_at` (`processed_at`);
