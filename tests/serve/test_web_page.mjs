// test_web_page.mjs: the web page in headless Chromium (Debian's), driven by puppeteer-core:
// type the key once, enroll two people from uploaded photos, see them listed with
// thumbnails, identify the group photo and check the names drawn, take a webcam snapshot
// (Chromium's fake camera), rename and remove; a screenshot that is not blank.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, startServer, faceCrops, Checks } from './node_harness.mjs';

const args = parseArgs(process.argv);
const puppeteer = (await import(pathToFileURL(path.join(process.env.NODE_MODULES_DIR, 'puppeteer-core/lib/esm/puppeteer/puppeteer-core.js')).href)).default;
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
const t = new Checks();
const server = await startServer(args, 'web');
const crops = faceCrops(args, 1, path.join(server.dir, 'photos'));
const group = path.join(args.models, 'face-api', 'demo', 'sample1.jpg');
const browser = await puppeteer.launch({
  executablePath: chromium, headless: true,
  args: ['--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
});
const text = (page, sel) => page.$eval(sel, (e) => e.textContent);
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  page.on('dialog', (d) => d.accept()); // the confirmation before removing someone
  await page.goto(server.url + '/');
  t.check((await page.title()) === 'facerec', 'the page loads at /');

  await page.type('#key', server.adminKey);
  await page.click('#save-key');
  await page.waitForFunction(() => document.querySelector('#key-status').textContent.includes('people'));
  t.check((await text(page, '#key-status')).includes('mobilefacenet'), 'the key is accepted (gallery info shown)');

  for (const [name, crop] of [['alice', crops[0]], ['bob', crops[1]]]) {
    await page.$eval('#enroll-name', (e) => { e.value = ''; });
    await page.type('#enroll-name', name);
    await (await page.$('#enroll-files')).uploadFile(crop);
    await page.click('#enroll-btn');
    await page.waitForFunction((n) => document.querySelector('#enroll-status').textContent.includes(`of ${n}`), {}, name);
    t.check((await text(page, '#enroll-status')).startsWith('enrolled 1 photo'), `enroll ${name} from an upload`);
  }
  await page.waitForFunction(() => [...document.querySelectorAll('#people img')].filter((i) => i.complete && i.naturalWidth > 0).length === 2);
  const listed = await page.$$eval('#people li', (lis) => lis.map((li) => li.dataset.name));
  t.check(JSON.stringify(listed) === '["alice","bob"]', `people listed with thumbnails: ${listed}`);

  await (await page.$('#identify-file')).uploadFile(group);
  await page.waitForFunction(() => document.querySelector('#identify-canvas').dataset.labels);
  const labels = JSON.parse(await page.$eval('#identify-canvas', (c) => c.dataset.labels));
  t.check(JSON.stringify(labels) === '["alice","bob","unknown"]', `names drawn on the group photo: ${labels}`);
  const items = await page.$$eval('#identify-results li', (lis) => lis.map((li) => li.textContent));
  t.check(items.length === 3 && items[0].startsWith('alice (distance'), 'and listed beside it');
  // the boxes are drawn: the canvas differs from the bare photo inside the first face's box
  const drawn = await page.$eval('#identify-canvas', (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let green = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 30 && d[i + 1] > 180 && d[i + 2] > 60 && d[i + 2] < 110) green++;
    return green;
  });
  t.check(drawn > 500, `known faces framed in green (${drawn} pixels)`);

  await page.click('#webcam-start');
  await page.waitForFunction(() => document.querySelector('#webcam').videoWidth > 0);
  await page.click('#webcam-snap');
  await page.waitForFunction(() => document.querySelectorAll('#snapshots img').length === 1);
  t.check(true, 'a webcam snapshot is taken (Chromium\'s fake camera)');

  const shot = path.join(args.tmp, 'web-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  const spread = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + b64;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width; c.height = img.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let sum = 0, sq = 0, n = 0;
    for (let i = 0; i < d.length; i += 16) { const v = d[i] + d[i + 1] + d[i + 2]; sum += v; sq += v * v; n++; }
    return Math.sqrt(sq / n - (sum / n) ** 2);
  }, fs.readFileSync(shot).toString('base64'));
  t.check(spread > 20, `the screenshot is not blank (brightness spread ${spread.toFixed(1)}): ${shot}`);

  // rename bob, remove alice
  await page.$eval('#people li[data-name="bob"] .new-name', (e) => { e.value = 'robert'; });
  await page.click('#people li[data-name="bob"] .rename');
  await page.waitForSelector('#people li[data-name="robert"]');
  await page.click('#people li[data-name="alice"] .remove');
  await page.waitForFunction(() => document.querySelectorAll('#people li').length === 1);
  const after = await page.$$eval('#people li', (lis) => lis.map((li) => li.dataset.name));
  t.check(JSON.stringify(after) === '["robert"]', `rename bob to robert, remove alice: ${after}`);
} catch (e) {
  t.check(false, `unexpected: ${e.stack || e}`);
} finally {
  await browser.close();
  await server.stop();
}
console.log(`${t.failures} failure(s)`);
process.exit(t.failures ? 1 : 0);
