CREATE TABLE `packs` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`stream_id` text NOT NULL,
	`from_seq_no` integer NOT NULL,
	`to_seq_no` integer NOT NULL,
	`checkpoint_id` text NOT NULL,
	`file_path` text NOT NULL,
	`sha256` text NOT NULL,
	`byte_size` integer NOT NULL,
	`created_at` text NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`stream_id`) REFERENCES `streams`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `packs_stream` ON `packs` (`stream_id`,`from_seq_no`);--> statement-breakpoint
CREATE INDEX `packs_tenant_created` ON `packs` (`tenant_id`,`created_at`);