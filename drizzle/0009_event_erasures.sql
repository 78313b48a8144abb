CREATE TABLE `event_erasures` (
	`event_id` text PRIMARY KEY NOT NULL,
	`stream_id` text NOT NULL,
	`seq_no` integer NOT NULL,
	`erased_at` text NOT NULL,
	`reason` text NOT NULL,
	`erasure_event_id` text NOT NULL,
	`erased_by_key` text NOT NULL,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`erasure_event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `event_erasures_erasure_event` ON `event_erasures` (`erasure_event_id`);--> statement-breakpoint
CREATE INDEX `event_erasures_stream` ON `event_erasures` (`stream_id`,`seq_no`);