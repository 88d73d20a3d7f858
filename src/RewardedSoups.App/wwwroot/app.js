// The run page: Pareto plane (plotly.js, served by the app), a λ control, three showcases side by side
// (expert 1, the selected soup computed live by the server, expert 2; and, for runs that measured them, the
// experts' output-space ensemble of the same λ beside the soup) — replays of recorded episodes
// for locomotion, continuations of a chosen prompt for text, a grid of images of a chosen garment for images — rewards along λ, the table.
'use strict';
const params = new URLSearchParams(location.search);
const runId = params.get('id');
const api = path => fetch(`api/runs/${encodeURIComponent(runId)}${path}`).then(async r => {
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
});
const fmt3 = x => (x === null || x === undefined || Number.isNaN(x)) ? 'n/a' : Number(x).toFixed(3);
// Rewards of any scale: three decimals below 10 (text and image rewards live in [-1, 1]), one above.
const fmtR = x => (x === null || x === undefined || Number.isNaN(x)) ? 'n/a' : Number(x).toFixed(Math.abs(x) < 10 ? 3 : 1);
const fmt = x => (x === null || x === undefined || Number.isNaN(x)) ? 'n/a' : Number(x).toFixed(1);
// Quantities of any magnitude (hypervolumes: 7.97e-4 for a text run, 2.8 million for the humanoid): four
// significant digits with thousands separators, so neither "HV 0.0" nor "2811534.217" is shown.
const sig4 = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 4 });
const num = x => (x === null || x === undefined || Number.isNaN(x)) ? 'n/a' : sig4.format(Number(x));
const count = x => (x === null || x === undefined) ? 'n/a' : Number(x).toLocaleString('en-US');
const show = message => { document.getElementById('error').textContent = message; };
// A run that cannot be shown at all: the error alone, no empty plot frames or controls under it.
const fail = message => {
  show(message);
  document.querySelectorAll('main > :not(#error)').forEach(e => { e.hidden = true; });
};

let results = null;
let showcase = { kind: 'locomotion', options: {} };
let prompt = 0;
let lambda = null;
// The run's soup methods ({label, method}); the soup panel shows `method`'s soup, the experts the linear one's one-hot soup.
let methods = [];
let method = null;
// Whether the page shows the experts' output-space ensemble of λ beside their soup (runs with `ensembles:`).
let ensemblePanel = false;
// The μ of the λ = μ soup shown beside the soup panel (the preference control's "beside" button), or null.
let besideMu = null;
const replays = {};
// Expert i's colour; a soup's colour mixes them by its λ (N ≥ 3: the plot, the triangle and its markers agree).
const expertColors = [[31, 119, 180], [214, 39, 40], [44, 160, 44], [148, 103, 189], [255, 127, 14], [23, 190, 207]];
const mixColor = l => 'rgb(' + [0, 1, 2].map(c => Math.round(l.reduce((acc, w, i) => acc + w * expertColors[i % expertColors.length][c], 0))).join(',') + ')';
// The panels of the experts, in order: 'left' is expert 1, 'right' expert N, 'expert-k' the ones between (N ≥ 3).
let expertSlots = ['left', 'right'];
const oneHot = (n, k) => Array.from({ length: n }, (_, i) => i === k ? 1 : 0);
let playing = true;
let speed = 1;
let clock = 0;

// Kinds drawn as panels of samples for a chosen prompt (no canvases, no playback).
function promptKind() { return showcase.kind === 'text' || showcase.kind === 'image'; }

function rewardsText(rollout) {
  if (promptKind()) {
    const lines = rollout.rewards.map((name, i) => `${name}: ${fmt3(rollout.means[i])} (mean of ${rollout.samples.length})`);
    // Images: the share an independent classifier (trained apart, never a reward) sees as the prompted garment.
    if (rollout.recognised != null) {
      const seen = rollout.samples.filter(s => s.recognised).length;
      lines.push(`recognised: ${seen} of ${rollout.samples.length} (independent classifier)`);
    }
    lines.push(rollout.cached ? 'cached' : `${rollout.serverMs.toFixed(0)} ms`);
    return lines.join('\n');
  }
  // One episode (the same reset for every λ), not the plane's mean over the evaluation episodes: say so.
  const lines = rollout.rewards.map((name, i) => `${name}: ${fmt(rollout.returns[i])}`);
  lines.push(`${rollout.length} steps${rollout.fell ? ' (fell)' : ''}${rollout.cached ? ', cached' : `, ${rollout.serverMs.toFixed(0)} ms`}`);
  lines.push(`one episode (reset seed ${showcase.options?.rollout_seed ?? 0}, training seed ${results.training_seeds[0]}); the plane: means of ${results.episodes_per_policy} ${results.evaluation_unit ?? 'episodes'}`);
  return lines.join('\n');
}

// The measures results.json reports beside the rewards, named once in the run's header (their values are in each point's hover).
function measuresText(r) {
  const names = [...new Set(r.policies.flatMap(q => Object.keys(q.measures || {})))].sort();
  return names.length ? `measured beside the rewards: ${names.join(', ')} (hover a point); ` : '';
}

