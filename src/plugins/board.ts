// GET /live: the merchandiser board, src/board/index.html (read at start) and
// its script, bundled from src/board/app.ts with esbuild on first request (no
// CDN: everything is served from here).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Plugin } from 'graphql-yoga';

async function bundle(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('../board/app.ts', import.meta.url))],
    bundle: true, write: false, format: 'esm', target: 'es2020', minify: true, platform: 'browser',
  });
  return result.outputFiles[0]!.text;
}

export function useBoard(): Plugin {
  const page = fs.readFileSync(new URL('../board/index.html', import.meta.url), 'utf8');
  let script: Promise<string> | undefined;
  return {
    onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname === '/live') {
        endResponse(new fetchAPI.Response(page, { headers: { 'content-type': 'text/html; charset=utf-8' } }));
      } else if (url.pathname === '/live/app.js') {
        script ??= bundle();
        return script.then((js) => endResponse(new fetchAPI.Response(js, {
          headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' },
        })));
      }
    },
  };
}
