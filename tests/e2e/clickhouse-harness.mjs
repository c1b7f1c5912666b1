/**
 * @module clickhouse-harness
 * A throwaway ClickHouse server (scripts/clickhouse-server.sh, all state in a temp folder, free
 * loopback ports) for end-to-end tests, and queries over its HTTP interface.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './cdn-harness.mjs';

/** Starts one; resolves once it answers /ping. Fails (does not skip) without ClickHouse: scripts/setup.sh installs it. */
export async function startClickHouse() {
  const dir = mkdtempSync(join(tmpdir(), 'burn-edge-clickhouse-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const proc = spawn('bash', ['scripts/clickhouse-server.sh', dir, ...ports.map(String)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  const url = `http://127.0.0.1:${ports[0]}/`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`clickhouse-server exited with ${proc.exitCode}: ${stderr}`);
    if (i === 300) throw new Error('ClickHouse did not answer within 30 s');
    if (await fetch(`${url}ping`).then((r) => r.ok, () => false)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    /** Runs `sql`; the response body. @param {string} sql */
    async query(sql) {
      const res = await fetch(url, { method: 'POST', body: sql });
      const text = await res.text();
      if (!res.ok) throw new Error(`${sql}: ${res.status} ${text}`);
      return text;
    },
    async stop() {
      proc.kill();
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