// A point's hover: its rewards with intervals, then its measures beyond the rewards (images: the share the independent checker recognises).
function policyHover(q) {
  const lines = results.rewards.map((name, i) => `${name}: ${fmtR(q.mean[i])} [${fmtR(q.low[i])}, ${fmtR(q.high[i])}]`);
  for (const [name, m] of Object.entries(q.measures || {})) lines.push(`${name}: ${fmtR(m.mean)} [${fmtR(m.low)}, ${fmtR(m.high)}]`);
  return `${q.label}<br>` + lines.join('<br>');
}

function lambdaText(l) { return '(' + l.map(x => Number(x).toFixed(2)).join(', ') + ')'; }

// Text: the prompt in bold, then each sampled continuation with its rewards (same sampling seeds in every panel);
// ∎ marks a review the model ended (what it wrote after <|endoftext|> is not part of it and not scored).
function renderTexts(slot, shown) {
  const box = document.getElementById(`text-${slot}`);
  box.replaceChildren(...shown.samples.map(sample => {
    const p = document.createElement('p');
    const b = document.createElement('b');
    b.textContent = shown.prompt;
    const scores = document.createElement('span');
    scores.className = 'muted';
    scores.textContent = ' [' + shown.rewards.map((name, i) => `${name} ${fmt3(sample.rewards[i])}`).join(', ') + ']';
    p.append(b, document.createTextNode(sample.text + (sample.ended ? ' ∎' : '')), scores);
    return p;
  }));
}

// Image: the grid of samples (same noise in every panel) as one PNG, each image's rewards in its tooltip.
function renderImages(slot, shown) {
  const img = document.querySelector(`#image-${slot} img`);
  img.src = shown.png;
  img.alt = `${shown.samples.length} samples of “${shown.prompt}”`;
  img.title = shown.samples.map((s, i) => `${i + 1}: ` + shown.rewards.map((name, k) => `${name} ${fmt3(s.rewards[k])}`).join(', ')
    + (s.recognised == null ? '' : s.recognised ? ', recognised' : ', not recognised')).join('\n');
  img.dataset.prompt = String(shown.promptIndex);
}

function expertMethod() { return (methods.find(m => m.method === 'linear') || methods[0] || {}).label; }

async function loadReplay(slot, weights) {
  const chosen = slot === 'soup' || slot === 'mu' ? method : expertMethod();
  const ensemble = slot === 'ensemble';
  const extra = (promptKind() ? `&prompt=${prompt}` : '') + (!ensemble && methods.length > 1 && chosen ? `&method=${encodeURIComponent(chosen)}` : '');
  const rollout = await api(`/${ensemble ? 'ensemble' : 'soup'}?lambda=${weights.map(x => x.toPrecision(12)).join(',')}${extra}`);
  if (showcase.kind === 'text') renderTexts(slot, rollout);
  else if (showcase.kind === 'image') renderImages(slot, rollout);
  else replays[slot] = rollout;
  const box = document.getElementById(`rewards-${slot}`);
  box.textContent = rewardsText(rollout);
  box.dataset.lambda = weights.join(',');
  return rollout;
}

// Side view: x forward, z up; the camera follows the root body; bodies drawn as their skeleton.
function draw(slot) {
  const rollout = replays[slot];
  const canvas = document.getElementById(`canvas-${slot}`);
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!rollout || rollout.frames.length === 0) return;
  const frame = rollout.frames[Math.min(rollout.frames.length - 1, Math.floor(clock / rollout.dt))];
  const root = rollout.bodies.length > 1 ? 1 : 0;
  const cx = frame[3 * root];
  const scale = 80, ground = canvas.height - 30;
  const X = x => canvas.width / 2 + (x - cx) * scale;
  const Z = z => ground - z * scale;
  ctx.strokeStyle = '#9aa6b4';
  ctx.beginPath(); ctx.moveTo(0, ground); ctx.lineTo(canvas.width, ground); ctx.stroke();
  for (let m = Math.floor(cx - 5); m <= cx + 5; m++) {   // ground marks, one per metre, to show speed
    ctx.beginPath(); ctx.moveTo(X(m), ground); ctx.lineTo(X(m), ground + 6); ctx.stroke();
  }
  // Bodies on the far side of a 3-D robot (named left_…: the camera looks at its right side) are drawn
  // first and lighter, so the humanoid's two legs and two arms stay apart; a body named head is a disc.
  const far = b => rollout.bodies[b].startsWith('left');
  const order = [...rollout.bodies.keys()].slice(1).sort((a, b) => far(b) - far(a));
  ctx.lineWidth = 4; ctx.lineCap = 'round';
  for (const b of order) {
    const p = rollout.parents[b];
    if (p === 0 || p === b) continue;
    ctx.strokeStyle = far(b) ? '#8c9bb0' : '#1d2430';
    ctx.beginPath();
    ctx.moveTo(X(frame[3 * p]), Z(frame[3 * p + 2]));
    ctx.lineTo(X(frame[3 * b]), Z(frame[3 * b + 2]));
    ctx.stroke();
  }
  for (const b of order) {
    const head = rollout.bodies[b] === 'head';
    ctx.fillStyle = head ? '#1d2430' : far(b) ? '#8fb0d6' : '#2f6db3';
    ctx.beginPath(); ctx.arc(X(frame[3 * b]), Z(frame[3 * b + 2]), head ? 0.09 * scale : 4, 0, 2 * Math.PI); ctx.fill();
  }
}

