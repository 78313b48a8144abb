CREATE TABLE `cosigned_checkpoints` (
	`origin` text PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`root_hash` text NOT NULL,
	`checkpoint` text NOT NULL,
	`updated_at` text NOT NULL
);
