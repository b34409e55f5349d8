// The console's build: everything bundled into web/dist (no CDN: users run air-gapped).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 600 },
  // `npm run dev:web` against a local Central: API calls go to it.
  server: { proxy: { '/api': process.env.GATEHOUSE_SERVER ?? 'http://127.0.0.1:8443' } },
});
