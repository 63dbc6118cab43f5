// Shared by the command launchers. In a checkout (TypeScript source and the tsx dev
// dependency present) it runs the source, so a command is never stale; on a board
// installed with --omit=dev it runs the JavaScript that `npm run build` made in dist/.
import { existsSync } from 'node:fs';

export async function launch(relativeSource) {
  const source = new URL(`../${relativeSource}.ts`, import.meta.url);
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
    await import(new URL(`../dist/${relativeSource}.js`, import.meta.url).href);
  }
}
