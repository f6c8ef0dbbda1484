-- reverse: create "workout_logs" table
DROP TABLE `workout_logs`;
-- reverse: create "outbox_events" table
DROP TABLE `outbox_events`;
-- reverse: create "inbox_messages" table
DROP TABLE `inbox_messages`;
-- reverse: create "challenges" table
DROP TABLE `challenges`;
