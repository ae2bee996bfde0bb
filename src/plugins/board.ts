// GET /live: the merchandiser board. Its script is bundled from src/board/app.ts
// with esbuild when the server starts (no CDN: everything is served from here).
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Plugin } from 'graphql-yoga';

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Live board — decision-context gateway</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px system-ui, sans-serif; margin: 0; color: #1d232b; background: #f6f7f9; }
  header { display: flex; gap: 12px; align-items: center; padding: 10px 16px; background: #1d232b; color: #fff; }
  header h1 { font-size: 16px; margin: 0 auto 0 0; }
  #status { padding: 3px 10px; border-radius: 10px; background: #a33; }
  #status[data-state="connected"] { background: #2a7d3b; }
  #status[data-state="reconnecting"] { background: #b7791f; }
  main { display: grid; grid-template-columns: 1fr 340px; gap: 16px; padding: 16px; }
  .filters { display: flex; gap: 8px; margin-bottom: 8px; }
  table { width: 100%; border-collapse: collapse; background: #fff; }
  th, td { padding: 5px 8px; border-bottom: 1px solid #e3e6ea; text-align: left; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  tr.zero td { background: #fde2e2; color: #9b1c1c; }
  tr.flash td { animation: flash 1s ease-out; }
  @keyframes flash { from { background: #fff3b0; } }
  .tag { font-size: 11px; background: #fde68a; border-radius: 4px; padding: 1px 4px; }
  button { font-size: 12px; }
  #flips { list-style: none; padding: 0; margin: 0; max-height: 80vh; overflow: auto; background: #fff; }
  #flips li { padding: 6px 8px; border-bottom: 1px solid #e3e6ea; font-size: 12px; }
  #flips li.on { border-left: 4px solid #c53030; } #flips li.off { border-left: 4px solid #2a7d3b; }
</style></head>
<body>
<header><h1>Live board</h1>
  <input id="key" type="password" placeholder="API key (writer or admin to set holds)" size="36">
  <span id="status" data-state="reconnecting">connecting…</span></header>
<main>
  <section>
    <div class="filters"><input id="search" placeholder="search SKU or title"><select id="category"></select></div>
    <table><thead><tr><th>SKU</th><th>title</th><th>category</th><th>available</th><th>sold 5 s</th><th>sold 5 min</th>
      <th>sales, 5 min</th><th>flags</th><th></th></tr></thead><tbody id="rows"></tbody></table>
  </section>
  <aside><h2>Policy flips</h2><ul id="flips"></ul></aside>
</main>
<script type="module" src="/live/app.js"></script>
</body></html>`;

async function bundle(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('../board/app.ts', import.meta.url))],
    bundle: true, write: false, format: 'esm', target: 'es2020', minify: true, platform: 'browser',
  });
  return result.outputFiles[0]!.text;
}

export function useBoard(): Plugin {
  let script: Promise<string> | undefined;
  return {
    onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname === '/live') {
        endResponse(new fetchAPI.Response(PAGE, { headers: { 'content-type': 'text/html; charset=utf-8' } }));
      } else if (url.pathname === '/live/app.js') {
        script ??= bundle();
        return script.then((js) => endResponse(new fetchAPI.Response(js, {
          headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' },
        })));
      }
    },
  };
}
