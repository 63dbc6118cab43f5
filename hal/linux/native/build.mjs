#!/usr/bin/env node
// Builds the GPIO uAPI / EVIOCGRAB addon (gpio_uapi.c).
//
//   node hal/linux/native/build.mjs              node-gyp for this machine -> build/Release/
//   node hal/linux/native/build.mjs --optional   the same, but a failed build only warns
//                                                (npm postinstall: x64 CI, a laptop)
//   node hal/linux/native/build.mjs --cross arm64|arm
//                                                a prebuild with Debian's cross compiler
//                                                (gcc-aarch64-linux-gnu / gcc-arm-linux-gnueabihf)
//                                                -> prebuilds/linux-<arch>/tumbler_gpio.node
//
// Node-API only, so one build serves every Node >= 18 on that architecture. The addon
// needs only Node's headers (node_api.h, uv.h) and the kernel's linux/gpio.h: no
// libgpiod. Without the addon, a board file with gpio.backend "uapi" (the default)
// is refused at start with one line saying so; nothing falls back silently.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const optional = args.includes('--optional');
const crossIndex = args.indexOf('--cross');
const CROSS = { arm64: 'aarch64-linux-gnu-gcc', arm: 'arm-linux-gnueabihf-gcc' };

function fail(message) {
  if (optional) {
    console.warn(`tumbler: the native GPIO addon was not built (${message}).`);
    console.warn('tumbler: gpio.backend "uapi" and keypad.grab need it: npm run build:native');
    process.exit(0);
  }
  console.error(`tumbler: ${message}`);
  process.exit(1);
}

/** Node's own headers: the nodedir npm is configured with, else the ones beside this node. */
function nodeIncludeDir() {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
  ].filter(Boolean);
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
}

if (crossIndex >= 0) {
  const arch = args[crossIndex + 1];
  const compiler = CROSS[arch];
  if (!compiler) fail(`--cross takes ${Object.keys(CROSS).join(' or ')}`);
  const include = nodeIncludeDir();
  if (!include) fail('no Node headers (node_api.h) found; set npm_config_nodedir');
  const outDir = join(here, 'prebuilds', `linux-${arch}`);
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, 'tumbler_gpio.node');
  const result = spawnSync(
    compiler,
    [
      '-shared',
      '-fPIC',
      '-O2',
      '-std=gnu11',
      '-Wall',
      '-Wextra',
      '-Werror=implicit-function-declaration',
      '-DNAPI_VERSION=8',
      `-I${include}`,
      join(here, 'gpio_uapi.c'),
      '-o',
      out,
    ],
    { stdio: 'inherit' },
  );
  if (result.error)
    fail(`${compiler}: ${result.error.message} (apt-get install gcc-${compiler.replace(/-gcc$/, '')})`);
  if (result.status !== 0) fail(`${compiler} failed`);
  console.log(`tumbler: built ${out}`);
  process.exit(0);
}

// node-gyp: npm puts its own on PATH for scripts (npm run build:native, postinstall).
const gyp = spawnSync('node-gyp', ['rebuild', '--directory', here], { stdio: 'inherit' });
if (gyp.error) fail(`node-gyp: ${gyp.error.message} (run it through npm: npm run build:native)`);
if (gyp.status !== 0)
  fail('node-gyp rebuild failed (a C compiler and make are needed: apt-get install build-essential)');
console.log(`tumbler: built ${join(here, 'build', 'Release', 'tumbler_gpio.node')}`);
