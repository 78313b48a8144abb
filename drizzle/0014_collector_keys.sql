CREATE TABLE `collector_items` (
	`tenant_id` text NOT NULL,
	`key_id` text NOT NULL,
	`item_id` text NOT NULL,
	`digest` text NOT NULL,
	`record_id` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`tenant_id`, `key_id`, `item_id`)
);
--> statement-breakpoint
CREATE TABLE `collector_keys` (
	`tenant_id` text NOT NULL,
	`key_id` text NOT NULL,
	`public_key` text NOT NULL,
	`name` text,
	`created_at` text NOT NULL,
	`revoked_at` text,
	PRIMARY KEY(`tenant_id`, `key_id`),
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
