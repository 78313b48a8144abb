CREATE TABLE `anchor_epochs` (
	`id` text PRIMARY KEY NOT NULL,
	`epoch_root` text NOT NULL,
	`leaf_count` integer NOT NULL,
	`token` text,
	`tsa_chain` text,
	`gen_time` text,
	`created_at` text NOT NULL,
	`stamped_at` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text
);
--> statement-breakpoint
CREATE TABLE `anchor_leaves` (
	`checkpoint_id` text PRIMARY KEY NOT NULL,
	`epoch_id` text NOT NULL,
	`leaf_index` integer NOT NULL,
	`checkpoint_hash` text NOT NULL,
	FOREIGN KEY (`checkpoint_id`) REFERENCES `checkpoints`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`epoch_id`) REFERENCES `anchor_epochs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `anchor_leaves_epoch` ON `anchor_leaves` (`epoch_id`,`leaf_index`);--> statement-breakpoint
CREATE TABLE `cosignatures` (
	`checkpoint_id` text NOT NULL,
	`witness` text NOT NULL,
	`vkey` text NOT NULL,
	`timestamp` integer NOT NULL,
	`line` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`checkpoint_id`, `witness`),
	FOREIGN KEY (`checkpoint_id`) REFERENCES `checkpoints`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `witness_state` (
	`witness` text NOT NULL,
	`stream_id` text NOT NULL,
	`cosigned_size` integer DEFAULT 0 NOT NULL,
	`last_success_at` text,
	`last_error` text,
	`last_error_at` text,
	PRIMARY KEY(`witness`, `stream_id`),
	FOREIGN KEY (`stream_id`) REFERENCES `streams`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
ALTER TABLE `streams` ADD `witness_quorum` integer;