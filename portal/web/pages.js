// The host page, the alerts page and the enrolment page. Actions show
// only to the roles that may take them (the API refuses the others).

import { api, el, clear, fill, ago, when, bytes, badge } from './api.js';
import { chart } from './chart.js';
import { can, every, session } from './app.js';

function section(title, ...children) {
	return el('section', { class: 'card' }, el('h2', {}, title), children);
}

function table(head, rows, attrs) {
	// rows: the rows, or a tbody the caller fills later.
	const body = rows instanceof HTMLTableSectionElement ? rows :
	    el('tbody', {}, rows);
	return el('div', { class: 'tablewrap' }, el('table', attrs || {},
	    el('thead', {}, el('tr', {}, head.map((t) => el('th', {}, t)))),
	    body));
}

// POSTs a command and polls GET /hosts/{id}/commands until its result
// arrives (at most 10 minutes), showing it in out.
// Commands being followed: the host page is not redrawn under them.
let following = 0;

async function command(id, type, args, out) {
	clear(out).textContent = 'sending…';
	let c;
	try {
		c = await api('POST', `hosts/${encodeURIComponent(id)}/commands`,
		    { type, args });
	} catch (e) {
		out.textContent = 'refused: ' + e.message;
		return;
	}
	following++;
	const done = () => following--;
	out.textContent = `${c.id} pending: sent with the host's next report`;
	const t0 = Date.now();
	const poll = async () => {
		let list;
		try {
			list = await api('GET',
			    `hosts/${encodeURIComponent(id)}/commands`);
		} catch (e) {
			out.textContent = 'cannot read the result: ' + e.message;
			done();
			return;
		}
		const r = (list.commands || []).find((x) => x.id === c.id);
		if (r && r.status !== 'pending') {
			fill(out, badge(r.status), ' ', r.detail || '');
			if (r.session)
				out.appendChild(el('div', {}, el('div', {},
				    'session ', r.session, ' ',
				    badge(r.state || '?')),
				    r.connect ? el('code', { class: 'connect' },
				        r.connect) : null));
			out.dataset.done = r.status;
			done();
			return;
		}
		if (Date.now() - t0 < 600000)
			setTimeout(poll, 1000);
		else {
			out.textContent = `${c.id} still pending after 10 min`;
			done();
		}
	};
	setTimeout(poll, 500);
}

// The host page, redrawn every 10 s unless someone is using it (a
// command followed, a field focused, a detail open).
export async function hostPage(main, id) {
	await hostDraw(main, id);
	every(10000, () => {
		if (following === 0 && !main.querySelector(
		    'input:focus, details[open]'))
			hostDraw(main, id).catch(() => {});
	});
}

