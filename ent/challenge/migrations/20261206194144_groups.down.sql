-- reverse: create "group_participants" table
DROP TABLE `group_participants`;
-- reverse: create "group_invites" table
DROP TABLE `group_invites`;
-- reverse: modify "challenges" table
ALTER TABLE `challenges` DROP FOREIGN KEY `challenges_challenge_groups_participations`, DROP INDEX `challenges_challenge_groups_participations`, DROP COLUMN `group_id`;
-- reverse: modify "user_profiles" table
ALTER TABLE `user_profiles` DROP COLUMN `display_name`;
-- reverse: rename "user_time_zones" to "user_profiles"
RENAME TABLE `user_profiles` TO `user_time_zones`;
-- reverse: create "challenge_groups" table
DROP TABLE `challenge_groups`;
