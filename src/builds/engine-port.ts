// What build jobs use of the pipelines engine (src/pipelines/, src/protocol/pipeline-receipt.ts), in one place.
export { parsePipelineYaml, pipelineHash, validatePipelineConfig, type PipelineConfig } from '../pipelines/config.js';
export { EngineError, runPipeline, sandboxAvailable, type ExecutionResult, type PipelineReceipt } from '../pipelines/engine.js';
export { PIPELINE_RECEIPT_EVENT_TYPE, pipelineReceiptEventPayload, pipelineReceiptHash } from '../protocol/pipeline-receipt.js';