function animate(last) {
  return now => {
    if (playing && last !== null) clock += (now - last) / 1000 * speed;
    const longest = Math.max(...Object.values(replays).map(r => r.length * r.dt), 0);
    if (longest > 0 && clock > longest) clock = 0;
    document.getElementById('clock').textContent = `t = ${clock.toFixed(1)} s`;
    for (const slot of Object.keys(replays)) draw(slot);
    requestAnimationFrame(animate(now));
  };
}

async function select(weights) {
  lambda = weights;
  document.getElementById('lambdaLabel').textContent = `λ = ${lambdaText(weights)}`;
  document.getElementById('soup-title').textContent = `soup λ = ${lambdaText(weights)}` + (methods.length > 1 ? `, ${method}` : '');
  const chooser = document.getElementById('method');
  if (chooser) chooser.value = method;
  const slider = document.getElementById('slider');
  if (slider && weights.length === 2) slider.value = weights[1];
  drawTriangle();
  markChosen(weights);
  document.getElementById('rewards-soup').textContent = 'computing…';
  if (ensemblePanel) {
    document.getElementById('ensemble-title').textContent = `ensemble λ = ${lambdaText(weights)} (outputs combined)`;
    document.getElementById('rewards-ensemble').textContent = 'computing…';
  }
  // Each panel and its weights: the soup and the ensemble follow λ; the λ = μ panel keeps its μ (reloaded for a new prompt or method).
  const jobs = [['soup', weights], ...(ensemblePanel ? [['ensemble', weights]] : []), ...(besideMu ? [['mu', besideMu]] : [])];
  if (besideMu) {
    document.getElementById('mu-title').textContent = `soup λ = μ = ${lambdaText(besideMu)}` + (methods.length > 1 ? `, ${method}` : '');
    document.getElementById('rewards-mu').textContent = 'computing…';
  }
  const done = await Promise.allSettled(jobs.map(([slot, w]) => loadReplay(slot, w)));
  const failed = done.map((d, i) => d.status === 'rejected' ? `${jobs[i][0]} for λ = ${lambdaText(jobs[i][1])}: ${d.reason.message}` : null).filter(x => x);
  show(failed.join('; '));
}

// A copy of panel sourceId for another slot: its title, canvas, texts, images and rewards renamed after the slot.
function clonePanel(sourceId, slot) {
  const panel = document.getElementById(sourceId).cloneNode(true);
  panel.id = `panel-${slot}`;
  panel.querySelector('h3').id = `${slot}-title`;
  panel.querySelector('canvas').id = `canvas-${slot}`;
  panel.querySelector('.texts').id = `text-${slot}`;
  panel.querySelector('.images').id = `image-${slot}`;
  panel.querySelector('.rewards').id = `rewards-${slot}`;
  panel.querySelector('.rewards').textContent = '';
  return panel;
}

// A panel cloned from the soup's for another slot, placed after or before the soup's.
function cloneSoupPanel(slot, after) {
  const soup = document.getElementById('panel-soup');
  const panel = clonePanel('panel-soup', slot);
  if (after) soup.after(panel); else soup.before(panel);
  soup.parentElement.classList.add('many');
}

// Runs that measured output-space ensembles (results.json's ensemble): a panel beside the soup's shows the experts'
// outputs combined with the same λ (text: Σ λᵢ logits; locomotion: the Gaussians' product; images: Σ λᵢ ε̂), computed live.
function buildEnsemblePanel() {
  if (!showcase.ensemble || !results.ensemble) return;
  ensemblePanel = true;
  cloneSoupPanel('ensemble', true);
}

// A soup panel left of the soup's, for λ = μ beside λ*(μ).
function ensureMuPanel() {
  if (!document.getElementById('panel-mu')) cloneSoupPanel('mu', false);
}

