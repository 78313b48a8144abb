ALTER TABLE `api_keys` ADD `expires_at` text;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `tenant_wide` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- The bootstrap key is the operator's key: it keeps acting on every stream of its tenant, as every key did before.
-- Keys made with `keys create` become what their system says (their own system's streams only).
UPDATE `api_keys` SET `tenant_wide` = 1 WHERE `bootstrap` = 1;
