#!/usr/bin/env node
// Launcher: runs the built JavaScript on boards (npm run build), the TypeScript source in a checkout.
import { existsSync } from 'node:fs';

const built = new URL('../dist/scripts/lockctl.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('./lockctl.ts', import.meta.url).href);
}