// "Which λ for my preference?": each μ of results.json's preferences (the expected-utility grid and MORL's μ) with
// the soup λ*(μ) chosen on the validation half of the evaluations; buttons play λ*(μ) or λ = μ in the soup panel, or
// both side by side (λ = μ in a panel of its own), and the note gives their test utilities μ · R and the paired difference.
function buildPreferenceControl() {
  const prefs = results.preferences;
  if (!prefs || !prefs.items.length) return;
  const box = document.getElementById('controls');
  const wrap = document.createElement('div');
  wrap.id = 'preference-control';
  const label = document.createElement('label');
  label.textContent = 'preference μ ';
  const chooser = document.createElement('select');
  chooser.id = 'preference';
  prefs.items.forEach((it, i) => chooser.add(new Option(`μ = ${lambdaText(it.mu)}${it.sources.includes('morl') ? ' (MORL trained one)' : ''}`, String(i))));
  label.append(chooser);
  const star = document.createElement('button');
  star.id = 'play-star';
  star.textContent = 'play λ*(μ)';
  const atMu = document.createElement('button');
  atMu.id = 'play-mu';
  atMu.textContent = 'play λ = μ';
  const note = document.createElement('span');
  note.id = 'preference-note';
  note.className = 'muted';
  const interval = m => m ? `${fmtR(m.mean)}${m.low === null || m.low === undefined ? '' : ` [${fmtR(m.low)}, ${fmtR(m.high)}]`}` : 'not evaluated';
  let anyItem = null;
  const item = () => chooser.value === 'any' ? anyItem : prefs.items[Number(chooser.value)];
  const describe = () => {
    const it = item();
    note.textContent = `λ*(μ) = ${lambdaText(it.lambda_star)}: utility μ · R ${interval(it.test_star)} on the test half; λ = μ: ${interval(it.test_mu)}` +
      (it.star_minus_mu ? `; λ* − (λ = μ) ${interval(it.star_minus_mu)}` : '') + (it.test_morl ? `; MORL for μ: ${interval(it.test_morl)}` : '') +
      (it.lambda_star_grid && lambdaText(it.lambda_star_grid) !== lambdaText(it.lambda_star) ? `; found by the λ search (the grid's best ${lambdaText(it.lambda_star_grid)}: λ* − it ${interval(it.star_minus_grid)})` : '') +
      (it.test_ensemble ? `; ensemble λ = μ: ${interval(it.test_ensemble)}, ensemble − soup ${interval(it.ensemble_minus_mu)}` : '');
    drawMuTriangle(it);
  };
  // Any μ: the server chooses λ*(μ) on the validation half as for the grid's μ (GET /prefer?mu=…), and the chooser gets it.
  const askAny = async mu => {
    try {
      anyItem = await api(`/prefer?mu=${mu.join(',')}`);
      let option = [...chooser.options].find(o => o.value === 'any');
      if (!option) { option = new Option('', 'any'); chooser.add(option); }
      option.text = `μ = ${lambdaText(anyItem.mu)} (any μ)`;
      chooser.value = 'any';
      describe();
    } catch (e) { show(`λ*(μ) for μ = ${lambdaText(mu)}: ${e.message}`); }
  };
  chooser.addEventListener('change', describe);
  star.addEventListener('click', () => select(item().lambda_star));
  atMu.addEventListener('click', () => select(item().mu));
  const beside = document.createElement('button');
  beside.id = 'play-beside';
  beside.textContent = 'λ*(μ) beside λ = μ';
  beside.addEventListener('click', () => {
    besideMu = item().mu;
    ensureMuPanel();
    select(item().lambda_star);
  });
  wrap.append(label, star, atMu, beside, note);
  if (results.rewards.length === 2) {
    const anyLabel = document.createElement('label');
    const slider = document.createElement('input');
    Object.assign(slider, { type: 'range', min: '0', max: '1', step: '0.01', value: '0.5', id: 'mu-any' });
    anyLabel.append(`or any μ (weight of ${results.rewards[1]}) `, slider);
    slider.addEventListener('change', () => { const m2 = Number(slider.value); askAny([Math.round((1 - m2) * 100) / 100, m2]); });
    wrap.append(anyLabel);
  } else if (results.rewards.length === 3) {
    // Three rewards: μ picked in a triangle of its own (ring: μ; dot: its λ*(μ)).
    const anyLabel = document.createElement('label');
    const canvas = document.createElement('canvas');
    Object.assign(canvas, { id: 'mu-triangle', width: 240, height: 210, title: 'click: any preference μ' });
    canvas.addEventListener('click', ev => askAny(triangleWeights(canvas, ev)));
    anyLabel.append('or any μ ', canvas);
    wrap.append(anyLabel);
  }
  box.append(wrap);
  describe();
}

// Runs with several soup methods (soups.methods): which method's soup the middle panel computes.
function buildMethodChooser() {
  if (methods.length < 2) return;
  const chooser = document.createElement('select');
  chooser.id = 'method';
  for (const m of methods) chooser.add(new Option(m.label === m.method ? m.label : `${m.label} (${m.method})`, m.label));
  chooser.addEventListener('change', () => { method = chooser.value; select(lambda); });
  const label = document.createElement('label');
  label.append('method ', chooser);
  document.getElementById('controls').append(label);
}

function buildControls(n) {
  const box = document.getElementById('controls');
  if (n === 2) {
    const slider = document.createElement('input');
    Object.assign(slider, { type: 'range', id: 'slider', min: 0, max: 1, step: 0.01, value: 0.5 });
    slider.addEventListener('change', () => select([1 - Number(slider.value), Number(slider.value)]));
    const hint = document.createElement('span');
    hint.className = 'muted';
    hint.textContent = `weight of expert 2 (${results.rewards[1]}); 0 = expert 1 (${results.rewards[0]})`;
    box.append(slider, hint);
  } else if (n === 3) {
    // N = 3: a triangle; a click picks the barycentric weights of its vertices. Dots: the evaluated soups
    // (coloured by λ as in the plot); ring: the current λ.
    const canvas = document.createElement('canvas');
    Object.assign(canvas, { id: 'triangle', width: 240, height: 210 });
    canvas.addEventListener('click', ev => select(triangleWeights(canvas, ev)));
    box.append(canvas);
    drawTriangle();
  } else {
    const note = document.createElement('span');
    note.className = 'muted';
    note.textContent = `${n} experts: click a soup in the plots to choose its λ.`;
    box.append(note);
  }
}

