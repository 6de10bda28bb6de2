// The dashboard: metrics ranked by their newest anomaly likelihood, and one metric's values with the likelihood
// beneath, anomalies marked. Everything comes from the engine's own HTTP API; the page polls it every few seconds.
"use strict";

const REFRESH_MS = 5000;
const ROWS = 2000;            // newest rows drawn for a metric
const YELLOW = 1000000;       // display_value of a likelihood >= 0.9999 (htmengine's rescaleForDisplay)
const RED = 1000000000;       // display_value of a likelihood >= 0.99999

let selected = decodeURIComponent(location.hash.slice(1)) || null;
let plot = null;

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function level(score) {
  if (score === null || score === undefined) return "";
  return score >= 0.99999 ? "red" : score >= 0.9999 ? "yellow" : "";
}

async function refreshList() {
  const { metrics } = await getJson("/api/metrics?sort=anomaly");
  const list = document.getElementById("metrics");
  list.replaceChildren(...metrics.map(m => {
    const item = document.createElement("li");
    item.className = ["metric", level(m.currentAnomaly), m.name === selected ? "selected" : ""].join(" ").trim();
    item.dataset.uid = m.uid;
    item.dataset.name = m.name;
    const name = document.createElement("span");
    name.textContent = m.name;
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = m.currentAnomaly === null ? m.status : m.currentAnomaly.toFixed(5);
    item.append(name, score);
    item.addEventListener("click", () => { location.hash = encodeURIComponent(m.name); });
    return item;
  }));
  if (!selected && metrics.length > 0) selected = metrics[0].name;
  return metrics.length;
}

async function refreshChart() {
  if (!selected) return;
  const body = await getJson(`/api/metrics/${encodeURIComponent(selected)}/data?order=desc&limit=${ROWS}`);
  const rows = body.data.reverse();
  const time = rows.map(r => Date.parse(r.timestamp) / 1000);
  const values = rows.map(r => r.value);
  const scores = rows.map(r => r.anomalyScore);
  const yellow = rows.map(r => r.displayValue !== null && r.displayValue >= YELLOW && r.displayValue < RED ? r.anomalyScore : null);
  const red = rows.map(r => r.displayValue !== null && r.displayValue >= RED ? r.anomalyScore : null);
  const anomalies = rows.filter(r => r.displayValue !== null && r.displayValue >= YELLOW).length;

  document.getElementById("title").textContent = body.name;
  document.getElementById("summary").textContent =
    `${rows.length} rows, ${rows.filter(r => r.anomalyScore !== null).length} scored, ${anomalies} anomalous`;
  const chart = document.getElementById("chart");
  chart.dataset.metric = body.name;
  chart.dataset.points = String(rows.length);
  chart.dataset.anomalies = String(anomalies);

  const data = [time, values, scores, yellow, red];
  const width = Math.max(400, chart.clientWidth || 800);
  if (plot && plot.metric === body.name) {
    plot.setData(data);
    return;
  }

  if (plot) plot.destroy();
  const dot = color => ({ scale: "score", stroke: color, width: 0, points: { show: true, size: 8, fill: color, stroke: color } });
  plot = new uPlot({
    width, height: 420,
    scales: { x: { time: true }, score: { range: [0, 1] } },
    axes: [{}, { label: "value" }, { scale: "score", side: 1, label: "likelihood", grid: { show: false } }],
    series: [
      {},
      { label: "value", stroke: "#1565c0", width: 1 },
      { label: "likelihood", scale: "score", stroke: "#6a1b9a", width: 1 },
      { label: "≥ 0.9999", ...dot("#f9a825") },
      { label: "≥ 0.99999", ...dot("#c62828") },
    ],
  }, data, chart);
  plot.metric = body.name;
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const count = await refreshList();
    await refreshChart();
    status.textContent = `${count} metrics · updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.ready = "true";
  } catch (error) {
    status.textContent = `cannot reach the engine: ${error.message}`;
  }
}

window.addEventListener("hashchange", () => {
  selected = decodeURIComponent(location.hash.slice(1)) || null;
  refresh();
});
refresh();
setInterval(refresh, REFRESH_MS);
