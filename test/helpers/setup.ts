// vitest setupFiles entry: runs in each test file's context before the file itself, so this afterAll is registered
// first and (hooks run in stack order) runs last, after the file's own afterAll hooks have stopped their servers.
import { afterAll } from 'vitest';
import { cleanupTestFile } from './server.js';

afterAll(cleanupTestFile);
