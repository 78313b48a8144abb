CREATE TABLE `merkle_tiles` (
	`stream_id` text NOT NULL,
	`tile_level` integer NOT NULL,
	`tile_idx` integer NOT NULL,
	`hashes` blob NOT NULL,
	PRIMARY KEY(`stream_id`, `tile_level`, `tile_idx`)
);
