// The engine's contract (pipe-engine's modules, #16) as the pipeline service and routes use it: one place to import
// it from.
export { PipelineConfigSchema, validatePipelineConfig, pipelineHash, type PipelineConfig, type StepConfig } from './config.js';
export { runPipeline, sandboxAvailable, type EngineEvent, type ExecutionResult, type RunOptions, type StepResult, type StepStatus } from './engine.js';
export { ContentCache } from './cache.js';
export { PIPELINE_RECEIPT_EVENT_TYPE, pipelineReceiptEventPayload, pipelineReceiptHash, pipelineReceiptSignedBytes, type PipelineReceipt } from '../protocol/pipeline-receipt.js';
export { verifyPipelineReceipt } from '../verify/pipeline-receipt.js';
