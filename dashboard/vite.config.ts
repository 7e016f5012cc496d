/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

// The node `npm run dev` talks to: GraphQL over HTTP and WebSocket is proxied
// to it. ARCHIVIST_URL overrides the default of `archivist serve`.
const target = process.env.ARCHIVIST_URL ?? 'http://127.0.0.1:8080';

// The dashboard talks to the node through the TypeScript client
// (clients/typescript), built from its source with the dashboard: no build
// of the client first, and the bundle keeps only what the dashboard calls.
// Its own imports (graphql-ws) come from clients/typescript/node_modules.
const clientSource = fileURLToPath(new URL('../clients/typescript/src/index.ts', import.meta.url));

export default defineConfig({
  plugins: [react()],
  resolve: {
    alias: { '@rpg-archivist/client': clientSource },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // Two pages: the dashboard (index.html) and the GraphQL playground
    // (playground.html, served at /playground). Each has its own entry, so
    // GraphiQL and its editor (Monaco) stay out of the dashboard's chunk;
    // what both use (React) is a shared chunk.
    rollupOptions: {
      input: {
        index: fileURLToPath(new URL('index.html', import.meta.url)),
        playground: fileURLToPath(new URL('playground.html', import.meta.url)),
      },
      onwarn(warning, warn) {
        // GraphiQL's React Compiler output starts modules with "use no
        // memo", which a bundle cannot keep: harmless, and said per file.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
    // GraphiQL's chunk holds Monaco (several MB, loaded by the playground
    // only); the dashboard's stays small.
    chunkSizeWarningLimit: 6000,
  },
  server: {
    // The client's source is outside this folder.
    fs: { allow: ['..'] },
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
