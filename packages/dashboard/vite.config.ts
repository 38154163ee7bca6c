// The dashboard is served by jetq at /ui/ (src/server/ui/): every URL is
// under that base, hashed files go to assets/ (served immutable), and
// nothing is inlined, so the server's Content-Security-Policy needs no
// 'unsafe-inline'.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/ui/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    assetsInlineLimit: 0,
    target: "es2022",
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
