CREATE TABLE "anchor_epochs" (
	"id" text PRIMARY KEY NOT NULL,
	"epoch_root" text NOT NULL,
	"leaf_count" bigint NOT NULL,
	"token" text,
	"tsa_chain" text,
	"gen_time" text,
	"created_at" text NOT NULL,
	"stamped_at" text,
	"attempts" bigint DEFAULT 0 NOT NULL,
	"last_error" text
);
--> statement-breakpoint
CREATE TABLE "anchor_leaves" (
	"checkpoint_id" text PRIMARY KEY NOT NULL,
	"epoch_id" text NOT NULL,
	"leaf_index" bigint NOT NULL,
	"checkpoint_hash" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"system_id" text NOT NULL,
	"key_hash" text NOT NULL,
	"prefix" text NOT NULL,
	"scopes" text NOT NULL,
	"created_at" text NOT NULL,
	"revoked_at" text,
	"bootstrap" bigint DEFAULT 0 NOT NULL,
	"expires_at" text,
	"tenant_wide" bigint DEFAULT 0 NOT NULL,
	"tier" text DEFAULT 'unlimited' NOT NULL,
	CONSTRAINT "api_keys_key_hash_unique" UNIQUE("key_hash")
);
--> statement-breakpoint
CREATE TABLE "build_events" (
	"job_id" text NOT NULL,
	"position" bigint NOT NULL,
	"data" text NOT NULL,
	CONSTRAINT "build_events_job_id_position_pk" PRIMARY KEY("job_id","position")
);
--> statement-breakpoint
CREATE TABLE "build_jobs" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"system_id" text NOT NULL,
	"key_id" text NOT NULL,
	"status" text NOT NULL,
	"pipeline_id" text,
	"config" text NOT NULL,
	"created_at" text NOT NULL,
	"started_at" text,
	"completed_at" text,
	"error" text,
	"error_type" text,
	"event_count" bigint NOT NULL,
	"stream_id" text,
	"seq_no" bigint,
	"event_id" text,
	"result_bytes" bigint,
	"result_removed_at" text
);
--> statement-breakpoint
CREATE TABLE "build_streams" (
	"tenant_id" text NOT NULL,
	"system_id" text NOT NULL,
	"stream_id" text NOT NULL,
	"created_at" text NOT NULL,
	CONSTRAINT "build_streams_tenant_id_system_id_pk" PRIMARY KEY("tenant_id","system_id")
);
--> statement-breakpoint
CREATE TABLE "checkpoints" (
	"id" text PRIMARY KEY NOT NULL,
	"stream_id" text NOT NULL,
	"tree_size" bigint NOT NULL,
	"root_hash" text NOT NULL,
	"note" text NOT NULL,
	"signer_vkey" text NOT NULL,
	"window_id" text NOT NULL,
	"previous_checkpoint_id" text,
	"created_at" text NOT NULL,
	"rowid" bigint GENERATED ALWAYS AS IDENTITY (sequence name "checkpoints_rowid_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1)
);
--> statement-breakpoint
CREATE TABLE "cicd_records" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"tenant_id" text NOT NULL,
	"system_id" text NOT NULL,
	"stream_id" text NOT NULL,
	"repository_key" text NOT NULL,
	"record" text NOT NULL,
	"status" text,
	"attestation_type" text,
	"passed" bigint,
	"pr_number" bigint,
	"artifact_sha256" text,
	"environment" text,
	"pipeline_run_id" text,
	"created_at" text NOT NULL,
	"updated_at" text NOT NULL,
	"event_id" text NOT NULL,
	"seq_no" bigint NOT NULL,
	"event_count" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "cicd_repositories" (
	"tenant_id" text NOT NULL,
	"repository_key" text NOT NULL,
	"repository_full_name" text NOT NULL,
	"stream_id" text NOT NULL,
	"created_at" text NOT NULL,
	CONSTRAINT "cicd_repositories_tenant_id_repository_key_pk" PRIMARY KEY("tenant_id","repository_key")
);
--> statement-breakpoint
CREATE TABLE "collector_items" (
	"tenant_id" text NOT NULL,
	"key_id" text NOT NULL,
	"item_id" text NOT NULL,
	"digest" text NOT NULL,
	"record_id" text NOT NULL,
	"created_at" text NOT NULL,
	CONSTRAINT "collector_items_tenant_id_key_id_item_id_pk" PRIMARY KEY("tenant_id","key_id","item_id")
);
--> statement-breakpoint
CREATE TABLE "collector_keys" (
	"tenant_id" text NOT NULL,
	"key_id" text NOT NULL,
	"public_key" text NOT NULL,
	"name" text,
	"created_at" text NOT NULL,
	"revoked_at" text,
	CONSTRAINT "collector_keys_tenant_id_key_id_pk" PRIMARY KEY("tenant_id","key_id")
);
--> statement-breakpoint
CREATE TABLE "connector_runs" (
	"connector_id" text NOT NULL,
	"external_id" text NOT NULL,
	"run_id" text NOT NULL,
	"created_at" text NOT NULL,
	CONSTRAINT "connector_runs_connector_id_external_id_pk" PRIMARY KEY("connector_id","external_id")
);
--> statement-breakpoint
CREATE TABLE "connectors" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"system_id" text NOT NULL,
	"provider" text NOT NULL,
	"name" text NOT NULL,
	"secret" text NOT NULL,
	"created_at" text NOT NULL,
	"revoked_at" text
);
--> statement-breakpoint
CREATE TABLE "cosignatures" (
	"checkpoint_id" text NOT NULL,
	"witness" text NOT NULL,
	"vkey" text NOT NULL,
	"timestamp" bigint NOT NULL,
	"line" text NOT NULL,
	"created_at" text NOT NULL,
	CONSTRAINT "cosignatures_checkpoint_id_witness_pk" PRIMARY KEY("checkpoint_id","witness")
);
--> statement-breakpoint
CREATE TABLE "event_erasures" (
	"event_id" text PRIMARY KEY NOT NULL,
	"stream_id" text NOT NULL,
	"seq_no" bigint NOT NULL,
	"erased_at" text NOT NULL,
	"reason" text NOT NULL,
	"erasure_event_id" text NOT NULL,
	"erased_by_key" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" text PRIMARY KEY NOT NULL,
	"stream_id" text NOT NULL,
	"seq_no" bigint NOT NULL,
	"source_ref" text NOT NULL,
	"event_type" text NOT NULL,
	"occurred_at" text,
	"received_at" text NOT NULL,
	"payload" text,
	"salt" text,
	"payload_commitment" text NOT NULL,
	"event_hash" text NOT NULL,
	"previous_event_hash" text NOT NULL,
	"stream_head_hash" text NOT NULL,
	"protocol" text NOT NULL,
	"kid" text NOT NULL,
	"signature" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "evidence_stalls" (
	"checkpoint_id" text NOT NULL,
	"reason" text NOT NULL,
	"stream_id" text NOT NULL,
	"announced_at" text NOT NULL,
	CONSTRAINT "evidence_stalls_checkpoint_id_reason_pk" PRIMARY KEY("checkpoint_id","reason")
);
--> statement-breakpoint
CREATE TABLE "idempotency_records" (
	"tenant_id" text NOT NULL,
	"key" text NOT NULL,
	"fingerprint" text NOT NULL,
	"status" bigint NOT NULL,
	"response_body" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"rowid" bigint GENERATED ALWAYS AS IDENTITY (sequence name "idempotency_records_rowid_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	CONSTRAINT "idempotency_records_tenant_id_key_pk" PRIMARY KEY("tenant_id","key")
);
--> statement-breakpoint
CREATE TABLE "ledger_keys" (
	"kid" text PRIMARY KEY NOT NULL,
	"alg" text NOT NULL,
	"public_key" text NOT NULL,
	"created_at" text NOT NULL,
	"retired_at" text,
	"valid_from" text,
	"valid_until" text
);
--> statement-breakpoint
CREATE TABLE "merkle_nodes" (
	"stream_id" text NOT NULL,
	"pos" bigint NOT NULL,
	"level" bigint NOT NULL,
	"idx" bigint NOT NULL,
	"hash" "bytea" NOT NULL,
	CONSTRAINT "merkle_nodes_stream_id_pos_pk" PRIMARY KEY("stream_id","pos")
);
--> statement-breakpoint
CREATE TABLE "merkle_tiles" (
	"stream_id" text NOT NULL,
	"tile_level" bigint NOT NULL,
	"tile_idx" bigint NOT NULL,
	"hashes" "bytea" NOT NULL,
	CONSTRAINT "merkle_tiles_stream_id_tile_level_tile_idx_pk" PRIMARY KEY("stream_id","tile_level","tile_idx")
);
--> statement-breakpoint
CREATE TABLE "packs" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"stream_id" text NOT NULL,
	"from_seq_no" bigint NOT NULL,
	"to_seq_no" bigint NOT NULL,
	"checkpoint_id" text NOT NULL,
	"file_path" text NOT NULL,
	"sha256" text NOT NULL,
	"byte_size" bigint NOT NULL,
	"created_at" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pipeline_execution_logs" (
	"execution_id" text NOT NULL,
	"position" bigint NOT NULL,
	"kind" text NOT NULL,
	"step" text,
	"at" text NOT NULL,
	"level" text NOT NULL,
	"message" text NOT NULL,
	"data" text,
	CONSTRAINT "pipeline_execution_logs_execution_id_position_pk" PRIMARY KEY("execution_id","position")
);
--> statement-breakpoint
CREATE TABLE "pipeline_executions" (
	"id" text PRIMARY KEY NOT NULL,
	"pipeline_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"system_id" text NOT NULL,
	"status" text NOT NULL,
	"environment" text,
	"variable_names" text NOT NULL,
	"options" text NOT NULL,
	"runner" text NOT NULL,
	"steps" text NOT NULL,
	"exit_code" bigint,
	"started_at" text NOT NULL,
	"completed_at" text,
	"duration_ms" bigint,
	"error" text,
	"receipt" text,
	"receipt_hash" text,
	"event_id" text,
	"seq_no" bigint,
	"key_id" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pipelines" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"system_id" text NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"config" text NOT NULL,
	"pipeline_hash" text NOT NULL,
	"stream_id" text NOT NULL,
	"status" text NOT NULL,
	"created_at" text NOT NULL,
	"updated_at" text NOT NULL,
	"event_id" text NOT NULL,
	"execution_count" bigint NOT NULL,
	"completed_count" bigint NOT NULL,
	"finished_count" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "streams" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"system_id" text NOT NULL,
	"use_case" text NOT NULL,
	"policy_id" text,
	"metadata" text,
	"window_policy" text,
	"kind" text DEFAULT 'v2' NOT NULL,
	"created_at" text NOT NULL,
	"head_seq_no" bigint DEFAULT 0 NOT NULL,
	"head_hash" text NOT NULL,
	"last_event_hash" text NOT NULL,
	"frontier" "bytea" NOT NULL,
	"sealed_seq_no" bigint DEFAULT 0 NOT NULL,
	"last_checkpoint_id" text,
	"witness_quorum" bigint
);
--> statement-breakpoint
CREATE TABLE "systems" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"created_at" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"created_at" text NOT NULL,
	CONSTRAINT "tenants_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"id" text PRIMARY KEY NOT NULL,
	"webhook_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"event_type" text NOT NULL,
	"subject_id" text NOT NULL,
	"status" text NOT NULL,
	"attempts" bigint DEFAULT 0 NOT NULL,
	"last_status_code" bigint,
	"last_error" text,
	"next_attempt_at" text NOT NULL,
	"give_up_at" text NOT NULL,
	"created_at" text NOT NULL,
	"delivered_at" text
);
--> statement-breakpoint
CREATE TABLE "webhooks" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"system_id" text,
	"stream_id" text,
	"url" text NOT NULL,
	"events" text NOT NULL,
	"secret" text NOT NULL,
	"active" bigint NOT NULL,
	"description" text,
	"created_at" text NOT NULL,
	"updated_at" text NOT NULL,
	"disabled_at" text,
	"disabled_reason" text,
	"failing_since" text
);
--> statement-breakpoint
CREATE TABLE "windows" (
	"id" text PRIMARY KEY NOT NULL,
	"stream_id" text NOT NULL,
	"from_seq_no" bigint NOT NULL,
	"to_seq_no" bigint NOT NULL,
	"window_root" text NOT NULL,
	"checkpoint_id" text NOT NULL,
	"trigger" text NOT NULL,
	"sealed_at" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "witness_state" (
	"witness" text NOT NULL,
	"stream_id" text NOT NULL,
	"cosigned_size" bigint DEFAULT 0 NOT NULL,
	"last_success_at" text,
	"last_error" text,
	"last_error_at" text,
	CONSTRAINT "witness_state_witness_stream_id_pk" PRIMARY KEY("witness","stream_id")
);
--> statement-breakpoint
ALTER TABLE "anchor_leaves" ADD CONSTRAINT "anchor_leaves_checkpoint_id_checkpoints_id_fk" FOREIGN KEY ("checkpoint_id") REFERENCES "public"."checkpoints"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "anchor_leaves" ADD CONSTRAINT "anchor_leaves_epoch_id_anchor_epochs_id_fk" FOREIGN KEY ("epoch_id") REFERENCES "public"."anchor_epochs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_system_id_systems_id_fk" FOREIGN KEY ("system_id") REFERENCES "public"."systems"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "build_events" ADD CONSTRAINT "build_events_job_id_build_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."build_jobs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "build_jobs" ADD CONSTRAINT "build_jobs_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "build_streams" ADD CONSTRAINT "build_streams_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "build_streams" ADD CONSTRAINT "build_streams_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "checkpoints" ADD CONSTRAINT "checkpoints_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cicd_records" ADD CONSTRAINT "cicd_records_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cicd_records" ADD CONSTRAINT "cicd_records_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cicd_records" ADD CONSTRAINT "cicd_records_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cicd_repositories" ADD CONSTRAINT "cicd_repositories_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cicd_repositories" ADD CONSTRAINT "cicd_repositories_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "collector_keys" ADD CONSTRAINT "collector_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connector_runs" ADD CONSTRAINT "connector_runs_connector_id_connectors_id_fk" FOREIGN KEY ("connector_id") REFERENCES "public"."connectors"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connectors" ADD CONSTRAINT "connectors_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cosignatures" ADD CONSTRAINT "cosignatures_checkpoint_id_checkpoints_id_fk" FOREIGN KEY ("checkpoint_id") REFERENCES "public"."checkpoints"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_erasures" ADD CONSTRAINT "event_erasures_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_erasures" ADD CONSTRAINT "event_erasures_erasure_event_id_events_id_fk" FOREIGN KEY ("erasure_event_id") REFERENCES "public"."events"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "packs" ADD CONSTRAINT "packs_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "packs" ADD CONSTRAINT "packs_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_execution_logs" ADD CONSTRAINT "pipeline_execution_logs_execution_id_pipeline_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."pipeline_executions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_executions" ADD CONSTRAINT "pipeline_executions_pipeline_id_pipelines_id_fk" FOREIGN KEY ("pipeline_id") REFERENCES "public"."pipelines"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_executions" ADD CONSTRAINT "pipeline_executions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_executions" ADD CONSTRAINT "pipeline_executions_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipelines" ADD CONSTRAINT "pipelines_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipelines" ADD CONSTRAINT "pipelines_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipelines" ADD CONSTRAINT "pipelines_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "streams" ADD CONSTRAINT "streams_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "streams" ADD CONSTRAINT "streams_system_id_systems_id_fk" FOREIGN KEY ("system_id") REFERENCES "public"."systems"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "systems" ADD CONSTRAINT "systems_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhooks" ADD CONSTRAINT "webhooks_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "windows" ADD CONSTRAINT "windows_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "witness_state" ADD CONSTRAINT "witness_state_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "anchor_leaves_epoch" ON "anchor_leaves" USING btree ("epoch_id","leaf_index");--> statement-breakpoint
CREATE INDEX "build_jobs_status" ON "build_jobs" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "build_jobs_tenant" ON "build_jobs" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "checkpoints_stream_size" ON "checkpoints" USING btree ("stream_id","tree_size");--> statement-breakpoint
CREATE UNIQUE INDEX "checkpoints_rowid" ON "checkpoints" USING btree ("rowid");--> statement-breakpoint
CREATE INDEX "cicd_records_list" ON "cicd_records" USING btree ("tenant_id","kind","created_at","id");--> statement-breakpoint
CREATE INDEX "cicd_records_sha256" ON "cicd_records" USING btree ("tenant_id","kind","artifact_sha256");--> statement-breakpoint
CREATE INDEX "cicd_records_environment" ON "cicd_records" USING btree ("tenant_id","kind","environment","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "cicd_records_artifact" ON "cicd_records" USING btree ("tenant_id","artifact_sha256") WHERE "kind" = 'artifact';--> statement-breakpoint
CREATE UNIQUE INDEX "cicd_repositories_stream" ON "cicd_repositories" USING btree ("stream_id");--> statement-breakpoint
CREATE INDEX "connectors_tenant" ON "connectors" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "event_erasures_erasure_event" ON "event_erasures" USING btree ("erasure_event_id");--> statement-breakpoint
CREATE INDEX "event_erasures_stream" ON "event_erasures" USING btree ("stream_id","seq_no");--> statement-breakpoint
CREATE UNIQUE INDEX "events_stream_seq" ON "events" USING btree ("stream_id","seq_no");--> statement-breakpoint
CREATE UNIQUE INDEX "idempotency_records_rowid" ON "idempotency_records" USING btree ("rowid");--> statement-breakpoint
CREATE INDEX "packs_stream" ON "packs" USING btree ("stream_id","from_seq_no");--> statement-breakpoint
CREATE INDEX "packs_tenant_created" ON "packs" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "pipeline_execution_logs_step" ON "pipeline_execution_logs" USING btree ("execution_id","step","position");--> statement-breakpoint
CREATE INDEX "pipeline_executions_pipeline" ON "pipeline_executions" USING btree ("pipeline_id","started_at");--> statement-breakpoint
CREATE INDEX "pipeline_executions_status" ON "pipeline_executions" USING btree ("status");--> statement-breakpoint
CREATE INDEX "pipelines_list" ON "pipelines" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "pipelines_stream" ON "pipelines" USING btree ("stream_id");--> statement-breakpoint
CREATE INDEX "streams_tenant_created" ON "streams" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "systems_tenant_name" ON "systems" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_due" ON "webhook_deliveries" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_webhook" ON "webhook_deliveries" USING btree ("webhook_id","created_at","id");--> statement-breakpoint
CREATE INDEX "webhooks_tenant_created" ON "webhooks" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "windows_stream_from" ON "windows" USING btree ("stream_id","from_seq_no");