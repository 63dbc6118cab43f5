import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The console as static files for `lockctl serve` at /console: everything (scripts, the
 * Seam Components' stylesheet, the font) bundled into dist/, nothing fetched from
 * elsewhere at run time.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  plugins: [react()],
  // @seamapi/http reads SEAM_ENDPOINT from `globalThis.process.env`, which Vite would
  // replace with an empty object: the page sets it at run time (src/main.tsx).
  define: { 'globalThis.process.env': 'globalThis.seamEnv' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Fonts and images become files of their own, never data URLs in the stylesheet.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2048,
  },
  logLevel: 'warn',
});
