// The engine's contract (pipe-engine's modules) as the pipeline service uses it: one place to import it from.
export * from './contract-stub.js';
