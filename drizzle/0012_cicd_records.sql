CREATE TABLE `cicd_records` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`tenant_id` text NOT NULL,
	`system_id` text NOT NULL,
	`stream_id` text NOT NULL,
	`repository_key` text NOT NULL,
	`record` text NOT NULL,
	`status` text,
	`attestation_type` text,
	`passed` integer,
	`pr_number` integer,
	`artifact_sha256` text,
	`environment` text,
	`pipeline_run_id` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`event_id` text NOT NULL,
	`seq_no` integer NOT NULL,
	`event_count` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`stream_id`) REFERENCES `streams`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `cicd_records_list` ON `cicd_records` (`tenant_id`,`kind`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `cicd_records_sha256` ON `cicd_records` (`tenant_id`,`kind`,`artifact_sha256`);--> statement-breakpoint
CREATE INDEX `cicd_records_environment` ON `cicd_records` (`tenant_id`,`kind`,`environment`,`created_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `cicd_records_artifact` ON `cicd_records` (`tenant_id`,`artifact_sha256`) WHERE "kind" = 'artifact';--> statement-breakpoint
CREATE TABLE `cicd_repositories` (
	`tenant_id` text NOT NULL,
	`repository_key` text NOT NULL,
	`repository_full_name` text NOT NULL,
	`stream_id` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`tenant_id`, `repository_key`),
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`stream_id`) REFERENCES `streams`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `cicd_repositories_stream` ON `cicd_repositories` (`stream_id`);