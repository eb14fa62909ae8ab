// The portal's web app: a hash router, the login form and the fleet
// overview. Pages poll the API (no server push): see docs/portal.md.

import { api, setCsrf, setUnauthorizedHandler, el, clear, fill, ago, duration,
    badge } from './api.js';
import { hostPage, alertsPage, enrolPage } from './pages.js';

const ROLES = { viewer: 1, engineer: 2, admin: 3 };
const main = document.getElementById('main');
export const session = { user: null, role: null };
let timers = [];

// A page's timers end when the page does.
export function every(ms, f) {
	timers.push(setInterval(f, ms));
}

export function can(role) {
	return (ROLES[session.role] || 0) >= ROLES[role];
}

function stopTimers() {
	for (const t of timers)
		clearInterval(t);
	timers = [];
}

function showNav() {
	const nav = document.getElementById('nav');
	nav.hidden = session.user === null;
	document.getElementById('nav-enrol').hidden = !can('admin');
	document.getElementById('who').textContent = session.user === null ?
	    '' : session.user + ' (' + session.role + ')';
}

function loginPage() {
	const err = el('p', { class: 'error', role: 'alert' });
	const name = el('input', { name: 'name', id: 'login-name',
	    autocomplete: 'username', required: true });
	const pass = el('input', { name: 'password', id: 'login-password',
	    type: 'password', autocomplete: 'current-password',
	    required: true });
	const form = el('form', { class: 'login card', id: 'login' },
	    el('h1', {}, 'Log in'),
	    el('label', { for: 'login-name' }, 'User'), name,
	    el('label', { for: 'login-password' }, 'Password'), pass,
	    el('button', { type: 'submit' }, 'Log in'), err);
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		err.textContent = '';
		try {
			const s = await api('POST', 'login',
			    { name: name.value, password: pass.value });
			session.user = s.user;
			session.role = s.role;
			setCsrf(s.csrf);
			pass.value = '';
			showNav();
			if (location.hash === '#/login' || location.hash === '')
				location.hash = '#/';
			else
				route();
		} catch (e) {
			err.textContent = e.message;
		}
	});
	clear(main).appendChild(form);
	name.focus();
}

const STATE_ORDER = ['unreachable', 'critical', 'unknown', 'warning', 'ok',
    'unenrolled'];

