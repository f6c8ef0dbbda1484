-- create "user_time_zones" table
CREATE TABLE `user_time_zones` (`id` bigint NOT NULL AUTO_INCREMENT, `time_zone` varchar(64) NOT NULL, `as_of` datetime(6) NOT NULL, PRIMARY KEY (`id`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
