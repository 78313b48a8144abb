CREATE TABLE `checkpoints` (
	`id` text PRIMARY KEY NOT NULL,
	`stream_id` text NOT NULL,
	`tree_size` integer NOT NULL,
	`root_hash` text NOT NULL,
	`note` text NOT NULL,
	`signer_vkey` text NOT NULL,
	`window_id` text NOT NULL,
	`previous_checkpoint_id` text,
	`created_at` text NOT NULL,
	FOREIGN KEY (`stream_id`) REFERENCES `streams`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `checkpoints_stream_size` ON `checkpoints` (`stream_id`,`tree_size`);--> statement-breakpoint
CREATE TABLE `windows` (
	`id` text PRIMARY KEY NOT NULL,
	`stream_id` text NOT NULL,
	`from_seq_no` integer NOT NULL,
	`to_seq_no` integer NOT NULL,
	`window_root` text NOT NULL,
	`checkpoint_id` text NOT NULL,
	`trigger` text NOT NULL,
	`sealed_at` text NOT NULL,
	FOREIGN KEY (`stream_id`) REFERENCES `streams`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `windows_stream_from` ON `windows` (`stream_id`,`from_seq_no`);--> statement-breakpoint
ALTER TABLE `streams` ADD `sealed_seq_no` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `streams` ADD `last_checkpoint_id` text;