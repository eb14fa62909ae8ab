// First render of the web app in headless chromium (issue 12, item 10),
// run by bench/portal-page against its portal and database.
//   node bench/portal-page-render.mjs URL SPKI_HASH USER PASSWORD HOST RUNS
// Logs in once, then RUNS cold navigations of the fleet page and of
// HOST's page: each in a new browser context (empty HTTP cache, no
// open connections) that only carries the session cookie. The time is
// performance.now() (from the navigation's start) at the first DOM
// mutation after which the fleet table has a host row, or the host
// page's charts have an SVG path: a MutationObserver installed before
// the page's scripts run records it, so polling adds nothing to it.
// playwright-core comes from tests/browser (npm ci there).
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/browser/package.json',
    import.meta.url));
const { chromium } = require('playwright-core');

const [url, spki, user, pw, host, runsArg] = process.argv.slice(2);
const RUNS = Number(runsArg) || 10;
const GOAL = 1000;

// In the page, before its scripts: note when SEL first matches.
function observe(sel) {
	const mark = () => {
		if (window.__rendered === undefined &&
		    document.querySelector(sel) !== null)
			window.__rendered = performance.now();
	};
	new MutationObserver(mark).observe(document, { childList: true,
	    subtree: true });
}

function stats(ms) {
	const s = [...ms].sort((a, b) => a - b);
	const p95 = s[Math.min(s.length - 1,
	    Math.max(0, Math.round(0.95 * s.length) - 1))];
	return { median: s[Math.floor(s.length / 2)], p95, max: s[s.length - 1] };
}

async function measure(browser, state, label, path, sel) {
	const render = [], dcl = [], api = [];
	for (let i = 0; i < RUNS; i++) {
		const ctx = await browser.newContext({ storageState: state,
		    viewport: { width: 1280, height: 900 } });
		ctx.setDefaultTimeout(30000);
		await ctx.addInitScript(observe, sel);
		const page = await ctx.newPage();
		const errors = [];
		page.on('pageerror', (e) => errors.push(e.message));
		await page.goto(url + path, { waitUntil: 'commit' });
		await page.waitForFunction(() => window.__rendered !== undefined);
		const r = await page.evaluate(() => {
			const n = performance.getEntriesByType('navigation')[0];
			const res = performance.getEntriesByType('resource')
			    .filter((e) => e.name.includes('/api/v1/'));
			return { rendered: window.__rendered,
			    dcl: n.domContentLoadedEventEnd - n.startTime,
			    api: Math.max(0, ...res.map((e) => e.responseEnd -
			        e.startTime)) };
		});
		await ctx.close();
		if (errors.length > 0)
			throw new Error(`${label}: ${errors.join('; ')}`);
		render.push(r.rendered);
		dcl.push(r.dcl);
		api.push(r.api);
	}
	const s = stats(render);
	console.log(`  ${label.padEnd(32)} median ${s.median.toFixed(0).padStart(5)} ms` +
	    `  p95 ${s.p95.toFixed(0).padStart(5)} ms  max ${s.max.toFixed(0).padStart(5)} ms` +
	    `  ${s.p95 < GOAL ? 'under' : 'OVER'} ${GOAL} ms` +
	    `  (DOMContentLoaded ${stats(dcl).median.toFixed(0)} ms,` +
	    ` slowest API call ${stats(api).median.toFixed(0)} ms, medians)`);
	return s.p95 < GOAL;
}

let browser;
try {
	browser = await chromium.launch({
		executablePath: '/usr/bin/chromium',
		headless: true,
		args: ['--no-sandbox', `--ignore-certificate-errors-spki-list=${spki}`],
	});
	const ctx = await browser.newContext();
	ctx.setDefaultTimeout(30000);
	const page = await ctx.newPage();
	await page.goto(url + '/');
	await page.locator('#login-name').fill(user);
	await page.locator('#login-password').fill(pw);
	await page.locator('#login button[type=submit]').click();
	await page.locator('#hosts tr[data-host]').first().waitFor();
	const state = await ctx.storageState();
	await ctx.close();

	console.log(`first render in headless chromium, ${RUNS} cold ` +
	    `navigations each (goal: p95 under ${GOAL} ms):`);
	await measure(browser, state, 'fleet page (#/)', '/#/',
	    '#hosts tr[data-host]');
	await measure(browser, state, 'host page, 30 days of heartbeats',
	    '/#/host/' + encodeURIComponent(host), '#charts svg path.line');
} catch (e) {
	console.log(`portal-page-render: ${e.message}`);
	process.exitCode = 1;
} finally {
	if (browser)
		await browser.close();
}
