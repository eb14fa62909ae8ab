// Drives Debian's chromium through the portal's web app
// (tests/integration/test_portal_web.sh sets the fleet up).
//   node web.mjs URL SPKI_HASH SHOTS_DIR ENGINEER_PW VIEWER_PW ADMIN_PW
// The browser trusts exactly the test server's key: chromium's
// --ignore-certificate-errors-spki-list with its SPKI SHA-256 (base64).
import { chromium } from 'playwright-core';

const [url, spki, shots, engPw, viewPw, admPw] = process.argv.slice(2);
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'";
const problems = [];
let browser, current = 'start';

function fail(why) {
	throw new Error(why);
}

async function step(name, f) {
	current = name;
	const t0 = Date.now();
	await f();
	console.log(`ok   ${name} (${Date.now() - t0} ms)`);
}

function watch(page) {
	page.on('console', (m) => {
		// A 401 (GET /session before login) is logged by chromium as
		// a failed resource; it is the API's answer, not a fault.
		if (m.type() === 'error' &&
		    !/Failed to load resource: the server responded with a status of 40[13]/
		    .test(m.text()))
			problems.push(`console error: ${m.text()}`);
	});
	page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
}

async function login(page, name, pw) {
	await page.goto(url + '/');
	await page.locator('#login-name').fill(name);
	await page.locator('#login-password').fill(pw);
	await page.locator('#login button[type=submit]').click();
	await page.locator('#hosts tr[data-host]').first().waitFor();
}

