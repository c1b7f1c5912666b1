// Renders the demo app's icon (www/icons/icon.svg) to the PNG sizes its web app manifest lists
// (www/icons/icon-192.png, icon-512.png) with headless Chromium. Run after editing the SVG:
//   node scripts/make-icons.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const svg = readFileSync('www/icons/icon.svg', 'utf8');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  for (const size of [192, 512]) {
    const page = await browser.newPage({ viewport: { width: size, height: size } });
    await page.setContent(`<style>html,body{margin:0;background:transparent}svg{display:block;width:${size}px;height:${size}px}</style>${svg}`);
    writeFileSync(`www/icons/icon-${size}.png`, await page.screenshot({ omitBackground: true }));
    await page.close();
    console.log(`www/icons/icon-${size}.png`);
  }
} finally {
  await browser.close();
}