// The triangle's vertices (expert 1 at the top, 2 bottom left, 3 bottom right) and a λ's point in it.
const V = [[120, 16], [14, 196], [226, 196]];
const triPoint = l => [0, 1].map(c => l[0] * V[0][c] + l[1] * V[1][c] + l[2] * V[2][c]);

// The barycentric weights of a click in a triangle canvas, snapped to 0.01 as the slider of two experts: a click on a
// vertex is exactly that vertex.
function triangleWeights(canvas, ev) {
  const r = canvas.getBoundingClientRect();
  // Canvas pixels: the click relative to the drawing area (inside the border), scaled to the canvas's size.
  const [x, y] = [(ev.clientX - r.left - canvas.clientLeft) * canvas.width / canvas.clientWidth, (ev.clientY - r.top - canvas.clientTop) * canvas.height / canvas.clientHeight];
  const d = (V[1][1] - V[2][1]) * (V[0][0] - V[2][0]) + (V[2][0] - V[1][0]) * (V[0][1] - V[2][1]);
  let a = ((V[1][1] - V[2][1]) * (x - V[2][0]) + (V[2][0] - V[1][0]) * (y - V[2][1])) / d;
  let b = ((V[2][1] - V[0][1]) * (x - V[2][0]) + (V[0][0] - V[2][0]) * (y - V[2][1])) / d;
  a = Math.round(100 * Math.min(Math.max(a, 0), 1)) / 100;
  b = Math.round(100 * Math.min(Math.max(b, 0), 1 - a)) / 100;
  return [a, b, Math.round(100 * (1 - a - b)) / 100];
}

// The edges and the rewards' names of a triangle canvas; returns its context.
function triangleFrame(canvas) {
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = '#5f6b7a'; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(...V[0]); ctx.lineTo(...V[1]); ctx.lineTo(...V[2]); ctx.closePath(); ctx.stroke();
  ctx.font = '11px sans-serif';
  V.forEach((v, i) => {
    ctx.fillStyle = mixColor(oneHot(3, i));
    ctx.textAlign = i === 0 ? 'center' : i === 1 ? 'left' : 'right';
    ctx.fillText(results.rewards[i], v[0], v[1] + (i === 0 ? -4 : 12));
  });
  return ctx;
}

// The μ triangle (three rewards): a ring at the chosen μ, a filled dot at its λ*(μ) and a line between them.
function drawMuTriangle(item) {
  const canvas = document.getElementById('mu-triangle');
  if (!canvas) return;
  const ctx = triangleFrame(canvas);
  if (!item || item.mu.length !== 3) return;
  const [mx, my] = triPoint(item.mu), [sx, sy] = triPoint(item.lambda_star);
  ctx.strokeStyle = '#1d2430'; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(mx, my); ctx.lineTo(sx, sy); ctx.stroke();
  ctx.lineWidth = 2;
  ctx.beginPath(); ctx.arc(mx, my, 7, 0, 2 * Math.PI); ctx.stroke();
  ctx.fillStyle = mixColor(item.lambda_star);
  ctx.beginPath(); ctx.arc(sx, sy, 5, 0, 2 * Math.PI); ctx.fill();
}

function drawTriangle() {
  const canvas = document.getElementById('triangle');
  if (!canvas) return;
  const ctx = triangleFrame(canvas);
  for (const q of results.policies.filter(q => q.kind === 'soup')) {
    const [x, y] = triPoint(q.lambda);
    ctx.fillStyle = mixColor(q.lambda);
    ctx.beginPath(); ctx.arc(x, y, 4, 0, 2 * Math.PI); ctx.fill();
  }
  if (lambda) {
    const [x, y] = triPoint(lambda);
    ctx.strokeStyle = '#1d2430'; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(x, y, 8, 0, 2 * Math.PI); ctx.stroke();
  }
}

