-- reverse: create "user_time_zones" table
DROP TABLE `user_time_zones`;
