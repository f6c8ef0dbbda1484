-- reverse: create "refresh_tokens" table
DROP TABLE `refresh_tokens`;
-- reverse: create "users" table
DROP TABLE `users`;
-- reverse: create "outbox_events" table
DROP TABLE `outbox_events`;
-- reverse: create "inbox_messages" table
DROP TABLE `inbox_messages`;
