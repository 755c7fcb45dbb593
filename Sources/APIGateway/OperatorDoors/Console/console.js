// The operator's console. Every string shown comes from a log line, a model or a unit name and is hostile: it is
// only ever put into the page as text (textContent, attribute values set one by one), never parsed as markup.
"use strict";

const csrf = { "X-AI-Sysadmin-Console": "1" };
const svgNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
let stream = null;
let canDecide = false;
let reconnectDelay = 1000;

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child == null) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function svg(tag, attributes) {
  const node = document.createElementNS(svgNS, tag);
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, String(value));
  return node;
}

const time = (value) => (value ? new Date(value).toLocaleString() : "-");
const micros = (value) => new Date(value / 1000).toLocaleString();
function duration(seconds) {
  if (seconds == null) return "-";
  const s = Math.floor(seconds);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

// MARK: Rendering

function render(state) {
  $("host").textContent = state.host;
  $("level").textContent = `autonomy: ${state.autonomyLevel}`;
  $("decide-note").hidden = canDecide;
  renderServers(state.status);
  renderMetrics(state.metrics);
  const failed = state.failedUnits;
  $("failed-units").replaceChildren(
    ...(failed == null ? [el("li", { class: "note", text: "systemd cannot be asked on this host" })]
      : failed.length === 0 ? [el("li", { class: "note", text: "none" })]
        : failed.map((unit) => el("li", { class: "sev-error", text: unit }))));
  renderEventsChart(state.eventsPerHour);
  fill($("events").tBodies[0], state.events.map((event) =>
    el("tr", { class: "event-row", "data-event-id": String(event.id) },
      el("td", { text: micros(event.timeMicroseconds) }),
      el("td", { class: `sev-${event.severity}`, text: event.severity + (event.escalate ? " ↑" : "") }),
      el("td", { text: event.source }),
      el("td", { text: event.unit || event.identifier || "" }),
      el("td", { text: event.summary }),
      el("td", { class: "message", text: event.message }))));
  renderReview(state.lastReview);
  renderAnalyses(state.analyses);
  renderApprovals(state.pendingApprovals, canDecide);
  fill($("audit").tBodies[0], state.audit.map((entry) =>
    el("tr", {},
      el("td", { text: time(entry.time) }),
      el("td", { text: `#${entry.proposalID}` }),
      el("td", { text: entry.event }),
      el("td", { text: entry.actor }),
      el("td", { class: "message", text: entry.detail }))));
}

function renderServers(status) {
  const rows = status.models.map((model) => [model.layer, model.backend, model]);
  if (status.gateway) rows.push(["gateway", "managed", status.gateway]);
  fill($("servers").tBodies[0], rows.map(([name, backend, server]) =>
    el("tr", { "data-server": name },
      el("td", { text: name }),
      el("td", { text: backend }),
      el("td", { class: `state-${server.state}`, text: server.state }),
      el("td", { text: server.pid == null ? "-" : String(server.pid) }),
      el("td", { text: server.endpoint }),
      el("td", { text: duration(server.uptimeSeconds) }),
      el("td", { text: String(server.restarts) }),
      el("td", { class: "message", text: server.lastError || "-" }))));
  const backlog = status.monitoring;
  $("backlog").textContent = backlog
    ? `Layer 1: ${backlog.templatesWaiting} templates wait for a verdict, ${backlog.linesHeld} lines held, `
      + `${backlog.provisionalLines} decided by rules alone; trigger model ${backlog.triggerModel}`
    : "Layer 1 is off or has not started";
}

function renderMetrics(metrics) {
  if (metrics.length === 0) {
    $("metrics").replaceChildren(el("p", { class: "note", text: "no metric readings in the last 6 hours" }));
    return;
  }
  $("metrics").replaceChildren(...metrics.map((metric) => {
    const percent = metric.name !== "load_per_cpu";
    const scale = percent ? 100 : Math.max(metric.threshold * 1.5, ...metric.history.map((point) => point[1]));
    const last = metric.last ?? 0;
    const over = last >= metric.threshold;
    const bar = el("div", { class: "bar" }, el("div", { class: "fill" }), el("div", { class: "threshold" }));
    bar.firstChild.style.width = `${Math.min(100, (last / scale) * 100)}%`;
    bar.lastChild.style.left = `${Math.min(100, (metric.threshold / scale) * 100)}%`;
    return el("div", { class: over ? "metric over" : "metric", "data-metric": metric.name },
      el("div", { class: "name", text: `${metric.name}: ${last.toFixed(1)}${percent ? "%" : ""}` }),
      bar,
      el("div", { class: "note", text: `threshold ${metric.threshold}${percent ? "%" : ""}` }),
      sparkline(metric.history, scale, metric.threshold));
  }));
}

function sparkline(points, scale, threshold) {
  const width = 240, height = 48;
  const chart = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  if (points.length < 2) return chart;
  const first = points[0][0], span = Math.max(1, points[points.length - 1][0] - first);
  const y = (value) => height - 2 - Math.min(1, value / scale) * (height - 4);
  chart.append(svg("line", { class: "limit", x1: 0, x2: width, y1: y(threshold), y2: y(threshold) }));
  chart.append(svg("polyline", {
    class: "line",
    points: points.map(([t, v]) => `${(((t - first) / span) * width).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
  }));
  return chart;
}

const severities = ["info", "warning", "error", "critical"];

function renderEventsChart(hours) {
  const width = 720, height = 120, bottom = 16;
  const chart = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  const max = Math.max(1, ...hours.map((hour) => severities.reduce((sum, s) => sum + (hour.counts[s] || 0), 0)));
  const step = width / hours.length;
  hours.forEach((hour, index) => {
    let top = height - bottom;
    for (const severity of severities) {
      const count = hour.counts[severity] || 0;
      if (!count) continue;
      const h = (count / max) * (height - bottom - 12);
      top -= h;
      const bar = svg("rect", { class: severity, x: index * step + 1, y: top, width: step - 2, height: h });
      const title = svg("title");
      title.textContent = `${new Date(hour.hour).toLocaleTimeString()}: ${count} ${severity}`;
      bar.append(title);
      chart.append(bar);
    }
    if (index % 4 === 0) {
      const label = svg("text", { x: index * step, y: height - 3 });
      label.textContent = new Date(hour.hour).getHours().toString().padStart(2, "0") + ":00";
      chart.append(label);
    }
  });
  const scale = svg("text", { x: 0, y: 10 });
  scale.textContent = `max ${max}/h`;
  chart.append(scale);
  $("events-chart").replaceChildren(chart);
}

function renderReview(last) {
  if (!last) {
    $("review").replaceChildren(el("p", { class: "note", text: "no review yet" }));
    return;
  }
  const review = last.review;
  $("review").replaceChildren(el("div", { class: "review" },
    el("p", {}, el("strong", { class: `sev-${review.status === "healthy" ? "info" : review.status === "degraded" ? "warning" : "critical"}`, text: review.status }),
      ` at ${time(last.time)}: `, review.summary),
    el("ul", {}, ...review.issues.map((issue) =>
      el("li", { class: `sev-${issue.severity}`, text: `${issue.severity} ${issue.category}: ${issue.description} ${issue.units.join(", ")}` }))),
    review.escalate ? el("p", { class: "note", text: `escalated: ${review.escalation_reason}` }) : null));
}

function renderAnalyses(analyses) {
  if (analyses.length === 0) {
    $("analyses").replaceChildren(el("p", { class: "note", text: "no analyses yet" }));
    return;
  }
  $("analyses").replaceChildren(...analyses.map((stored) => {
    const result = stored.analysis;
    return el("details", { class: "analysis", "data-analysis-id": String(stored.id) },
      el("summary", {}, `#${stored.id} ${time(stored.time)} — `, result ? result.diagnosis : `failed: ${stored.failure || "unknown"}`),
      el("p", { class: "note", text: `escalation: ${stored.escalation}` }),
      result ? el("p", { text: `root cause (${result.confidence}): ${result.root_cause}` }) : null,
      ...stored.steps.map((step) => el("pre", {
        text: `${step.tool}(${Object.entries(step.arguments).map(([k, v]) => `${k}=${v}`).join(", ")})\n${step.result}`,
      })));
  }));
}

function renderApprovals(proposals, canDecide) {
  // Cards being decided keep their typed reason and message: only new ones are built (and all of them when the
  // standing changed, as after a new login).
  const existing = new Map([...$("approvals").children]
    .filter((card) => card.dataset.canDecide === String(canDecide))
    .map((card) => [card.dataset.proposalId, card]));
  if (proposals.length === 0) {
    $("approvals").replaceChildren(el("p", { class: "note", text: "nothing waits for approval" }));
    return;
  }
  $("approvals").replaceChildren(...proposals.map((proposal) => existing.get(String(proposal.id)) || proposalCard(proposal, canDecide)));
}

function proposalCard(proposal, canDecide) {
  const reason = el("input", { class: "reason", type: "text", placeholder: "reason (required to reject)", maxLength: 500 });
  const outcome = el("span", { class: "outcome" });
  const approve = el("button", { class: "approve", type: "button", text: "Approve", disabled: !canDecide });
  const reject = el("button", { class: "reject", type: "button", text: "Reject", disabled: !canDecide });
  approve.addEventListener("click", () => decide(proposal.id, "approve", reason.value, outcome, [approve, reject]));
  reject.addEventListener("click", () => decide(proposal.id, "reject", reason.value, outcome, [approve, reject]));
  const parameters = Object.entries(proposal.parameters).map(([k, v]) => `${k}=${v}`).join(" ");
  return el("div", { class: `proposal risk-${proposal.risk || "unknown"}`, "data-proposal-id": String(proposal.id), "data-can-decide": String(canDecide) },
    el("strong", { text: `#${proposal.id} ${proposal.type} ${parameters}` }),
    el("dl", {},
      el("dt", { text: "proposed by" }), el("dd", { text: `${proposal.source} at ${time(proposal.createdAt)}` }),
      el("dt", { text: "rationale" }), el("dd", { text: proposal.rationale }),
      el("dt", { text: "risk" }), el("dd", { text: proposal.risk || "unknown" }),
      el("dt", { text: "why it waits" }), el("dd", { text: proposal.reason || "the autonomy level" }),
      el("dt", { text: "exact calls" }), el("dd", { class: "message", text: proposal.action || "-" }),
      el("dt", { text: "expected effect" }), el("dd", { text: proposal.expectedEffect }),
      el("dt", { text: "rollback" }), el("dd", { text: proposal.rollback }),
      el("dt", { text: "expires" }), el("dd", { text: time(proposal.expiresAt) })),
    el("div", { class: "decide" }, reason, approve, reject, outcome));
}

async function decide(id, decision, reason, outcome, buttons) {
  buttons.forEach((button) => { button.disabled = true; });
  outcome.textContent = "…";
  try {
    const response = await fetch(`/console/api/proposals/${id}/${decision}`, {
      method: "POST", credentials: "same-origin",
      headers: { ...csrf, "Content-Type": "application/json" },
      body: JSON.stringify({ reason }),
    });
    const body = await response.json().catch(() => ({}));
    outcome.textContent = response.ok ? body.outcome : `not done: ${body.outcome || body.error || response.status}`;
    outcome.className = response.ok ? "outcome" : "outcome error";
    if (!response.ok && response.status !== 409) buttons.forEach((button) => { button.disabled = false; });
  } catch (error) {
    outcome.textContent = `not sent: ${error}`;
    buttons.forEach((button) => { button.disabled = false; });
  }
}

// MARK: Session and live updates

function showLogin(message) {
  if (stream) stream.close();
  stream = null;
  $("console").hidden = true;
  $("approvals").replaceChildren();
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("connection").textContent = "logged out";
  $("connection").className = "pill";
}

async function start() {
  const response = await fetch("/console/api/state", { credentials: "same-origin" });
  if (response.status === 401) return showLogin();
  if (!response.ok) {
    $("connection").textContent = `error ${response.status}`;
    $("connection").className = "pill down";
    return;
  }
  const body = await response.json();
  canDecide = body.canDecide;
  render(body.snapshot);
  $("login").hidden = true;
  $("console").hidden = false;
  $("logout").hidden = false;
  listen();
}

function listen() {
  if (stream) stream.close();
  stream = new EventSource("/console/api/stream");
  stream.addEventListener("open", () => {
    reconnectDelay = 1000;
    $("connection").textContent = "live";
    $("connection").className = "pill live";
  });
  stream.addEventListener("standing", (event) => { canDecide = JSON.parse(event.data).canDecide; });
  stream.addEventListener("state", (event) => render(JSON.parse(event.data)));
  stream.addEventListener("problem", (event) => {
    $("connection").textContent = `problem: ${JSON.parse(event.data)}`;
    $("connection").className = "pill down";
  });
  stream.addEventListener("error", async () => {
    $("connection").textContent = "reconnecting…";
    $("connection").className = "pill down";
    const check = await fetch("/console/api/state", { credentials: "same-origin" }).catch(() => null);
    if (check && check.status === 401) return showLogin("the session ended; log in again");
    // EventSource retries a dropped connection itself, but gives up on an answer that is not a stream (the gateway's
    // 502 while the daemon restarts): then start it again, waiting longer each time.
    if (stream.readyState === EventSource.CLOSED) {
      setTimeout(listen, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, 30000);
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/console/login", {
      method: "POST", credentials: "same-origin",
      headers: { ...csrf, "Content-Type": "application/json" },
      body: JSON.stringify({ key: $("login-key").value }),
    });
    $("login-key").value = "";
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      return showLogin(body.error || `refused (${response.status})`);
    }
    start();
  });
  $("operator-login").addEventListener("click", () => showLogin());
  $("logout").addEventListener("click", async () => {
    await fetch("/console/logout", { method: "POST", credentials: "same-origin", headers: csrf });
    showLogin();
  });
  start();
});
