// Line charts as inline SVG, drawn here: the mean of each bucket as the
// line, min..max as a band, and a forecast as a dashed line.

import { bytes, el } from './api.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 600, H = 160, PAD_L = 56, PAD_R = 8, PAD_T = 8, PAD_B = 20;

function svg(tag, attrs) {
	const e = document.createElementNS(NS, tag);
	for (const [k, v] of Object.entries(attrs))
		e.setAttribute(k, String(v));
	return e;
}

function label(v, unit) {
	if (unit === 'B')
		return bytes(v);
	if (unit === '%')
		return v.toFixed(0) + ' %';
	return v.toFixed(2);
}

// series: {name, unit, points: [[t, min, mean, max]]}; forecast: a
// metrics forecast with line [[t, v], [t, v]] or null.
export function chart(title, series, forecast, from, to) {
	const pts = series.points || [];
	const line = forecast && forecast.line ? forecast.line : null;
	let lo = Infinity, hi = -Infinity;
	let t0 = from, t1 = to;
	for (const p of pts) {
		lo = Math.min(lo, p[1]);
		hi = Math.max(hi, p[3]);
	}
	if (line) {
		for (const p of line) {
			lo = Math.min(lo, p[1]);
			hi = Math.max(hi, p[1]);
		}
		t1 = Math.max(t1, line[1][0]);
	}
	if (series.unit === '%') {
		lo = 0;
		hi = Math.max(hi, 100);
	}
	if (!isFinite(lo)) {
		lo = 0;
		hi = 1;
	}
	if (lo > 0 && series.unit !== '')
		lo = 0;
	if (hi <= lo)
		hi = lo + 1;
	const x = (t) => PAD_L + (t - t0) / (t1 - t0 || 1) * (W - PAD_L - PAD_R);
	const y = (v) => PAD_T + (1 - (v - lo) / (hi - lo)) * (H - PAD_T - PAD_B);
	const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart',
	    role: 'img', 'aria-label': title });
	for (const v of [lo, (lo + hi) / 2, hi]) {
		s.appendChild(svg('line', { x1: PAD_L, x2: W - PAD_R, y1: y(v),
		    y2: y(v), class: 'grid' }));
		const t = svg('text', { x: PAD_L - 4, y: y(v) + 4,
		    'text-anchor': 'end', class: 'axis' });
		t.textContent = label(v, series.unit);
		s.appendChild(t);
	}
	for (const [t, anchor] of [[t0, 'start'], [t1, 'end']]) {
		const e = svg('text', { x: x(t), y: H - 4, 'text-anchor': anchor,
		    class: 'axis' });
		e.textContent = new Date(t * 1000).toLocaleString([], {
		    month: 'short', day: 'numeric', hour: '2-digit',
		    minute: '2-digit' });
		s.appendChild(e);
	}
	if (pts.length > 0) {
		let band = '';
		for (const p of pts)
			band += (band ? 'L' : 'M') + x(p[0]).toFixed(1) + ',' +
			    y(p[3]).toFixed(1);
		for (let i = pts.length - 1; i >= 0; i--)
			band += 'L' + x(pts[i][0]).toFixed(1) + ',' +
			    y(pts[i][1]).toFixed(1);
		s.appendChild(svg('path', { d: band + 'Z', class: 'band' }));
		let d = '';
		for (const p of pts)
			d += (d ? 'L' : 'M') + x(p[0]).toFixed(1) + ',' +
			    y(p[2]).toFixed(1);
		if (pts.length === 1)
			d += 'h2';
		s.appendChild(svg('path', { d, class: 'line' }));
	}
	if (line)
		s.appendChild(svg('path', { d: `M${x(line[0][0]).toFixed(1)},` +
		    `${y(line[0][1]).toFixed(1)}L${x(line[1][0]).toFixed(1)},` +
		    `${y(line[1][1]).toFixed(1)}`, class: 'forecast' }));
	const last = pts.length ? pts[pts.length - 1][2] : null;
	return el('figure', { class: 'chartbox' },
	    el('figcaption', {}, title,
	        last !== null ? el('span', { class: 'muted' },
	            ' now ' + label(last, series.unit)) : null,
	        line ? el('span', { class: 'muted' }, ' · forecast: full ' +
	            new Date(line[1][0] * 1000).toLocaleDateString()) : null),
	    pts.length ? s : el('p', { class: 'muted' }, 'no data yet'));
}
