// The operators' page: live figures from /admin/metrics (Prometheus text), every two seconds,
// and the reports people made (admin-reports.js).

import { ReportsView } from './admin-reports.js';

const $ = (id) => document.getElementById(id);
const EVERY_MS = 2000;
let previous = null;
let timer = null;

/** name{labels} value lines → [{ name, labels, value }]. */
function parse(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = line.match(/^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/);
    if (!match) continue;
    const labels = {};
    for (const pair of (match[3] ?? '').split(',').filter(Boolean)) {
      const [key, raw] = pair.split('=');
      labels[key] = raw?.replace(/^"|"$/g, '');
    }
    samples.push({ name: match[1], labels, value: Number(match[4]) });
  }
  return samples;
}

const sum = (samples, name, keep = () => true) =>
  samples.filter((s) => s.name === name && keep(s.labels)).reduce((total, s) => total + s.value, 0);

/** The 99th percentile of the requests answered between two scrapes, from the histogram. */
function p99(now, before) {
  const buckets = new Map();
  for (const s of now.filter((s) => s.name === 'parley_http_request_duration_seconds_bucket')) {
    buckets.set(s.labels.le, (buckets.get(s.labels.le) ?? 0) + s.value);
  }
  if (before) {
    for (const s of before.filter((s) => s.name === 'parley_http_request_duration_seconds_bucket')) {
      buckets.set(s.labels.le, (buckets.get(s.labels.le) ?? 0) - s.value);
    }
  }
  const ordered = [...buckets].map(([le, count]) => [le === '+Inf' ? Infinity : Number(le), count]).sort((a, b) => a[0] - b[0]);
  const total = ordered.length ? ordered[ordered.length - 1][1] : 0;
  if (total <= 0) return null;
  const bound = ordered.find(([, count]) => count >= total * 0.99);
  return bound ? bound[0] : null;
}

async function scrape(token) {
  const response = await fetch('/admin/metrics', { headers: { Authorization: `Bearer ${token}` } });
  if (response.status === 401) throw new Error('That is not the admin token.');
  if (response.status === 404) throw new Error('This server has no admin token configured.');
  if (!response.ok) throw new Error(`The server answered ${response.status}.`);
  const samples = parse(await response.text());
  const at = Date.now();
  $('sessions').textContent = sum(samples, 'parley_ws_sessions');
  $('rooms').textContent = sum(samples, 'parley_chat_rooms');
  const stored = sum(samples, 'parley_messages_created_total');
  $('messages').textContent = stored;
  if (previous) {
    const seconds = (at - previous.at) / 1000;
    $('rate').textContent = ((stored - previous.stored) / seconds).toFixed(1);
  }
  const latency = p99(samples, previous?.samples);
  $('p99').textContent = latency === null ? 'no requests' : latency === Infinity ? '> 10 s' : `≤ ${(latency * 1000).toFixed(0)} ms`;
  const nats = samples.find((s) => s.name === 'parley_nats_connected');
  $('nats').textContent = nats?.value === 1 ? 'connected' : 'not connected (or alone)';
  previous = { at, stored, samples };
  $('figures').hidden = false;
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('admin-token').value;
  sessionStorage.setItem('parley.admin', token);
  watch(token);
});

const reports = new ReportsView($('reports'), $('reports-error'));
$('reports-status').addEventListener('change', (e) => reports.show(reports.token, e.target.value));
$('reports-refresh').addEventListener('click', () => reports.show(reports.token));

function watch(token) {
  clearTimeout(timer);
  $('admin-error').textContent = '';
  $('reports-section').hidden = false;
  reports.show(token);
  const tick = async () => {
    try {
      await scrape(token);
      timer = setTimeout(tick, EVERY_MS);
    } catch (e) {
      $('admin-error').textContent = e.message;
    }
  };
  tick();
}

const saved = sessionStorage.getItem('parley.admin');
if (saved) {
  $('admin-token').value = saved;
  watch(saved);
}
