#!/usr/bin/env node
// Launcher. In a checkout (TypeScript source and the tsx dev dependency present) it runs
// the source, so it is never stale; on a board installed with --omit=dev it runs the
// JavaScript that `npm run build` made in dist/.
import { existsSync } from 'node:fs';

const source = new URL('./lockdiag.ts', import.meta.url);
let tsx;
try {
  tsx = existsSync(source) ? await import('tsx/esm/api') : undefined;
} catch {
  tsx = undefined;
}
if (tsx) {
  tsx.register();
  await import(source.href);
} else {
  await import(new URL('../dist/scripts/lockdiag.js', import.meta.url).href);
}
