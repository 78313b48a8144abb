DROP INDEX `idempotency_expires`;--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_merkle_nodes` (
	`stream_id` text NOT NULL,
	`pos` integer NOT NULL,
	`level` integer NOT NULL,
	`idx` integer NOT NULL,
	`hash` blob NOT NULL,
	PRIMARY KEY(`stream_id`, `pos`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_merkle_nodes`("stream_id", "pos", "level", "idx", "hash") SELECT "stream_id", ((("idx" + 1) << "level") - 1) * 64 + "level", "level", "idx", "hash" FROM `merkle_nodes` ORDER BY 1, 2;--> statement-breakpoint
DROP TABLE `merkle_nodes`;--> statement-breakpoint
ALTER TABLE `__new_merkle_nodes` RENAME TO `merkle_nodes`;--> statement-breakpoint
PRAGMA foreign_keys=ON;