async function hostDraw(main, id) {
	const hash = location.hash;
	const eid = encodeURIComponent(id);
	const to = Math.floor(Date.now() / 1000), from = to - 86400;
	const [h, m, sessions, cmds] = await Promise.all([
	    api('GET', `hosts/${eid}`),
	    api('GET', `hosts/${eid}/metrics?from=${from}&to=${to}`),
	    api('GET', `hosts/${eid}/sessions`),
	    api('GET', `hosts/${eid}/commands`)]);
	if (location.hash !== hash)
		return;		// the user went elsewhere meanwhile
	const eng = can('engineer');
	const inv = h.inventory && h.inventory.host ? h.inventory.host :
	    h.inventory || {};

	const checks = (h.checks || []).map((c) => {
		const out = el('div', { class: 'cmdout' });
		// The plugin's long text where the agent sent one, else its
		// performance data.
		const long = c.long_output || c.output ||
		    (c.perfdata || []).map((p) => `${p.label} = ${p.value}` +
		    `${p.uom || ''}` + (p.warn ? ` (warn ${p.warn}` +
		    (p.crit ? `, crit ${p.crit})` : ')') : '')).join('\n');
		const row = el('tr', { class: 'st-row-' +
		    String(c.state).toLowerCase(), 'data-check': c.name },
		    el('td', {}, c.name), el('td', {}, badge(c.state)),
		    el('td', {}, c.summary || '',
		        c.forecast ? el('div', { class: 'muted' },
		            c.forecast.text) : null,
		        c.flapping ? el('div', { class: 'muted' }, 'flapping ' +
		            c.flapping.percent.toFixed(0) + ' %') : null,
		        long ? el('details', {}, el('summary', {}, 'details'),
		            el('pre', {}, long)) : null, out),
		    el('td', {}, ago(c.when)),
		    el('td', {}, eng ? el('button', { type: 'button',
		        class: 'run-check', onclick: () => command(id,
		        'run_check', { name: c.name }, out) }, 'Run check') :
		        null));
		return row;
	});

	const series = m.series || [];
	const charts = [];
	for (const s of series) {
		if (s.name.endsWith(':used'))
			continue;	// the same filesystem in bytes below
		const f = (m.forecasts || []).find((x) => x.series === s.name);
		const title = s.name.endsWith(':used_bytes') ?
		    s.name.slice(0, -11) + ' used' : s.name;
		charts.push(chart(title, s, f, m.from, m.to));
	}

	const backups = (h.backups || []).map((b) => {
		const out = el('div', { class: 'cmdout' });
		return el('tr', { 'data-job': b.job }, el('td', {}, b.job),
		    el('td', {}, badge(b.status)), el('td', {}, b.kind),
		    el('td', {}, when(b.finished)),
		    el('td', {}, b.last_ok ? ago(b.last_ok) : 'never'),
		    el('td', { class: 'num' }, bytes(b.bytes)),
		    el('td', {}, eng ? el('button', { type: 'button',
		        onclick: () => command(id, 'run_backup',
		        { name: b.job }, out) }, 'Run backup') : null, out));
	});

	const changes = (h.changes || []).map((c) => el('li', {},
	    el('time', {}, when(c.at)), ' ', c.check, ': ',
	    c.previous || 'new', ' → ', badge(c.state),
	    c.held ? el('span', { class: 'tag' }, c.held) : null));

	const sess = (Array.isArray(sessions) ? sessions : []).map((s) =>
	    el('details', { class: 'session' }, el('summary', {}, s.session,
	        ' ', badge(s.state), ' by ', s.requested_by || '?',
	        s.reason ? ' — ' + s.reason : ''),
	        el('ol', {}, (s.events || []).map((e) => el('li', {},
	            when(e.at), ' ', e.event, e.by ? ' by ' + e.by : '',
	            e.reason ? ' (' + e.reason + ')' : '')))));

	const supOut = el('div', { class: 'cmdout', id: 'support-out' });
	const reason = el('input', { id: 'support-reason',
	    placeholder: 'Reason (optional)' });
	const support = eng ? el('form', { class: 'inline', id: 'support' },
	    reason, el('button', { type: 'submit' },
	    'Request support session'), supOut) : null;
	if (support)
		support.addEventListener('submit', (ev) => {
			ev.preventDefault();
			const args = { requested_by: session.user, minutes: 60 };
			if (reason.value.trim() !== '')
				args.reason = reason.value.trim();
			command(id, 'open_support_session', args, supOut);
		});

	const revoke = can('admin') ? el('button', { type: 'button',
	    class: 'danger', onclick: async () => {
		if (!confirm('Revoke agent ' + h.hostname + '? It must ' +
		    'enrol again to report.'))
			return;
		await api('DELETE', `hosts/${eid}`);
		location.hash = '#/';
	    } }, 'Revoke agent') : null;

	const invRows = Object.entries(inv).filter(([, v]) =>
	    typeof v !== 'object').map(([k, v]) => el('tr', {},
	    el('th', {}, k), el('td', {}, k === 'memory_bytes' ? bytes(v) :
	    String(v))));

	fill(main, 
	    el('p', {}, el('a', { href: '#/' }, '← Fleet')),
	    el('h1', {}, h.hostname, ' ', badge(h.status)),
	    el('p', { class: 'muted' }, 'last seen ', ago(h.last_seen),
	        ' · agent ', h.id, inv.agent_version ? ' · agentd ' +
	        inv.agent_version : ''),
	    h.maintenance ? el('p', { class: 'notice' }, 'In maintenance until ',
	        when(h.maintenance.until), ': ', h.maintenance.reason) : null,
	    section('Checks', table(['Check', 'State', 'Summary', 'Age', ''],
	        checks, { class: 'checks' })),
	    section('Last 24 hours', el('div', { class: 'charts',
	        id: 'charts' }, charts)),
	    section('State changes', changes.length ? el('ol',
	        { class: 'timeline' }, changes) :
	        el('p', { class: 'muted' }, 'none')),
	    section('Backups', backups.length ? table(['Job', 'Status', 'Kind',
	        'Finished', 'Last good', 'Size', ''], backups) :
	        el('p', { class: 'muted' }, 'no backup reported')),
	    section('Remote support', support, sess.length ? sess :
	        el('p', { class: 'muted' }, 'no session')),
	    section('Recent commands', table(['Id', 'Type', 'Status', 'Detail'],
	        (cmds.commands || []).slice(0, 10).map((c) => el('tr', {},
	        el('td', {}, c.id), el('td', {}, c.type),
	        el('td', {}, badge(c.status)), el('td', {}, c.detail || ''))))),
	    section('Inventory', invRows.length ? table(['', ''], invRows) :
	        el('p', { class: 'muted' }, 'none yet')),
	    revoke);
}

