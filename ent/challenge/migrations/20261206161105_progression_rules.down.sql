-- reverse: modify "challenges" table
ALTER TABLE `challenges` DROP COLUMN `max_reps`, DROP COLUMN `min_reps`, DROP COLUMN `deload_percent`, DROP COLUMN `deload_after`, DROP COLUMN `progression`;