function fleetPage() {
	const params = new URLSearchParams(location.hash.split('?')[1] || '');
	const state = { q: params.get('q') || '', sort: 'status', filter: '',
	    offset: 0 };
	const counts = el('div', { class: 'counts', id: 'counts' });
	const search = el('input', { type: 'search', id: 'search',
	    placeholder: 'Search hostname or id', value: state.q });
	const sort = el('select', { id: 'sort' },
	    el('option', { value: 'status' }, 'Worst first'),
	    el('option', { value: 'hostname' }, 'Hostname'),
	    el('option', { value: 'last_seen' }, 'Longest silent'));
	const filter = el('select', { id: 'filter' },
	    el('option', { value: '' }, 'Every state'),
	    STATE_ORDER.map((s) => el('option', { value: s }, s)));
	const body = el('tbody', { id: 'hosts' });
	const pager = el('div', { class: 'pager' });
	const status = el('p', { class: 'muted', id: 'fleet-status' });
	fill(main, el('h1', {}, 'Fleet'), counts,
	    el('div', { class: 'toolbar' }, search, filter, sort),
	    el('div', { class: 'tablewrap' }, el('table', { class: 'hosts' },
	        el('thead', {}, el('tr', {}, ['Host', 'State', 'Last seen',
	            'Open alerts', 'Last good backup', 'Checks', 'Agent']
	            .map((t) =>
	            el('th', {}, t)))), body)), pager, status);
	let seq = 0;
	async function load() {
		const my = ++seq;
		let q = `hosts?limit=100&offset=${state.offset}&sort=${state.sort}`;
		if (state.q !== '')
			q += '&q=' + encodeURIComponent(state.q);
		if (state.filter !== '')
			q += '&state=' + encodeURIComponent(state.filter);
		let data, alerts;
		try {
			[data, alerts] = await Promise.all([api('GET', q),
			    api('GET', 'alerts?state=open&limit=1000')]);
		} catch (e) {
			status.textContent = 'Could not load the fleet: ' +
			    e.message;
			return;
		}
		if (my !== seq)
			return;
		const open = {};
		for (const a of alerts.alerts)
			open[a.host_id] = (open[a.host_id] || 0) + 1;
		/* The whole fleet's (as searched), not this page's. */
		const byState = data.states || {};
		clear(counts);
		for (const s of STATE_ORDER)
			if (byState[s])
				counts.appendChild(el('button', { type: 'button',
				    class: 'count st-' + s, 'data-state': s,
				    onclick: () => {
					filter.value = state.filter =
					    state.filter === s ? '' : s;
					state.offset = 0;
					load();
				    } }, el('b', {}, String(byState[s])), ' ', s));
		clear(body);
		const rows = data.hosts;
		for (const h of rows) {
			const c = h.counts || {};
			body.appendChild(el('tr', { class: 'st-row-' + h.status,
			    'data-host': h.id },
			    el('td', {}, el('a', { href: '#/host/' + h.id },
			        h.hostname),
			        h.in_maintenance ? el('span',
			            { class: 'tag' }, 'maintenance') : null),
			    el('td', {}, badge(h.status)),
			    el('td', {}, ago(h.last_seen)),
			    el('td', { class: 'num' }, String(open[h.id] || 0)),
			    el('td', {}, h.backup_age !== null &&
			        h.backup_age !== undefined ?
			        duration(h.backup_age) + ' ago' :
			        h.backup_jobs ? 'never ok' : '—'),
			    el('td', { class: 'checks' },
			        `${c.CRITICAL || 0} crit · ${c.WARNING || 0} ` +
			        `warn · ${c.OK || 0} ok`),
			    el('td', { class: 'muted' }, h.agent_version || '—')));
		}
		if (rows.length === 0)
			body.appendChild(el('tr', {}, el('td', { colspan: 7,
			    class: 'muted' }, 'No host matches.')));
		clear(pager);
		if (data.total > 100) {
			pager.append(el('button', { type: 'button',
			    disabled: state.offset === 0, onclick: () => {
				state.offset = Math.max(0, state.offset - 100);
				load();
			    } }, 'Previous'),
			    ` ${state.offset + 1}–${state.offset +
			        data.hosts.length} of ${data.total} `,
			    el('button', { type: 'button',
			    disabled: state.offset + 100 >= data.total,
			    onclick: () => {
				state.offset += 100;
				load();
			    } }, 'Next'));
		}
		status.textContent = `${data.total} hosts · updated ` +
		    new Date().toLocaleTimeString() + ' · refreshes every 10 s';
	}
	let debounce = null;
	search.addEventListener('input', () => {
		clearTimeout(debounce);
		debounce = setTimeout(() => {
			state.q = search.value.trim();
			state.offset = 0;
			load();
		}, 250);
	});
	sort.addEventListener('change', () => {
		state.sort = sort.value;
		load();
	});
	filter.addEventListener('change', () => {
		state.filter = filter.value;
		state.offset = 0;
		load();
	});
	load();
	every(10000, load);
}

async function route() {
	stopTimers();
	if (session.user === null) {
		loginPage();
		return;
	}
	const h = location.hash.replace(/^#/, '').split('?')[0] || '/';
	const m = h.match(/^\/host\/([^/]+)$/);
	try {
		if (m)
			await hostPage(main, decodeURIComponent(m[1]));
		else if (h === '/alerts')
			await alertsPage(main);
		else if (h === '/enrol' && can('admin'))
			await enrolPage(main);
		else
			fleetPage();
	} catch (e) {
		clear(main).appendChild(el('p', { class: 'error' }, e.message));
	}
}

setUnauthorizedHandler(() => {
	session.user = session.role = null;
	setCsrf(null);
	showNav();
	stopTimers();
	loginPage();
});

document.getElementById('logout').addEventListener('click', async () => {
	try {
		await api('POST', 'logout');
	} catch (e) {
		// Logged out either way.
	}
	session.user = session.role = null;
	setCsrf(null);
	showNav();
	location.hash = '#/';
	route();
});

window.addEventListener('hashchange', route);

// After a reload the cookie may still be good: the CSRF token is not
// kept in storage, GET /session gives it again.
(async () => {
	try {
		const s = await api('GET', 'session');
		session.user = s.user;
		session.role = s.role;
		setCsrf(s.csrf || null);
	} catch (e) {
		session.user = null;
	}
	showNav();
	route();
})();