export async function alertsPage(main) {
	const st = el('select', { id: 'alert-state' },
	    el('option', { value: 'open' }, 'Open'),
	    el('option', { value: 'closed' }, 'Closed'),
	    el('option', { value: '' }, 'All'));
	const host = el('input', { id: 'alert-host', type: 'search',
	    placeholder: 'Host id' });
	const body = el('tbody', { id: 'alerts' });
	const note = el('p', { class: 'muted' });
	fill(main, el('h1', {}, 'Alerts'),
	    el('div', { class: 'toolbar' }, st, host),
	    el('div', { class: 'tablewrap' }, el('table', {},
	        el('thead', {}, el('tr', {}, ['Host', 'Check', 'State',
	            'Summary', 'Opened', 'Acknowledged'].map((t) =>
	            el('th', {}, t)))), body)), note);
	async function load() {
		let q = 'alerts?limit=200';
		if (st.value)
			q += '&state=' + st.value;
		if (host.value.trim())
			q += '&host=' + encodeURIComponent(host.value.trim());
		let data;
		try {
			data = await api('GET', q);
		} catch (e) {
			note.textContent = e.message;
			return;
		}
		clear(body);
		for (const a of data.alerts)
			body.append(...alertRows(a, load));
		if (data.alerts.length === 0)
			body.appendChild(el('tr', {}, el('td', { colspan: 6,
			    class: 'muted' }, 'No alert.')));
		note.textContent = 'updated ' + new Date().toLocaleTimeString();
	}
	st.addEventListener('change', load);
	host.addEventListener('change', load);
	await load();
	every(10000, () => {
		// Not while someone is typing a comment.
		if (!main.querySelector('.ackform input:focus'))
			load();
	});
}

function alertRows(a, reload) {
	const more = el('tr', { class: 'more', hidden: true },
	    el('td', { colspan: 6 }));
	const ack = a.ack ? el('span', {}, a.ack.by, ': ', a.ack.comment) :
	    a.closed === null && can('engineer') ? el('button', {
	    type: 'button', class: 'ack', onclick: () => {
		more.hidden = false;
		showDetail(a, more.firstChild, reload, true);
	    } }, 'Acknowledge') : '—';
	const row = el('tr', { 'data-alert': String(a.id) },
	    el('td', {}, el('a', { href: '#/host/' + a.host_id },
	        a.hostname || a.host_id)),
	    el('td', {}, a.check || a.kind),
	    el('td', {}, badge(a.state)),
	    el('td', {}, el('a', { href: '#', onclick: (ev) => {
		ev.preventDefault();
		more.hidden = !more.hidden;
		if (!more.hidden)
			showDetail(a, more.firstChild, reload, false);
	    } }, a.summary || '(history)')),
	    el('td', {}, ago(a.opened), a.closed ? el('div',
	        { class: 'muted' }, 'closed ' + ago(a.closed)) : null),
	    el('td', {}, ack));
	return [row, more];
}

