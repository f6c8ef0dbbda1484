-- modify "challenges" table
ALTER TABLE `challenges` ADD COLUMN `progression` enum('fixed','linear','double') NOT NULL DEFAULT 'fixed', ADD COLUMN `deload_after` int NOT NULL DEFAULT 0, ADD COLUMN `deload_percent` int NOT NULL DEFAULT 0, ADD COLUMN `min_reps` int NOT NULL DEFAULT 0, ADD COLUMN `max_reps` int NOT NULL DEFAULT 0;
