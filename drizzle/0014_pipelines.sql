CREATE TABLE `pipeline_execution_logs` (
	`execution_id` text NOT NULL,
	`position` integer NOT NULL,
	`kind` text NOT NULL,
	`step` text,
	`at` text NOT NULL,
	`level` text NOT NULL,
	`message` text NOT NULL,
	`data` text,
	PRIMARY KEY(`execution_id`, `position`),
	FOREIGN KEY (`execution_id`) REFERENCES `pipeline_executions`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `pipeline_execution_logs_step` ON `pipeline_execution_logs` (`execution_id`,`step`,`position`);--> statement-breakpoint
CREATE TABLE `pipeline_executions` (
	`id` text PRIMARY KEY NOT NULL,
	`pipeline_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`system_id` text NOT NULL,
	`status` text NOT NULL,
	`environment` text,
	`variable_names` text NOT NULL,
	`options` text NOT NULL,
	`runner` text NOT NULL,
	`steps` text NOT NULL,
	`exit_code` integer,
	`started_at` text NOT NULL,
	`completed_at` text,
	`duration_ms` integer,
	`error` text,
	`receipt` text,
	`receipt_hash` text,
	`event_id` text,
	`seq_no` integer,
	`key_id` text NOT NULL,
	FOREIGN KEY (`pipeline_id`) REFERENCES `pipelines`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `pipeline_executions_pipeline` ON `pipeline_executions` (`pipeline_id`,`started_at`);--> statement-breakpoint
CREATE INDEX `pipeline_executions_status` ON `pipeline_executions` (`status`);--> statement-breakpoint
CREATE TABLE `pipelines` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`system_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`config` text NOT NULL,
	`pipeline_hash` text NOT NULL,
	`stream_id` text NOT NULL,
	`status` text NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`event_id` text NOT NULL,
	`execution_count` integer NOT NULL,
	`completed_count` integer NOT NULL,
	`finished_count` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`stream_id`) REFERENCES `streams`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `pipelines_list` ON `pipelines` (`tenant_id`,`created_at`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `pipelines_stream` ON `pipelines` (`stream_id`);