#!/usr/bin/env node
import { launch } from './launch.js';

await launch('keypad-sim/main');
