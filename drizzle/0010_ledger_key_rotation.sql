ALTER TABLE `ledger_keys` ADD `valid_from` text;--> statement-breakpoint
ALTER TABLE `ledger_keys` ADD `valid_until` text;