/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The node `npm run dev` talks to: GraphQL over HTTP and WebSocket is proxied
// to it. ARCHIVIST_URL overrides the default of `archivist serve`.
const target = process.env.ARCHIVIST_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // One small app: a single chunk keeps the embedded dist/ simple.
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: {
      '/graphql': {
        target,
        ws: true,
        changeOrigin: true,
        // The node accepts WebSockets from its own origin only: present the
        // proxied upgrade as coming from the node itself.
        configure(proxy) {
          proxy.on('proxyReqWs', (req) => req.setHeader('origin', target));
        },
      },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