try {
	browser = await chromium.launch({
		executablePath: '/usr/bin/chromium',
		headless: true,
		args: ['--no-sandbox', `--ignore-certificate-errors-spki-list=${spki}`],
	});
	const ctx = await browser.newContext({ viewport: { width: 1280,
	    height: 900 } });
	await ctx.addInitScript(() => {
		document.addEventListener('securitypolicyviolation', (e) => {
			console.error('CSP violation: ' + e.violatedDirective +
			    ' ' + e.blockedURI);
		});
	});
	ctx.setDefaultTimeout(10000);
	const page = await ctx.newPage();
	watch(page);

	await step('headers of /', async () => {
		const r = await page.goto(url + '/');
		const h = r.headers();
		if (r.status() !== 200)
			fail(`GET / answered ${r.status()}`);
		if (h['content-security-policy'] !== CSP)
			fail(`Content-Security-Policy: ${h['content-security-policy']}`);
		if (h['x-content-type-options'] !== 'nosniff')
			fail('no X-Content-Type-Options: nosniff');
		if (h['referrer-policy'] !== 'no-referrer')
			fail('no Referrer-Policy: no-referrer');
		await page.locator('#login-name').waitFor();
		await page.screenshot({ path: `${shots}/login.png` });
	});

	await step('a wrong password is refused', async () => {
		await page.locator('#login-name').fill('eng');
		await page.locator('#login-password').fill('not-the-password');
		await page.locator('#login button[type=submit]').click();
		await page.locator('#login .error', { hasText: /./ }).waitFor();
		if (await page.locator('#nav').isVisible())
			fail('the navigation shows after a refused login');
	});

	await step('log in as the engineer', () => login(page, 'eng', engPw));

	await step('fleet with mixed states, worst first', async () => {
		await page.locator('#hosts tr[data-host]').nth(3).waitFor();
		const rows = await page.locator('#hosts tr[data-host]')
		    .evaluateAll((trs) => trs.map((tr) => tr.className));
		const want = ['st-row-unreachable', 'st-row-critical'];
		if (rows.length !== 4)
			fail(`${rows.length} hosts shown, expected 4`);
		if (!want.includes(rows[0]) || !want.includes(rows[1]))
			fail(`the first rows are ${rows[0]}, ${rows[1]}: ` +
			    'not unreachable and critical');
		const maint = await page.locator('#hosts .tag').allTextContents();
		if (!maint.includes('maintenance'))
			fail('no host shows maintenance');
		const counts = await page.locator('#counts').textContent();
		for (const s of ['unreachable', 'critical', 'ok'])
			if (!counts.includes(s))
				fail(`the counts "${counts}" lack ${s}`);
		await page.screenshot({ path: `${shots}/fleet.png`,
		    fullPage: true });
	});

	await step('filter by a count', async () => {
		await page.locator('#counts button[data-state="critical"]')
		    .click();
		await page.waitForFunction(() => {
			const r = document.querySelectorAll('#hosts tr[data-host]');
			return r.length === 1 &&
			    r[0].className === 'st-row-critical';
		}, null, { timeout: 5000 }).catch(() =>
		    fail('clicking "critical" did not show only web-02'));
		await page.locator('#counts button[data-state="critical"]')
		    .click();
		await page.locator('#hosts tr[data-host]').nth(3).waitFor();
	});

	await step('search', async () => {
		await page.locator('#search').fill('web');
		await page.waitForFunction(() => {
			const r = [...document.querySelectorAll(
			    '#hosts tr[data-host] a')].map((a) => a.textContent);
			return r.length === 2 && r.every((t) => t.includes('web'));
		});
	});

	await step('host page with charts', async () => {
		await page.locator('#hosts a', { hasText: 'web-02' }).click();
		await page.locator('#charts svg path.line').nth(3).waitFor();
		const n = await page.locator('#charts svg path.line').count();
		if (n < 4)
			fail(`${n} chart lines, expected cpu, memory, load, /`);
		const d = await page.locator('#charts svg path.line').first()
		    .getAttribute('d');
		if (!/^M[\d.]+,[\d.]+L/.test(d))
			fail(`the cpu chart's path is "${d}"`);
		await page.screenshot({ path: `${shots}/host.png`,
		    fullPage: true });
	});

	await step('run a check: the fake agent answers', async () => {
		const row = page.locator('tr[data-check=nginx]');
		await row.locator('button.run-check').click();
		await row.locator('.cmdout[data-done]').waitFor({
		    timeout: 15000 });
		const t = await row.locator('.cmdout').textContent();
		if (!t.includes('ran now'))
			fail(`the result shown is "${t}"`);
	});

	await step('request a support session', async () => {
		await page.locator('#support-reason').fill('slow pages');
		await page.locator('#support button[type=submit]').click();
		await page.locator('#support-out[data-done]').waitFor({
		    timeout: 15000 });
		const t = await page.locator('#support-out').textContent();
		if (!t.includes('waiting') || !t.includes('ssh -J'))
			fail(`the session shown is "${t}"`);
	});

	await step('acknowledge an alert', async () => {
		await page.goto(url + '/#/alerts');
		const row = page.locator('#alerts tr[data-alert]', {
		    hasText: 'nginx' });
		await row.locator('button.ack').click();
		await page.locator('.ack-comment').fill('restarting nginx');
		await page.locator('.ackform button[type=submit]').click();
		await page.locator('#alerts tr[data-alert]', {
		    hasText: 'restarting nginx' }).waitFor();
		await page.screenshot({ path: `${shots}/alerts.png`,
		    fullPage: true });
	});

	await step('375 px wide: no horizontal scroll', async () => {
		const phone = await ctx.newPage();
		watch(phone);
		await phone.setViewportSize({ width: 375, height: 800 });
		await phone.goto(url + '/');
		await phone.locator('#hosts tr[data-host]').nth(3).waitFor();
		const w = await phone.evaluate(() =>
		    document.documentElement.scrollWidth);
		if (w > 375)
			fail(`the page is ${w} px wide at 375`);
		await phone.screenshot({ path: `${shots}/fleet-375.png`,
		    fullPage: true });
		await phone.locator('#hosts a', { hasText: 'web-02' }).click();
		await phone.locator('#charts svg').first().waitFor();
		const hw = await phone.evaluate(() =>
		    document.documentElement.scrollWidth);
		if (hw > 375)
			fail(`the host page is ${hw} px wide at 375`);
		await phone.screenshot({ path: `${shots}/host-375.png`,
		    fullPage: true });
		await phone.close();
	});

	await step('log out', async () => {
		await page.goto(url + '/');
		await page.locator('#logout').click();
		await page.locator('#login-name').waitFor();
		const r = await page.evaluate(async () =>
		    (await fetch('/api/v1/hosts')).status);
		if (r !== 401)
			fail(`GET /hosts after logout answered ${r}`);
	});

	await step('a viewer sees no action', async () => {
		await login(page, 'view', viewPw);
		await page.locator('#hosts a', { hasText: 'web-02' }).click();
		await page.locator('tr[data-check=nginx]').waitFor();
		const n = await page.locator('main button').count();
		if (n !== 0)
			fail(`${n} buttons on the host page for a viewer`);
		await page.locator('#logout').click();
		await page.locator('#login-name').waitFor();
	});

	await step('an admin enrols a host', async () => {
		await login(page, 'adm', admPw);
		if (await page.locator('#nav-enrol').isHidden())
			fail('no Enrolment link for an admin');
		await page.locator('#nav-enrol').click();
		await page.locator('#token-form button[type=submit]').click();
		const t = await page.locator('#enrol-commands').textContent();
		const want = `agentctl enroll --portal ${url} --token-file `;
		if (!t.includes(want) || !/'tok_|'[A-Za-z0-9_-]{16,}'/.test(t))
			fail(`the commands shown are:\n${t}`);
		await page.locator('#tokens tr').first().waitFor();
		await page.screenshot({ path: `${shots}/enrol.png`,
		    fullPage: true });
		await page.locator('#logout').click();
		await page.locator('#login-name').waitFor();
	});

	await step('no console errors or CSP violations', async () => {
		if (problems.length > 0)
			fail(problems.join('\n'));
	});
	console.log('PASS: browser');
} catch (e) {
	console.log(`FAIL: ${current}: ${e.message.split('\n')[0]}`);
	if (problems.length > 0)
		console.log('console: ' + problems.join('\n         '));
	process.exitCode = 1;
} finally {
	if (browser)
		await browser.close();
}
