// The fleet API from the page: the session's CSRF token kept in memory
// only (re-read from GET /api/v1/session after a reload), and the DOM
// helper every page uses. Text from the API only ever becomes text
// nodes: el() never parses HTML.

let csrf = null;

export class ApiError extends Error {
	constructor(status, message) {
		super(message);
		this.status = status;
	}
}

export function setCsrf(token) {
	csrf = token;
}

// fetch() of /api/v1/PATH; the parsed JSON (null for 204), or throws an
// ApiError with the server's {"error"} text. A 401 calls onUnauthorized.
export let onUnauthorized = () => {};
export function setUnauthorizedHandler(f) {
	onUnauthorized = f;
}

export async function api(method, path, body) {
	const init = { method, headers: {}, credentials: 'same-origin' };
	if (method !== 'GET' && csrf !== null)
		init.headers['X-CSRF-Token'] = csrf;
	if (body !== undefined) {
		init.headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	const r = await fetch('/api/v1/' + path, init);
	let data = null;
	if (r.status !== 204) {
		try {
			data = await r.json();
		} catch (e) {
			data = null;
		}
	}
	if (!r.ok) {
		const msg = data && data.error ? data.error : 'HTTP ' + r.status;
		if (r.status === 401 && path !== 'login')
			onUnauthorized();
		throw new ApiError(r.status, msg);
	}
	return data;
}

// el('td', {class: 'x', onclick: f}, 'text', child, ...): strings become
// text nodes.
export function el(tag, attrs, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false)
			continue;
		if (k.startsWith('on'))
			e.addEventListener(k.slice(2), v);
		else if (k === 'class')
			e.className = v;
		else if (k === 'text')
			e.textContent = v;
		else
			e.setAttribute(k, v === true ? '' : v);
	}
	append(e, children);
	return e;
}

function append(e, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false)
			continue;
		if (Array.isArray(c))
			append(e, c);
		else if (c instanceof Node)
			e.appendChild(c);
		else
			e.appendChild(document.createTextNode(String(c)));
	}
}

// Replaces e's children (null and false left out, as in el()).
export function fill(e, ...children) {
	clear(e);
	append(e, children);
	return e;
}

export function clear(e) {
	while (e.firstChild)
		e.removeChild(e.firstChild);
	return e;
}

// "3 min", "2 h 5 min", "4 d 1 h" from seconds.
export function duration(s) {
	if (s === null || s === undefined)
		return '—';
	s = Math.max(0, Math.round(s));
	if (s < 60)
		return s + ' s';
	if (s < 3600)
		return Math.floor(s / 60) + ' min';
	if (s < 86400)
		return Math.floor(s / 3600) + ' h ' + Math.floor(s % 3600 / 60) +
		    ' min';
	return Math.floor(s / 86400) + ' d ' + Math.floor(s % 86400 / 3600) +
	    ' h';
}

export function ago(t) {
	if (t === null || t === undefined)
		return 'never';
	return duration(Date.now() / 1000 - t) + ' ago';
}

export function when(t) {
	if (t === null || t === undefined)
		return '—';
	return new Date(t * 1000).toLocaleString();
}

export function bytes(n) {
	if (n === null || n === undefined)
		return '—';
	const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
	let i = 0;
	while (Math.abs(n) >= 1024 && i < u.length - 1) {
		n /= 1024;
		i++;
	}
	return (i === 0 ? n : n.toFixed(1)) + ' ' + u[i];
}

// A state word as a coloured badge.
export function badge(state) {
	const s = String(state || 'unknown');
	return el('span', { class: 'badge st-' + s.toLowerCase() }, s);
}
