-- reverse: modify "users" table
ALTER TABLE `users` DROP COLUMN `time_zone`;