async function showDetail(a, cell, reload, withForm) {
	clear(cell).textContent = 'loading…';
	let d;
	try {
		d = await api('GET', 'alerts/' + a.id);
	} catch (e) {
		cell.textContent = e.message;
		return;
	}
	fill(cell, 
	    d.forecast ? el('p', {}, d.forecast.text) : null,
	    el('ol', { class: 'timeline' }, (d.history || []).map((e) =>
	        el('li', {}, when(e.at), ' ', e.event,
	            e.by ? ' by ' + e.by : '',
	            e.comment ? ': ' + e.comment : ''))));
	if (withForm && d.ack === null && d.closed === null) {
		const c = el('input', { class: 'ack-comment', required: true,
		    maxlength: 1024, placeholder: 'Comment (what is being done)' });
		const err = el('span', { class: 'error' });
		const f = el('form', { class: 'ackform inline' }, c,
		    el('button', { type: 'submit' }, 'Acknowledge'), err);
		f.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			try {
				await api('POST', `alerts/${a.id}/ack`,
				    { comment: c.value });
				reload();
			} catch (e) {
				err.textContent = e.message;
			}
		});
		cell.appendChild(f);
		c.focus();
	}
}

export async function enrolPage(main) {
	const out = el('div', { id: 'enrol-out' });
	const body = el('tbody', { id: 'tokens' });
	const hours = el('select', { id: 'token-hours' },
	    el('option', { value: '3600' }, '1 hour'),
	    el('option', { value: '86400', selected: true }, '1 day'),
	    el('option', { value: '604800' }, '7 days'));
	const form = el('form', { class: 'inline', id: 'token-form' },
	    el('label', {}, 'Valid for ', hours),
	    el('button', { type: 'submit' }, 'Create enrolment token'));
	const agent = el('input', { id: 'revoke-id', placeholder: 'Agent id',
	    required: true });
	const revokeOut = el('span', {});
	const revoke = el('form', { class: 'inline' }, agent,
	    el('button', { type: 'submit', class: 'danger' }, 'Revoke agent'),
	    revokeOut);
	fill(main, el('h1', {}, 'Enrolment'),
	    section('New host', el('p', {}, 'A token enrols one host, once.'),
	        form, out),
	    section('Tokens', table(['Id', 'Created', 'Expires', 'Used',
	        'Revoked', ''], body)),
	    section('Revoke an agent', el('p', {}, 'The agent\'s ' +
	        'credential stops working; its history stays.'), revoke,
	        el('p', { class: 'muted' }, 'Or use the button on the ' +
	        'host\'s page.')));
	async function load() {
		const list = await api('GET', 'tokens');
		clear(body);
		for (const t of list)
			body.appendChild(el('tr', {}, el('td', {}, String(t.id)),
			    el('td', {}, when(t.created)),
			    el('td', {}, when(t.expires)),
			    el('td', {}, t.used ? when(t.used) : '—'),
			    el('td', {}, t.revoked ? when(t.revoked) : '—'),
			    el('td', {}, !t.used && !t.revoked ? el('button', {
			    type: 'button', onclick: async () => {
				await api('DELETE', 'tokens/' +
				    encodeURIComponent(t.id));
				load();
			    } }, 'Revoke') : null)));
	}
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const t = await api('POST', 'tokens',
		    { expires: Number(hours.value) });
		const url = location.origin;
		const cmds = [
		    '# on the new host, as root (Debian/Ubuntu; dnf install ' +
		    'agentd on RPM systems)',
		    'apt-get install agentd',
		    `printf '%s\\n' '${t.token}' > /root/agentd-token`,
		    'chmod 600 /root/agentd-token',
		    '# add --ca FILE when the portal\'s certificate is from ' +
		    'a private CA',
		    `agentctl enroll --portal ${url} --token-file ` +
		    '/root/agentd-token',
		    'rm /root/agentd-token',
		    'systemctl enable --now agentd'];
		fill(out, el('p', {}, 'Token (shown once), valid until ',
		    when(t.expires), ':'),
		    el('pre', { class: 'commands', id: 'enrol-commands' },
		        cmds.join('\n')));
		load();
	});
	revoke.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		try {
			await api('DELETE', 'hosts/' +
			    encodeURIComponent(agent.value.trim()));
			revokeOut.textContent = ' revoked';
		} catch (e) {
			revokeOut.textContent = ' ' + e.message;
		}
	});
	await load();
}
