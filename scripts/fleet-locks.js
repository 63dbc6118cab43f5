#!/usr/bin/env node
// One lock process of `npm run fleet` (forked by scripts/fleet/run.ts; not a command of its own).
import { launch } from './launch.js';

await launch('scripts/fleet/lock-proc');