function paretoPlot() {
  if (results.rewards.length > 2) { paretoMatrix(); return; }
  const p = results.policies;
  const [rx, ry] = [0, 1];
  // In λ order: the grid's own order is not (MORL's μ soups are appended after it), and a line joins them.
  const byLambda = (a, b) => a.lambda[1] - b.lambda[1];
  const soups = p.filter(q => q.kind === 'soup').sort(byLambda);
  const hover = policyHover;
  const traces = [
    { name: `RS soups (HV ${num(results.rs_front.hypervolume)})`, x: soups.map(q => q.mean[rx]), y: soups.map(q => q.mean[ry]),
      mode: 'lines+markers', type: 'scatter', text: soups.map(hover), hoverinfo: 'text', customdata: soups.map(q => q.lambda),
      marker: { size: 10, color: soups.map(q => q.lambda[q.lambda.length - 1]), colorscale: 'Viridis', showscale: true, colorbar: { title: { text: `λ of ${results.rewards[results.rewards.length - 1]}` } } },
      line: { color: '#888' } },
    { name: 'experts', x: p.filter(q => q.kind === 'expert').map(q => q.mean[rx]), y: p.filter(q => q.kind === 'expert').map(q => q.mean[ry]),
      mode: 'markers+text', type: 'scatter', text: p.filter(q => q.kind === 'expert').map(q => q.label), textposition: 'top center',
      customdata: p.filter(q => q.kind === 'expert').map(q => q.lambda), marker: { size: 14, symbol: 'diamond', color: '#1d2430' } },
    { name: 'shared init', x: p.filter(q => q.kind === 'init').map(q => q.mean[rx]), y: p.filter(q => q.kind === 'init').map(q => q.mean[ry]),
      mode: 'markers', type: 'scatter', text: p.filter(q => q.kind === 'init').map(hover), hoverinfo: 'text', marker: { size: 12, symbol: 'square', color: '#000' } },
    { name: `MORL (HV ${num(results.morl_front.hypervolume)})`, x: p.filter(q => q.kind === 'morl').map(q => q.mean[rx]), y: p.filter(q => q.kind === 'morl').map(q => q.mean[ry]),
      mode: 'markers', type: 'scatter', text: p.filter(q => q.kind === 'morl').map(hover), hoverinfo: 'text', marker: { size: 12, symbol: 'triangle-up', color: '#c62828' } },
  ];
  // Soups of the family's other modes (text: LoRA 'factors' beside 'delta'), clickable like the others.
  // Soups of the run's other merge methods likewise: a click shows that method's soup live.
  const palette = ['#2e7d32', '#6a1b9a', '#ef6c00', '#00838f', '#ad1457'];
  (results.soup_modes || []).slice(1).forEach((m, k) => {
    const ms = p.filter(q => q.kind === m.kind).sort(byLambda);
    const live = m.method === 'linear' ? null : methods.find(x => x.label === m.mode);
    traces.push({ name: `soups, ${m.method === 'linear' ? 'mode' : 'method'} ${m.mode} (HV ${num(m.front.hypervolume)})`, x: ms.map(q => q.mean[rx]), y: ms.map(q => q.mean[ry]),
      mode: 'lines+markers', type: 'scatter', text: ms.map(hover), hoverinfo: 'text', customdata: live ? ms.map(q => q.lambda) : undefined, meta: live ? live.label : undefined,
      line: { dash: 'dot', color: palette[k % palette.length] }, marker: { size: 7, color: palette[k % palette.length] } });
  });
  // The experts' output-space ensembles, from expert to expert in λ order; a click shows the soup and the ensemble of that λ.
  if (results.ensemble) {
    const es = p.filter(q => q.kind === 'ensemble' || q.kind === 'expert').sort(byLambda);
    traces.push({ name: `output-space ensembles (HV ${num(results.ensemble.front.hypervolume)})`, x: es.map(q => q.mean[rx]), y: es.map(q => q.mean[ry]),
      mode: 'lines+markers', type: 'scatter', text: es.map(hover), hoverinfo: 'text', customdata: es.map(q => q.lambda),
      line: { dash: 'dashdot', color: '#9467bd' }, marker: { size: 9, symbol: 'square-open', color: '#9467bd' } });
  }
  const div = document.getElementById('pareto');
  Plotly.newPlot(div, traces, { margin: { t: 20 }, xaxis: { title: { text: results.rewards[rx] } }, yaxis: { title: { text: results.rewards[ry] } }, legend: { orientation: 'h', y: -0.2 } }, { displaylogo: false });
  div.on('plotly_click', ev => {
    const point = ev.points[0];
    if (!point || !point.customdata) return;
    // A point of a method's front shows that method's soup; RS soups and experts, the run's first method's.
    if (point.data.meta) method = point.data.meta;
    else if (methods.length) method = methods[0].label;
    select(point.customdata.map(Number));
  });
}

// N ≥ 3 rewards: one panel per pair of rewards (a scatter-plot matrix's upper half), the same policies in
// each, soups as markers coloured by their λ (no lines: a simplex grid has no order to join), and the
// chosen λ's nearest evaluated soup ringed in every panel.
function paretoMatrix() {
  const p = results.policies, n = results.rewards.length;
  const pairs = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pairs.push([i, j]);
  const columns = Math.min(3, pairs.length), rows = Math.ceil(pairs.length / columns);
  const hover = policyHover;
  const groups = [
    { name: `RS soups (HV ${num(results.rs_front.hypervolume)})`, of: q => q.kind === 'soup', marker: q => ({ size: 10, color: q.map(x => mixColor(x.lambda)), line: { width: 1, color: '#fff' } }) },
    { name: 'experts', of: q => q.kind === 'expert', marker: q => ({ size: 14, symbol: 'diamond', color: q.map(x => mixColor(x.lambda)), line: { width: 1, color: '#1d2430' } }) },
    { name: 'shared init', of: q => q.kind === 'init', marker: () => ({ size: 12, symbol: 'square', color: '#000' }) },
    { name: `MORL (HV ${num(results.morl_front.hypervolume)})`, of: q => q.kind === 'morl', marker: () => ({ size: 12, symbol: 'triangle-up', color: '#c62828' }) },
  ];
  if (results.ensemble)
    groups.push({ name: `output-space ensembles (HV ${num(results.ensemble.front.hypervolume)})`, of: q => q.kind === 'ensemble',
      marker: q => ({ size: 10, symbol: 'square-open', color: q.map(x => mixColor(x.lambda)), line: { width: 2 } }) });
  const traces = [];
  const layout = { margin: { t: 20 }, grid: { rows, columns, pattern: 'independent' }, legend: { orientation: 'h', y: -0.15 }, showlegend: true };
  pairs.forEach(([a, b], k) => {
    const axis = k === 0 ? '' : String(k + 1);
    layout[`xaxis${axis}`] = { title: { text: results.rewards[a] } };
    layout[`yaxis${axis}`] = { title: { text: results.rewards[b] } };
    for (const g of groups) {
      const qs = p.filter(g.of);
      traces.push({ name: g.name, legendgroup: g.name, showlegend: k === 0, x: qs.map(q => q.mean[a]), y: qs.map(q => q.mean[b]),
        xaxis: `x${axis}`, yaxis: `y${axis}`, mode: 'markers', type: 'scatter', text: qs.map(hover), hoverinfo: 'text',
        customdata: g.name === 'shared init' ? undefined : qs.map(q => q.lambda), marker: g.marker(qs) });
    }
    traces.push({ name: 'chosen λ (nearest evaluated soup)', legendgroup: 'chosen', showlegend: k === 0, x: [], y: [], xaxis: `x${axis}`, yaxis: `y${axis}`,
      mode: 'markers', type: 'scatter', hoverinfo: 'skip', meta: ['chosen', a, b], marker: { size: 22, color: 'rgba(0,0,0,0)', line: { width: 3, color: '#1d2430' } } });
  });
  const div = document.getElementById('pareto');
  div.style.height = `${Math.max(460, 340 * rows + 80)}px`;
  Plotly.newPlot(div, traces, layout, { displaylogo: false });
  div.on('plotly_click', ev => {
    const point = ev.points[0];
    if (!point || !point.customdata) return;
    if (methods.length) method = methods[0].label;
    select(point.customdata.map(Number));
  });
}

