/**
 * @module edge-harness
 * nginx as the model CDN's edge, from the shipped example `deploy/nginx-cdn.conf` with its
 * placeholders filled in: a foreground child with its config, cache, pid and logs in a temp
 * folder (`-p`), and its access log read back per request (cache status, origin status).
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './cdn-harness.mjs';

export const EXAMPLE = 'deploy/nginx-cdn.conf';

/** The nginx binary: $NGINX, Debian's /usr/sbin/nginx, or nginx on the PATH (scripts/setup.sh installs it). */
const nginxPath = () => process.env.NGINX || (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx');

/**
 * `deploy/nginx-cdn.conf` with `${EDGE_LISTEN}` and `${ORIGIN}` filled in; throws if the file
 * has any other placeholder (then the example and this harness disagree).
 * @param {{ listen: string, origin: string }} values
 */
export function edgeConfig({ listen, origin }) {
  const filled = readFileSync(EXAMPLE, 'utf8').replaceAll('${EDGE_LISTEN}', listen).replaceAll('${ORIGIN}', origin);
  const left = filled.match(/\$\{[A-Z_]+\}/);
  if (left) throw new Error(`${EXAMPLE} has a placeholder the harness does not fill: ${left[0]}`);
  return filled;
}

/**
 * One access-log line: `$request_method $uri $status $upstream_cache_status $upstream_status`.
 * @typedef {{ method: string, path: string, status: number, cache: string, upstream: string }} EdgeHit
 */

/**
 * Starts nginx in front of `origin` (host:port) on a free port; resolves once it answers.
 * @param {string} origin
 */
export async function startEdge(origin) {
  const prefix = mkdtempSync(join(tmpdir(), 'burn-edge-edge-'));
  // nginx's workers run as an unprivileged user when started as root: they must reach the cache.
  chmodSync(prefix, 0o755);
  mkdirSync(join(prefix, 'tmp'));
  const port = await freePort();
  const conf = join(prefix, 'edge.conf');
  writeFileSync(conf, edgeConfig({ listen: `127.0.0.1:${port}`, origin }));
  const child = spawn(nginxPath(), ['-p', `${prefix}/`, '-c', conf, '-e', 'error.log'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const url = `http://127.0.0.1:${port}/`;
  const log = join(prefix, 'access.log');
  for (let i = 0; ; i++) {
    if (child.exitCode !== null || i === 300) {
      child.kill();
      const errors = existsSync(join(prefix, 'error.log')) ? readFileSync(join(prefix, 'error.log'), 'utf8') : '';
      throw new Error(`nginx did not start (${nginxPath()}; run scripts/setup.sh): ${stderr}${errors}`);
    }
    // Anything that answers means nginx listens; the probe's line is skipped by `since`.
    if (await fetch(`${url}__edge-probe`).then(() => true, () => false)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  let read = 0;
  return {
    url,
    /**
     * Access-log lines written since the last call. nginx logs a request after answering it, so
     * a line can land after its response reached us: this waits until the log has not grown for
     * 150 ms, and takes only whole lines.
     * @returns {Promise<EdgeHit[]>}
     */
    async since() {
      const size = () => (existsSync(log) ? statSync(log).size : 0);
      for (let last = size(), quietSince = Date.now(); Date.now() - quietSince < 150;) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        const now = size();
        if (now !== last) [last, quietSince] = [now, Date.now()];
      }
      const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
      const fresh = text.slice(read, text.lastIndexOf('\n') + 1);
      read += fresh.length;
      return fresh.split('\n').filter((l) => l && !l.includes('__edge-probe')).map((line) => {
        const [method, path, status, cache, upstream] = line.split(' ');
        return { method, path, status: Number(status), cache, upstream };
      });
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
