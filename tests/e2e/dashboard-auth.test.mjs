// The dashboard and the summary's read key in Chromium against the real `burn-edge serve`:
// without a key it asks for one, a wrong one is refused with a clear message, the key in the
// URL fragment works, is sent only as a header and leaves the address bar.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser } from './harness.mjs';

/** @type {{ url: string, stop: () => void }} */
let server;
before(async () => { server = await startServer(); });
after(() => server?.stop());

test('the dashboard asks for the read key, refuses a wrong one and keeps a good one out of URLs', async () => {
  const browser = await launchBrowser({ webgpu: false });
  try {
    const page = await browser.newPage();
    /** @type {{ url: string, key: string | undefined }[]} */
    const summaryRequests = [];
    /** @type {string[]} */
    const urls = [];
    page.on('request', (r) => {
      urls.push(r.url());
      if (r.url().includes('/api/telemetry/summary')) summaryRequests.push({ url: r.url(), key: r.headers()['x-burn-edge-read-key'] });
    });

    await page.goto(`${server.url}dashboard.html`);
    await page.waitForSelector('body[data-auth="needed"]');
    assert.match(await page.textContent('#error') ?? '', /read key/);
    await page.fill('#key-form input', 'wrong-key');
    await page.click('#key-form button');
    await page.waitForFunction(() => /401/.test(document.getElementById('error')?.textContent ?? ''));
    assert.equal(await page.getAttribute('body', 'data-auth'), 'needed');
    await page.fill('#key-form input', 'demo-read-key');
    await page.click('#key-form button');
    await page.waitForSelector('body[data-loaded="0"]');
    assert.equal(await page.isVisible('#key-form'), false);

    // A fresh session: the key arrives in the fragment and is then taken out of the URL.
    const other = await browser.newPage();
    other.on('request', (r) => urls.push(r.url()));
    await other.goto(`${server.url}dashboard.html#key=demo-read-key`);
    await other.waitForSelector('body[data-loaded="0"]');
    assert.equal(await other.evaluate(() => location.hash), '');
    assert.equal(await other.evaluate(() => sessionStorage.getItem('burn-edge.dashboard.readKey')), 'demo-read-key');

    assert.ok(summaryRequests.some((r) => r.key === 'demo-read-key'), JSON.stringify(summaryRequests));
    // What goes to a server is the URL without its fragment.
    assert.ok(urls.map((u) => u.split('#')[0]).every((u) => !u.includes('demo-read-key') && !u.includes('wrong-key')), urls.join('\n'));
  } finally {
    await browser.close();
  }
});
