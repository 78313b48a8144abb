ALTER TABLE `api_keys` ADD `bootstrap` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- Keys installed from PROOFSTREAM_BOOTSTRAP_KEY before this column existed were not marked. They are the only keys
-- the server itself makes: tenant and system "default", every scope. Mark those, so the next start retires them
-- unless the variable still names them (a CLI key made with exactly that shape is retired too, and logged).
UPDATE `api_keys` SET `bootstrap` = 1
WHERE `revoked_at` IS NULL
  AND `scopes` = '["streams:write","events:write","read","audit"]'
  AND `tenant_id` IN (SELECT `id` FROM `tenants` WHERE `name` = 'default')
  AND `system_id` IN (SELECT `id` FROM `systems` WHERE `name` = 'default');