/** Rings, in every panel of the N ≥ 3 plot, the evaluated soup nearest to λ (the chosen one itself when it is on the grid). */
function markChosen(weights) {
  const div = document.getElementById('pareto');
  if (results.rewards.length < 3 || !div.data) return;
  const soups = results.policies.filter(q => q.kind === 'soup');
  if (!soups.length) return;
  const dist = q => q.lambda.reduce((acc, w, i) => acc + (w - weights[i]) ** 2, 0);
  const nearest = soups.reduce((best, q) => dist(q) < dist(best) ? q : best);
  const indices = [], xs = [], ys = [];
  div.data.forEach((t, i) => {
    if (!Array.isArray(t.meta) || t.meta[0] !== 'chosen') return;
    indices.push(i); xs.push([nearest.mean[t.meta[1]]]); ys.push([nearest.mean[t.meta[2]]]);
  });
  div.dataset.chosen = nearest.lambda.join(',');
  Plotly.restyle(div, { x: xs, y: ys }, indices);
}

function alongPlot() {
  if (results.rewards.length !== 2) {
    const along = document.getElementById('along');
    along.textContent = 'rewards along λ are drawn for 2 experts; for more, the plots above show every pair of rewards, and the table every soup.';
    along.style.height = 'auto';
    return;
  }
  const soups = results.policies.filter(q => q.kind === 'soup').sort((a, b) => a.lambda[1] - b.lambda[1]);
  const x = soups.map(q => q.lambda[1]);
  const traces = [];
  const colors = ['#1f77b4', '#ff7f0e'];
  results.rewards.forEach((name, i) => {
    traces.push({ name, x, y: soups.map(q => q.mean[i]), yaxis: i === 0 ? 'y' : 'y2', mode: 'lines+markers', type: 'scatter', line: { color: colors[i] },
      error_y: { type: 'data', symmetric: false, array: soups.map(q => q.high[i] - q.mean[i]), arrayminus: soups.map(q => q.mean[i] - q.low[i]), color: colors[i] } });
    traces.push({ name: `${name}: chord between experts`, x: [0, 1], y: [soups[0].mean[i], soups[soups.length - 1].mean[i]], yaxis: i === 0 ? 'y' : 'y2', mode: 'lines', line: { dash: 'dash', color: colors[i] } });
    if (results.ensemble) {
      const es = results.policies.filter(q => q.kind === 'ensemble' || q.kind === 'expert').sort((a, b) => a.lambda[1] - b.lambda[1]);
      traces.push({ name: `${name}: output-space ensemble`, x: es.map(q => q.lambda[1]), y: es.map(q => q.mean[i]), yaxis: i === 0 ? 'y' : 'y2', mode: 'lines+markers', type: 'scatter',
        line: { dash: 'dot', color: colors[i] }, marker: { symbol: 'square-open', size: 8, color: colors[i] } });
    }
  });
  Plotly.newPlot('along', traces, { margin: { t: 20 }, xaxis: { title: { text: 'λ₂ (weight of expert 2)' } },
    yaxis: { title: { text: results.rewards[0] } }, yaxis2: { title: { text: results.rewards[1] }, overlaying: 'y', side: 'right' }, legend: { orientation: 'h', y: -0.25 } }, { displaylogo: false });
}

