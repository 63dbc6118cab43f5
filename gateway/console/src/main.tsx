import '@fontsource/source-sans-pro/400.css';
import '@fontsource/source-sans-pro/600.css';
import '@fontsource/source-sans-pro/700.css';
import '@seamapi/react/index.css';
import './console.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app.tsx';

// The Seam clients the components make find the gateway through SEAM_ENDPOINT, the
// variable @seamapi/http reads when given no endpoint (vite.config.ts points its
// `globalThis.process.env` here). Giving the provider an `endpoint` instead breaks
// @seamapi/react-query 0.2.1: it passes the endpoint on together with a client, which
// @seamapi/http refuses; and its `client` prop is refused outright.
(globalThis as { seamEnv?: Record<string, string> }).seamEnv = { SEAM_ENDPOINT: window.location.origin };

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
