-- modify "users" table
ALTER TABLE `users` ADD COLUMN `time_zone` varchar(64) NOT NULL DEFAULT 'UTC';
