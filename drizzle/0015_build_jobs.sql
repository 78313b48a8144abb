CREATE TABLE `build_events` (
	`job_id` text NOT NULL,
	`position` integer NOT NULL,
	`data` text NOT NULL,
	PRIMARY KEY(`job_id`, `position`),
	FOREIGN KEY (`job_id`) REFERENCES `build_jobs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `build_jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`system_id` text NOT NULL,
	`key_id` text NOT NULL,
	`status` text NOT NULL,
	`pipeline_id` text,
	`config` text NOT NULL,
	`created_at` text NOT NULL,
	`started_at` text,
	`completed_at` text,
	`error` text,
	`error_type` text,
	`event_count` integer NOT NULL,
	`stream_id` text,
	`seq_no` integer,
	`event_id` text,
	`result_bytes` integer,
	`result_removed_at` text,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `build_jobs_status` ON `build_jobs` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `build_jobs_tenant` ON `build_jobs` (`tenant_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `build_streams` (
	`tenant_id` text NOT NULL,
	`system_id` text NOT NULL,
	`stream_id` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`tenant_id`, `system_id`),
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`stream_id`) REFERENCES `streams`(`id`) ON UPDATE no action ON DELETE no action
);
