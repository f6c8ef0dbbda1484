-- modify "refresh_tokens" table
ALTER TABLE `refresh_tokens` ADD COLUMN `family_started_at` datetime(6) NULL;
-- backfill: a token's own created_at is the latest its family can have started
-- (the family may be older), so an existing sign-in's cap can only come later
-- than it should, never earlier
UPDATE `refresh_tokens` SET `family_started_at` = `created_at`;
ALTER TABLE `refresh_tokens` MODIFY COLUMN `family_started_at` datetime(6) NOT NULL;
