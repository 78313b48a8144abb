#!/usr/bin/env node
// `node bin/run-ts.mjs file.ts args…`: run a TypeScript entry point (bench, scripts) without a build step.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const [file, ...rest] = process.argv.slice(2);
process.argv = [process.argv[0], file, ...rest];
await import(pathToFileURL(path.resolve(file)).href);
