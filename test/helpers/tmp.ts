import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, onTestFinished, TestRunner } from 'vitest';

type Cleanup = () => unknown;

// Vitest 4 silently drops afterEach/afterAll registered while tests run (from a test
// body or a beforeAll). Cleanup made outside a test is kept here and run by this
// file-level afterAll, registered when a test file imports this module (collection).
const atEndOfFile: Cleanup[] = [];
afterAll(async () => {
  for (const cleanup of atEndOfFile.splice(0).reverse()) await cleanup();
});

/**
 * Runs `cleanup` when the current test finishes (called from a test, beforeEach or
 * afterEach), or after the file's last test (called at collection time or in beforeAll).
 * Later cleanups run first.
 */
export function onCleanup(cleanup: Cleanup): void {
  if (TestRunner.getCurrentTest()) onTestFinished(async () => void (await cleanup()));
  else atEndOfFile.push(cleanup);
}

/** A fresh temporary directory, removed when the test (or, outside a test, the file) ends. */
export function tempDir(prefix = 'tumbler-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
