CREATE TABLE `evidence_stalls` (
	`checkpoint_id` text NOT NULL,
	`reason` text NOT NULL,
	`stream_id` text NOT NULL,
	`announced_at` text NOT NULL,
	PRIMARY KEY(`checkpoint_id`, `reason`)
);