function table() {
  const t = document.getElementById('table');
  const head = t.insertRow();
  ['kind', 'label', ...results.rewards.map(r => `${r} mean [95% CI]`)].forEach(h => { const th = document.createElement('th'); th.textContent = h; head.append(th); });
  for (const q of results.policies) {
    const row = t.insertRow();
    [q.kind, q.label, ...q.mean.map((m, i) => `${fmtR(m)} [${fmtR(q.low[i])}, ${fmtR(q.high[i])}]`)].forEach(v => { row.insertCell().textContent = v; });
  }
}

// Text and image runs: no canvases or playback; a prompt chooser (held-out reviews, garments) reloads all three panels.
function setUpPrompts() {
  for (const slot of ['soup', ...expertSlots, ...(ensemblePanel ? ['ensemble'] : [])]) {
    document.getElementById(`canvas-${slot}`).hidden = true;
    document.getElementById(`${showcase.kind}-${slot}`).hidden = false;
  }
  document.getElementById('playback').hidden = true;
  const chooser = document.createElement('select');
  chooser.id = 'prompt';
  showcase.options.prompts.forEach((p, i) => chooser.add(new Option(showcase.kind === 'text' ? `${i}: ${p.prompt}…` : p.prompt, String(i))));
  chooser.addEventListener('change', async () => {
    prompt = Number(chooser.value);
    try {
      await loadExperts();
    } catch (e) { show(`expert samples: ${e.message}`); }
    await select(lambda);
  });
  const label = document.createElement('label');
  label.append('prompt ', chooser);
  document.getElementById('controls').append(label);
}

/** What the spread of training seeds says about RS vs MORL (results.json schema 2), as the CLI summary says it. */
function seedText(results) {
  const c = results.rs_vs_morl;
  if (!c) return '';
  if (results.training_seeds.length < 2) return ' One training seed: no interval between seeds.';
  const d = c.hypervolume_difference;
  const side = d.low > 0 || d.high < 0 ? 'beyond' : 'within';
  const r = c.hypervolume_ratio;
  const ratio = r ? `; RS/MORL ${(100 * r.mean).toFixed(1)}% [${(100 * r.low).toFixed(1)}%, ${(100 * r.high).toFixed(1)}%]` : '';
  return ` Seed against seed (${results.training_seeds.length} seeds, 95%): RS − MORL hypervolume ${num(d.mean)} [${num(d.low)}, ${num(d.high)}], ${side} the spread of seeds${ratio}.`;
}

// Every expert gets a panel: N = 2 keeps expert 1 | soup | expert 2; N ≥ 3 puts the soup first, then experts 1…N.
function buildExpertPanels(n) {
  const row = document.getElementById('panel-soup').parentElement;
  const right = document.getElementById('panel-right');
  expertSlots = ['left'];
  for (let k = 2; k < n; k++) {
    const slot = `expert-${k}`;
    row.insertBefore(clonePanel('panel-left', slot), right);
    expertSlots.push(slot);
  }
  expertSlots.push('right');
  if (n > 2) {
    row.prepend(document.getElementById('panel-soup'));
    row.classList.add('many');   // narrower panels: the soup and every expert side by side
  }
  expertSlots.forEach((slot, k) => {
    document.getElementById(`${slot}-title`).textContent = `expert ${k + 1}: ${results.rewards[k]} (λ = ${lambdaText(oneHot(n, k))})`;
  });
}

function loadExperts() {
  const n = results.rewards.length;
  return Promise.all(expertSlots.map((slot, k) => loadReplay(slot, oneHot(n, k))));
}

async function main() {
  if (!runId) { fail('no run id in the address'); return; }
  try {
    results = await api('/results');
  } catch (e) { fail(`could not load run: ${e.message}`); return; }
  try {
    showcase = await api('/showcase');
  } catch (e) { fail(`could not load the run's showcase: ${e.message}`); return; }
  document.getElementById('title').textContent = results.name;
  document.title = `RewardedSoups — ${results.name}`;
  document.getElementById('summary').textContent =
    `${results.task}; rewards ${results.rewards.join(' vs ')}; ${results.training_seeds.length} training seed(s), ${count(results.episodes_per_policy)} ${results.evaluation_unit ?? 'episodes'} per policy; ` +
    measuresText(results) +
    `RS hypervolume ${num(results.rs_front.hypervolume)} vs MORL ${num(results.morl_front.hypervolume)}; ${results.cost.unit || 'environment steps'}: RS ${count(results.cost.rs_steps)} vs MORL ${count(results.cost.morl_steps)}.` +
    seedText(results);
  const n = results.rewards.length;
  buildExpertPanels(n);
  methods = showcase.methods || [];
  method = methods.length ? methods[0].label : null;
  buildControls(n);
  buildPreferenceControl();
  buildMethodChooser();
  buildEnsemblePanel();
  if (promptKind()) setUpPrompts();
  paretoPlot();
  alongPlot();
  table();
  document.getElementById('play').addEventListener('click', ev => { playing = !playing; ev.target.textContent = playing ? 'pause' : 'play'; });
  document.getElementById('restart').addEventListener('click', () => { clock = 0; });
  document.getElementById('speed').addEventListener('change', ev => { speed = Number(ev.target.value); });
  requestAnimationFrame(animate(null));
  try {
    await loadExperts();
  } catch (e) { show(`expert replays: ${e.message}`); }
  await select(n === 2 ? [0.5, 0.5] : Array.from({ length: n }, () => 1 / n));
}
main();
