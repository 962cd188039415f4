// The Integration Console (host/admin/console): a dependency-free single-page app over the admin
// JSON API of the same origin (docs/admin-api.md). Hash routes pick the view; one timer refreshes
// the visible view. All page text is set with textContent (never innerHTML), so API data is inert.

const REFRESH_MS = 3000; // how often the visible view is refreshed
const REQUEST_TIMEOUT_MS = 5000; // a request slower than this counts as "hub not answering"
const RUNS_PAGE = 20;
const ENTITIES_PAGE = 50;
const EVENTS_PAGE = 100;
const TOKEN_KEY = "reglo.adminToken";

const STATUS_LABEL = {
  ok: "OK",
  warning: "Warning",
  failed: "Failed",
  paused: "Paused",
  new: "New",
  running: "Running",
  cancelled: "Cancelled",
  active: "Active",
  standby: "Standby",
  starting: "Starting",
  enabled: "Enabled",
  disabled: "Disabled",
  pending: "Pending",
  delivered: "Delivered",
  dead: "Dead",
  revoked: "Revoked",
  failing: "Failing",
  unknown: "Unknown",
};
// Problems first in the source list.
const STATUS_ORDER = { failed: 0, warning: 1, paused: 2, new: 3, ok: 4 };

// ---------------------------------------------------------------------------------------------
// Small DOM helpers.

const $ = (id) => document.getElementById(id);

// el("td", {className: "num", title: "x"}, child, "text", ...)
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null) continue;
      if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("aria-") || key === "role" || key === "scope") node.setAttribute(key, value);
      else node[key] = value;
    }
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// Sets text (and title) only when they changed: refreshes touch the DOM as little as possible.
function setText(node, text, title) {
  const value = text ?? "";
  if (node.textContent !== value) node.textContent = value;
  if (title !== undefined && node.title !== (title ?? "")) node.title = title ?? "";
}

function badge(status) {
  const key = String(status ?? "").toLowerCase();
  return el("span", { className: `badge badge-${key}` }, STATUS_LABEL[key] ?? (key || "—"));
}

function setBadge(node, status) {
  const key = String(status ?? "").toLowerCase();
  const cls = `badge badge-${key}`;
  if (node.className !== cls) node.className = cls;
  setText(node, STATUS_LABEL[key] ?? (key || "—"));
}

function clear(node) {
  node.replaceChildren();
}

function toast(message, bad = false) {
  const line = el("p", { className: bad ? "bad" : "" }, message);
  $("toast").append(line);
  setTimeout(() => line.remove(), bad ? 8000 : 4000);
}

// ---------------------------------------------------------------------------------------------
// Times.

function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(undefined, {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return String(iso);
  const seconds = (now - t) / 1000;
  return seconds < 5 ? "just now" : `${formatDuration(seconds)} ago`;
}

function formatNumber(n) {
  return typeof n === "number" ? n.toLocaleString() : "";
}

// ---------------------------------------------------------------------------------------------
// The admin token: asked once, kept in sessionStorage (or localStorage when "remember" is ticked),
// sent as a Bearer token; a 401 forgets it and asks again.

let tokenWaiters = null; // a promise resolved when the operator enters a token

function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY) ?? localStorage.getItem(TOKEN_KEY);
}

function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(TOKEN_KEY);
}

function askToken(message) {
  const dialog = $("token-dialog");
  const error = $("token-error");
  // A later ask without a message (the refresh loop waiting for a token) keeps the shown one.
  if (message || !dialog.open) {
    error.hidden = !message;
    setText(error, message ?? "");
  }
  if (!tokenWaiters) {
    let resolve;
    const promise = new Promise((r) => (resolve = r));
    tokenWaiters = { promise, resolve };
  }
  if (!dialog.open) {
    $("token-input").value = "";
    dialog.showModal();
  }
  $("token-input").focus();
  return tokenWaiters.promise;
}

function setupTokenDialog() {
  const dialog = $("token-dialog");
  // The console is useless without a token: Escape does not close the dialog.
  dialog.addEventListener("cancel", (event) => event.preventDefault());
  $("token-form").addEventListener("submit", (event) => {
    const token = $("token-input").value.trim();
    if (!token) {
      event.preventDefault();
      return;
    }
    forgetToken();
    ($("token-remember").checked ? localStorage : sessionStorage).setItem(TOKEN_KEY, token);
    $("token-input").value = "";
    const waiters = tokenWaiters;
    tokenWaiters = null;
    waiters?.resolve(token);
    scheduleRefresh(0);
  });
  $("change-token").addEventListener("click", () => {
    forgetToken();
    askToken();
  });
}

async function currentToken() {
  return storedToken() ?? askToken();
}

// ---------------------------------------------------------------------------------------------
// The API client. Every failure is one of three kinds: AuthError (401: asks for the token again),
// HubDown (no answer, a timeout or a gateway error: shows the banner), ApiError (a problem+json).

class AuthError extends Error {}
class HubDown extends Error {}
class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

const health = { downSince: null, lastOk: null };

async function api(path, { method = "GET", body, timeoutMs = REQUEST_TIMEOUT_MS } = {}) {
  const token = await currentToken();
  const sent = new Date();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      cache: "no-store",
    });
  } catch (error) {
    hubDown(sent);
    throw new HubDown(controller.signal.aborted ? "timed out" : String(error?.message ?? error));
  } finally {
    clearTimeout(timer);
  }
  if (response.status === 502 || response.status === 503 || response.status === 504) {
    // A proxy in front of a stopped hub.
    hubDown(sent);
    throw new HubDown(`HTTP ${response.status}`);
  }
  hubUp();
  if (response.status === 401) {
    // Only if the token has not been changed meanwhile.
    if (storedToken() === token) {
      forgetToken();
      askToken("The hub refused this token. Enter the admin token again.");
    }
    throw new AuthError("unauthorized");
  }
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      problem = null;
    }
    throw new ApiError(response.status, problem);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// `since`: when the first request that got no answer was sent.
function hubDown(since) {
  if (health.downSince === null) health.downSince = since;
  renderHealth();
}

function hubUp() {
  const wasDown = health.downSince !== null;
  health.downSince = null;
  health.lastOk = new Date();
  renderHealth();
  if (wasDown) toast("The hub is answering again.");
}

function renderHealth() {
  const banner = $("banner");
  const down = health.downSince !== null;
  if (down) {
    const since = health.downSince.toLocaleTimeString();
    const forSeconds = (Date.now() - health.downSince.getTime()) / 1000;
    const lasting = forSeconds >= 2 ? ` (${formatDuration(forSeconds)})` : "";
    setText(
      banner,
      `Hub not answering since ${since}${lasting}. ` +
        `The data shown may be out of date; retrying every ${REFRESH_MS / 1000} s…`,
    );
  }
  banner.hidden = !down;
  $("main").classList.toggle("stale", down);
  const updated = $("updated");
  if (health.lastOk) setText(updated, `Updated ${health.lastOk.toLocaleTimeString()}`);
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

const enc = encodeURIComponent;

// Reports an error of an operator action (not a refresh) in a toast.
function reportActionError(what, error) {
  if (error instanceof AuthError) return;
  if (error instanceof HubDown) toast(`${what}: the hub is not answering.`, true);
  else toast(`${what}: ${error.message}`, true);
}

// ---------------------------------------------------------------------------------------------
// Source actions (list rows and the detail view share them).

async function sourceAction(id, action) {
  const labels = {
    retry: "Retry",
    run: "Run now",
    pause: "Pause",
    resume: "Resume",
    "reset-cursor": "Reset cursor",
    acknowledge: "Acknowledge",
  };
  const what = `${labels[action]} of ${id}`;
  try {
    if (action === "reset-cursor") {
      if (!confirm(`Reset the cursor of ${id}? Its next run pulls everything again.`)) return;
      await api(`/api/admin/sources/${enc(id)}/cursor`, { method: "DELETE" });
    } else {
      const updated = await api(`/api/admin/sources/${enc(id)}/${action}`, { method: "POST" });
      if (updated && updated.id) sources.byId.set(updated.id, updated);
    }
    toast(`${what} accepted.`);
  } catch (error) {
    reportActionError(what, error);
  }
  scheduleRefresh(0);
}

// ---------------------------------------------------------------------------------------------
// Sources view: the whole list in one request, one keyed row per source updated in place.

const sources = {
  byId: new Map(), // id -> Source (latest list)
  rows: new Map(), // id -> {tr, cells...}
  order: [], // ids in the current row order
  loaded: false,
  fetchedAt: Date.now(),
};

// The status shown: warnings or rejected records stay a Warning after the runs that followed
// had nothing new to read, until the data changes or someone acknowledges them (openWarnings).
function shownStatus(source) {
  return source.status === "ok" && source.openWarnings ? "warning" : source.status;
}

function openWarningsText(w) {
  const parts = [];
  if (w.warnings) parts.push(`${formatNumber(w.warnings)} warning${w.warnings === 1 ? "" : "s"}`);
  if (w.rejected) parts.push(`${formatNumber(w.rejected)} rejected record${w.rejected === 1 ? "" : "s"}`);
  return `${parts.join(" and ")} in run #${w.runId}; the data has not changed since`;
}

function sourceError(source) {
  const error = source.lastRun?.error || (source.status === "ok" ? "" : source.reason || "");
  return error || (source.openWarnings ? openWarningsText(source.openWarnings) : "");
}

function sourceMatches(source, text, status) {
  if (status && shownStatus(source) !== status) return false;
  if (!text) return true;
  const haystack = [source.id, source.connector, source.companyId, source.sourceSystem, source.reason, source.lastRun?.error]
    .filter(Boolean)
    .join(" ")
    .toLowerCase();
  return haystack.includes(text);
}

function nextRunText(source, elapsedSeconds) {
  if (source.state === "running") return "running now";
  if (source.status === "paused") return "paused";
  if (source.nextRunInSeconds === null || source.nextRunInSeconds === undefined) {
    if (source.status !== "failed") return "—";
    return sourceActions(source).has("retry") ? "after a retry" : "once the cause is fixed";
  }
  const left = source.nextRunInSeconds - elapsedSeconds;
  return left <= 1 ? "due now" : `in ${formatDuration(left)}`;
}

function makeSourceRow(id) {
  const link = el("a", { className: "source-link", href: `#/sources/${enc(id)}` }, id);
  const meta = el("span", { className: "sub" });
  const status = el("span");
  const state = el("span", { className: "sub" });
  const lastSync = el("td", { className: "time" });
  const nextRun = el("td", { className: "time" });
  const errorText = el("span", { className: "text" });
  const deadLink = el("a", { href: "#/dead-letters", className: "sub", hidden: true }, "See the dead letters");
  const error = el("td", { className: "error" }, errorText, deadLink);
  const acknowledge = el(
    "button",
    { type: "button", className: "small secondary", hidden: true, dataset: { action: "acknowledge", id, needs: "operator" } },
    "Acknowledge",
  );
  acknowledge.setAttribute("aria-label", `Acknowledge the warnings of ${id}`);
  const retry = el("button", { type: "button", className: "small", dataset: { action: "retry", id, needs: "operator" } }, "Retry");
  retry.setAttribute("aria-label", `Retry ${id}`);
  const toggle = el("button", { type: "button", className: "small secondary", dataset: { id, needs: "operator" } });
  const tr = el(
    "tr",
    { dataset: { id } },
    el("td", null, link, meta),
    el("td", null, status, state),
    lastSync,
    nextRun,
    error,
    el("td", { className: "actions" }, acknowledge, retry, toggle),
  );
  return { tr, meta, status, state, lastSync, nextRun, error, errorText, deadLink, acknowledge, retry, toggle };
}

// The commands the hub says can change something for the source now (Source.actions); a button
// for any other could only be refused.
function sourceActions(source) {
  return new Set(source.actions ?? []);
}

function updateSourceRow(row, source, now, elapsed) {
  setText(row.meta, `${source.connector} · ${source.companyId} · ${source.sourceSystem}`);
  setBadge(row.status, shownStatus(source));
  const stateText = source.state && source.state !== "idle" && source.state !== source.status ? source.state : "";
  const n = source.consecutiveFailures ?? 0;
  const failures = n === 1 ? "1 failure" : n > 1 ? `${n} failures in a row` : "";
  setText(row.state, [stateText, failures].filter(Boolean).join(" · "));
  setText(row.lastSync, ago(source.lastSyncAt, now), source.lastSyncAt ? formatTime(source.lastSyncAt) : "");
  setText(row.nextRun, nextRunText(source, elapsed));
  // Whole, wrapped by the stylesheet: the end of an error often names the file to fix. Why a
  // source is paused is a note, not an error.
  setText(row.errorText, sourceError(source));
  const paused = source.status === "paused";
  if (row.error.classList.contains("note") !== paused) row.error.classList.toggle("note", paused);
  const rejected = Boolean(source.openWarnings?.rejected);
  if (row.deadLink.hidden === rejected) row.deadLink.hidden = !rejected;
  const acknowledge = Boolean(source.openWarnings);
  if (row.acknowledge.hidden === acknowledge) row.acknowledge.hidden = !acknowledge;
  const actions = sourceActions(source);
  if (row.retry.hidden === actions.has("retry")) row.retry.hidden = !actions.has("retry");
  const action = actions.has("resume") ? "resume" : actions.has("pause") ? "pause" : "";
  if (row.toggle.hidden !== !action) row.toggle.hidden = !action;
  if (action && row.toggle.dataset.action !== action) {
    const label = action === "resume" ? "Resume" : "Pause";
    row.toggle.dataset.action = action;
    row.toggle.textContent = label;
    row.toggle.setAttribute("aria-label", `${label} ${source.id}`);
  }
}

function renderSources() {
  const list = [...sources.byId.values()];
  const body = $("sources-body");
  const now = Date.now();
  const elapsed = (now - sources.fetchedAt) / 1000;

  // Rows of sources that are gone.
  for (const [id, row] of sources.rows) {
    if (!sources.byId.has(id)) {
      row.tr.remove();
      sources.rows.delete(id);
    }
  }
  list.sort(
    (a, b) =>
      (STATUS_ORDER[shownStatus(a)] ?? 9) - (STATUS_ORDER[shownStatus(b)] ?? 9) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  const text = $("sources-query").value.trim().toLowerCase();
  const status = $("sources-status").value;
  let shown = 0;
  const counts = { failed: 0, warning: 0, paused: 0, new: 0, ok: 0 };
  for (const source of list) {
    let row = sources.rows.get(source.id);
    if (!row) {
      row = makeSourceRow(source.id);
      sources.rows.set(source.id, row);
    }
    updateSourceRow(row, source, now, elapsed);
    const visible = sourceMatches(source, text, status);
    if (row.tr.hidden === visible) row.tr.hidden = !visible;
    if (visible) shown++;
    counts[shownStatus(source)] = (counts[shownStatus(source)] ?? 0) + 1;
  }
  // Reorder only when the order changed (moving hundreds of rows every refresh is wasted work).
  const order = list.map((s) => s.id);
  if (order.length !== sources.order.length || order.some((id, i) => id !== sources.order[i])) {
    const fragment = document.createDocumentFragment();
    for (const id of order) fragment.append(sources.rows.get(id).tr);
    body.append(fragment);
    sources.order = order;
  }

  const empty = list.length === 0;
  $("sources-empty").hidden = !(empty && sources.loaded);
  $("sources-table").parentElement.hidden = empty;
  $("sources-filter").hidden = empty;
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([key, n]) => `${n} ${STATUS_LABEL[key]?.toLowerCase() ?? key}`);
  setText(
    $("sources-summary"),
    sources.loaded ? `${list.length} source${list.length === 1 ? "" : "s"}${parts.length ? ": " + parts.join(", ") : ""}` : "Loading…",
  );
  setText($("sources-shown"), text || status ? `${shown} of ${list.length} shown` : "");
  const problems = counts.failed;
  const nav = $("nav-problems");
  nav.hidden = problems === 0;
  setText(nav, problems ? `${problems} failed` : "");
}

async function loadSources() {
  const answer = await api("/api/admin/sources");
  sources.byId = new Map((answer?.items ?? []).map((s) => [s.id, s]));
  sources.fetchedAt = Date.now();
  sources.loaded = true;
  updateCompanies();
}

function updateCompanies() {
  const companies = [...new Set([...sources.byId.values()].map((s) => s.companyId).filter(Boolean))].sort();
  const list = $("companies");
  if (list.options.length === companies.length && [...list.options].every((o, i) => o.value === companies[i])) return;
  list.replaceChildren(...companies.map((c) => el("option", { value: c })));
}

function setupSources() {
  $("sources-query").addEventListener("input", renderSources);
  $("sources-status").addEventListener("change", renderSources);
  $("sources-filter").addEventListener("submit", (event) => event.preventDefault());
  $("sources-body").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    button.disabled = true;
    sourceAction(button.dataset.id, button.dataset.action).finally(() => (button.disabled = false));
  });
}

// ---------------------------------------------------------------------------------------------
// One source: facts, actions, settings form, run history with logs.

const detail = {
  id: null,
  runs: new Map(), // run id -> {run, tr, logRow, logOpen, logLoaded}
  runOrder: [], // run ids newest first
  next: null, // pagination token for older runs
  olderLoaded: false,
  optionsOpen: false, // the Options fact is re-rendered on every refresh: keep it as the operator left it
};

function resetDetail(id) {
  detail.id = id;
  detail.runs = new Map();
  detail.runOrder = [];
  detail.next = null;
  detail.olderLoaded = false;
  detail.optionsOpen = false;
  clear($("runs-body"));
  clear($("source-facts"));
  setText($("source-title"), id);
  clear($("source-badge"));
  $("source-error").hidden = true;
  // The settings form stays closed and hidden until renderSourceFacts has filled it with this
  // source's settings: shown earlier it would hold the previous source's values, and saving it
  // would copy them onto this one.
  $("source-edit").open = false;
  $("source-edit").hidden = true;
  $("source-readonly").hidden = true;
  $("edit-error").hidden = true;
}

function fact(dl, term, value) {
  dl.append(el("dt", null, term), el("dd", null, value));
}

function renderSourceFacts(source) {
  const dl = $("source-facts");
  const fragment = document.createDocumentFragment();
  const holder = { append: (...nodes) => fragment.append(...nodes) };
  const elapsed = (Date.now() - sources.fetchedAt) / 1000;
  fact(holder, "Connector", source.connector);
  if (source.origin) fact(holder, "Defined in", source.origin === "config" ? "the configuration file" : "the admin API");
  fact(holder, "Company", source.companyId);
  fact(holder, "Source system", source.sourceSystem);
  // The reason is shown once: the last run's error only when it says something else.
  const reason = source.reason || "";
  fact(holder, "State", source.state || "—");
  if (reason) {
    fact(holder, source.status === "paused" ? "Why paused" : "Reason", el("span", { className: source.status === "paused" ? "note" : "error-text" }, reason));
  }
  fact(holder, "Consecutive failures", String(source.consecutiveFailures ?? 0));
  fact(holder, "Last sync", source.lastSyncAt ? `${formatTime(source.lastSyncAt)} (${ago(source.lastSyncAt)})` : "never");
  fact(holder, "Next run", nextRunText(source, elapsed));
  fact(holder, "Interval", source.intervalSeconds ? `every ${formatDuration(source.intervalSeconds)}` : "—");
  const lastError = source.lastRun?.error;
  if (lastError && !reason.includes(lastError)) fact(holder, "Last error", el("span", { className: "error-text" }, lastError));
  if (source.openWarnings) {
    fact(
      holder,
      "Open warnings",
      el(
        "span",
        null,
        openWarningsText(source.openWarnings),
        source.openWarnings.rejected ? el("a", { href: "#/dead-letters" }, " · see the dead letters") : null,
      ),
    );
  }
  // Collapsed: a long options object would push the runs a screen or more down.
  const optionKeys = Object.keys(source.options ?? {}).length;
  const options = el(
    "details",
    { className: "options", open: detail.optionsOpen },
    el("summary", null, `${optionKeys} option${optionKeys === 1 ? "" : "s"}`),
    el("pre", { className: "json" }, JSON.stringify(source.options ?? {}, null, 2)),
  );
  options.addEventListener("toggle", () => (detail.optionsOpen = options.open));
  fact(holder, "Options", options);
  dl.replaceChildren(fragment);

  const badgeHolder = $("source-badge");
  if (!badgeHolder.firstChild) badgeHolder.append(badge(shownStatus(source)));
  else setBadge(badgeHolder.firstChild, shownStatus(source));

  const allowed = sourceActions(source);
  for (const button of $("source-actions").querySelectorAll("button[data-action]")) {
    // The cursor can be reset whenever no pull is running; the commands when the hub allows them.
    const action = button.dataset.action;
    if (action === "reset-cursor") button.hidden = source.state === "running";
    else if (action === "acknowledge") button.hidden = !source.openWarnings;
    else button.hidden = !allowed.has(action);
  }

  // A source of the config file is not edited here: the next start would apply the file again
  // and silently undo the edit (the API refuses it too). The file is named instead.
  const readOnly = source.origin === "config";
  const note = $("source-readonly");
  note.hidden = !readOnly;
  if (readOnly) {
    setText(
      note,
      `Defined in ${source.configFile ?? "the configuration file"}: edit it there, then restart the hub. ` +
        "Changes made here would be undone at the next start, so the settings are read-only.",
    );
    $("source-edit").hidden = true;
    return;
  }
  // An open form is never overwritten: the operator may be editing it. It can be open only after
  // it was filled and shown here.
  if (!$("source-edit").open) {
    $("edit-interval").value = source.intervalSeconds ?? "";
    $("edit-company").value = source.companyId ?? "";
    $("edit-system").value = source.sourceSystem ?? "";
    $("edit-options").value = JSON.stringify(source.options ?? {}, null, 2);
  }
  $("source-edit").hidden = false;
}

function runDuration(run) {
  if (!run.startedAt) return "";
  const end = run.finishedAt ? new Date(run.finishedAt).getTime() : Date.now();
  return formatDuration((end - new Date(run.startedAt).getTime()) / 1000) + (run.finishedAt ? "" : " so far");
}

const COUNT_KEYS = ["pulled", "created", "updated", "unchanged", "stale", "rejected", "warnings", "events"];

function makeRunRow(run) {
  const entry = { run, logOpen: false, logLoaded: false };
  entry.status = el("span");
  entry.idle = el("span", { className: "muted idle-runs" });
  entry.started = el("td", { className: "time" });
  entry.duration = el("td", { className: "time" });
  entry.counts = COUNT_KEYS.map(() => el("td", { className: "num" }));
  entry.error = el("td", { className: "error" });
  entry.logButton = el("button", { type: "button", className: "small secondary", "aria-expanded": "false" }, "Log");
  entry.logButton.setAttribute("aria-label", `Log of run ${run.id}`);
  entry.logButton.setAttribute("aria-controls", `run-log-${run.id}`);
  entry.logButton.addEventListener("click", () => toggleRunLog(entry));
  entry.tr = el(
    "tr",
    { dataset: { runId: run.id } },
    el("td", { className: "mono" }, `#${run.id}`),
    el("td", null, entry.status, entry.idle),
    entry.started,
    entry.duration,
    ...entry.counts,
    entry.error,
    el("td", { className: "actions" }, entry.logButton),
  );
  entry.logCell = el("td", { colSpan: 14 });
  entry.logRow = el("tr", { className: "detail run-log", id: `run-log-${run.id}`, hidden: true }, entry.logCell);
  return entry;
}

function updateRunRow(entry, run) {
  entry.run = run;
  setBadge(entry.status, run.status);
  setText(entry.started, formatTime(run.startedAt));
  // Consecutive idle runs share one row (the hub folds them): "idle ×N", from the first one's
  // start to the last one's end; the counts are their sums.
  const folded = (run.runs ?? 1) > 1;
  setText(entry.idle, folded ? ` idle ×${formatNumber(run.runs)}` : "");
  setText(entry.duration, folded ? `to ${formatTime(run.finishedAt)}` : runDuration(run));
  // A count the hub does not keep is null: shown as a dash, not as 0.
  COUNT_KEYS.forEach((key, i) => {
    const value = run.counts?.[key];
    setText(entry.counts[i], typeof value === "number" ? formatNumber(value) : "—");
  });
  setText(entry.error, run.error ?? "");
}

async function toggleRunLog(entry) {
  entry.logOpen = !entry.logOpen;
  entry.logButton.setAttribute("aria-expanded", String(entry.logOpen));
  entry.logRow.hidden = !entry.logOpen;
  if (entry.logOpen && !entry.logLoaded) await loadRunLog(entry);
}

async function loadRunLog(entry) {
  if (!entry.logCell.firstChild) entry.logCell.append(el("p", { className: "muted" }, "Loading the log…"));
  try {
    const run = await api(`/api/admin/runs/${enc(entry.run.id)}`);
    renderRunLog(entry, run);
    entry.logLoaded = run.status !== "running";
  } catch (error) {
    if (!(error instanceof AuthError)) {
      entry.logCell.replaceChildren(el("p", { className: "error-text" }, `The log could not be loaded: ${error.message}`));
    }
  }
}

function renderRunLog(entry, run) {
  const lines = run.log ?? [];
  const parts = [];
  // Warnings that are not already log lines (the hub logs most of them too).
  const logged = new Set(lines.map((line) => line.message));
  const warnings = (run.warnings ?? []).filter((w) => !(typeof w === "string" && logged.has(w)));
  parts.push(
    el(
      "p",
      { className: "muted" },
      `Run #${run.id} · plugin ${run.pluginVersion ?? "?"} · ${lines.length} log line${lines.length === 1 ? "" : "s"}`,
    ),
  );
  if (run.error) parts.push(el("p", { className: "error-text" }, run.error));
  if (lines.length) {
    parts.push(
      el(
        "ol",
        { className: "log", "aria-label": `Log of run ${run.id}` },
        ...lines.map((line) =>
          el(
            "li",
            null,
            el("time", { dateTime: line.at ?? "" }, formatTime(line.at)),
            el("span", { className: `lvl lvl-${String(line.level ?? "").toLowerCase()}` }, line.level ?? ""),
            line.message ?? "",
          ),
        ),
      ),
    );
  }
  if (warnings.length) {
    parts.push(
      el("h4", null, "Other warnings"),
      el(
        "ol",
        { className: "log", "aria-label": `Warnings of run ${run.id}` },
        ...warnings.map((w) => el("li", null, typeof w === "string" ? w : JSON.stringify(w))),
      ),
    );
  }
  if (!lines.length && !warnings.length && !run.error) parts.push(el("p", { className: "muted" }, "Nothing was logged."));
  entry.logCell.replaceChildren(...parts);
}

// Merges a page of runs (newest first) into the table: new runs go above, older pages below.
function mergeRuns(items, { older = false } = {}) {
  const body = $("runs-body");
  for (const run of items) {
    let entry = detail.runs.get(run.id);
    if (!entry) {
      entry = makeRunRow(run);
      detail.runs.set(run.id, entry);
      detail.runOrder.push(run.id);
    }
    updateRunRow(entry, run);
    if (entry.logOpen && !entry.logLoaded) loadRunLog(entry);
  }
  if (older || items.length) {
    detail.runOrder.sort((a, b) => compareRunIds(b, a));
    const fragment = document.createDocumentFragment();
    for (const id of detail.runOrder) {
      const entry = detail.runs.get(id);
      fragment.append(entry.tr, entry.logRow);
    }
    body.append(fragment);
  }
  $("runs-empty").hidden = detail.runs.size > 0;
}

function compareRunIds(a, b) {
  const x = Number(a);
  const y = Number(b);
  if (Number.isFinite(x) && Number.isFinite(y)) return x - y;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

async function loadSourceDetail() {
  const id = detail.id;
  let source;
  try {
    source = await api(`/api/admin/sources/${enc(id)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      const message = $("source-error");
      message.hidden = false;
      setText(message, `There is no source "${id}" (it may have been deleted).`);
      return;
    }
    throw error;
  }
  if (detail.id !== id) return;
  sources.byId.set(source.id, source);
  $("source-error").hidden = true;
  renderSourceFacts(source);
  const page = await api(`/api/admin/sources/${enc(id)}/runs${query({ limit: RUNS_PAGE })}`);
  if (detail.id !== id) return;
  mergeRuns(page?.items ?? []);
  if (!detail.olderLoaded) detail.next = page?.next ?? null;
  $("runs-more").hidden = !detail.next;
}

async function loadOlderRuns() {
  const id = detail.id;
  if (!detail.next) return;
  try {
    const page = await api(`/api/admin/sources/${enc(id)}/runs${query({ limit: RUNS_PAGE, before: detail.next })}`);
    if (detail.id !== id) return;
    detail.olderLoaded = true;
    mergeRuns(page?.items ?? [], { older: true });
    detail.next = page?.next ?? null;
    $("runs-more").hidden = !detail.next;
  } catch (error) {
    reportActionError("Older runs", error);
  }
}

function setupSourceDetail() {
  $("source-actions").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || !detail.id) return;
    button.disabled = true;
    sourceAction(detail.id, button.dataset.action).finally(() => (button.disabled = false));
  });
  $("runs-more").addEventListener("click", loadOlderRuns);
  $("source-edit-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("edit-error");
    error.hidden = true;
    let options;
    try {
      options = JSON.parse($("edit-options").value || "{}");
      if (typeof options !== "object" || options === null || Array.isArray(options)) throw new Error("not an object");
    } catch (e) {
      error.hidden = false;
      setText(error, `Connector options: not a JSON object (${e.message}).`);
      return;
    }
    const source = sources.byId.get(detail.id);
    const body = {
      id: detail.id,
      connector: source?.connector,
      companyId: $("edit-company").value.trim(),
      sourceSystem: $("edit-system").value.trim(),
      options,
    };
    if (typeof source?.enabled === "boolean") body.enabled = source.enabled;
    const interval = $("edit-interval").value.trim();
    if (interval !== "") body.intervalSeconds = Number(interval);
    try {
      const updated = await api(`/api/admin/sources/${enc(detail.id)}`, { method: "PUT", body });
      if (updated?.id) sources.byId.set(updated.id, updated);
      $("source-edit").open = false;
      toast(`Settings of ${detail.id} saved; they take effect from the next run.`);
      scheduleRefresh(0);
    } catch (e) {
      if (e instanceof AuthError) return;
      error.hidden = false;
      setText(error, e instanceof HubDown ? "The hub is not answering." : `Not saved: ${e.message}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Entity browser.

const entities = { offset: 0, total: 0, loadedNames: false };

function recordSummary(data) {
  if (!data || typeof data !== "object") return "";
  const name = [data.firstName, data.lastName].filter(Boolean).join(" ") || data.name || data.title || "";
  const extra = data.status ?? data.type ?? data.licenseCategory ?? data.plate ?? "";
  return [name, extra].filter(Boolean).join(" · ");
}

async function loadEntityNames() {
  const answer = await api("/api/admin/entities");
  const select = $("entities-entity");
  const previous = select.value;
  select.replaceChildren(
    ...(answer?.items ?? []).map((item) =>
      el("option", { value: item.name }, `${item.name} (${formatNumber(item.count ?? 0)})`),
    ),
  );
  if (previous && [...select.options].some((o) => o.value === previous)) select.value = previous;
  entities.loadedNames = true;
}

async function loadEntities() {
  const entity = $("entities-entity").value;
  const status = $("entities-status");
  if (!entity) {
    setText(status, "The hub reports no entities.");
    return;
  }
  const answer = await api(
    `/api/admin/entities/${enc(entity)}${query({
      company: $("entities-company").value.trim(),
      q: $("entities-q").value.trim(),
      limit: ENTITIES_PAGE,
      offset: entities.offset,
    })}`,
  );
  const items = answer?.items ?? [];
  entities.total = answer?.total ?? items.length;
  const body = $("entities-body");
  const rows = [];
  for (const item of items) {
    const detailRow = el(
      "tr",
      { className: "detail", hidden: true },
      el("td", { colSpan: 7 }, el("pre", { className: "json" }, JSON.stringify(item.data ?? {}, null, 2))),
    );
    const button = el("button", { type: "button", className: "small secondary", "aria-expanded": "false" }, "Details");
    button.setAttribute("aria-label", `Details of ${item.externalId}`);
    button.addEventListener("click", () => {
      detailRow.hidden = !detailRow.hidden;
      button.setAttribute("aria-expanded", String(!detailRow.hidden));
    });
    rows.push(
      el(
        "tr",
        null,
        el("td", { className: "mono" }, item.externalId),
        el("td", null, recordSummary(item.data)),
        el("td", null, item.companyId),
        el("td", null, item.sourceSystem),
        el("td", { className: "num" }, formatNumber(item.version)),
        el("td", { className: "time", title: item.updatedAt ?? "" }, formatTime(item.updatedAt)),
        el("td", { className: "actions" }, button),
      ),
      detailRow,
    );
  }
  body.replaceChildren(...rows);
  $("entities-table").hidden = items.length === 0;
  const from = items.length ? entities.offset + 1 : 0;
  setText(
    status,
    items.length
      ? `${formatNumber(from)}–${formatNumber(entities.offset + items.length)} of ${formatNumber(entities.total)} ${entity} records`
      : `No ${entity} records match.`,
  );
  $("entities-prev").hidden = entities.offset === 0;
  $("entities-next").hidden = entities.offset + items.length >= entities.total;
}

function setupEntities() {
  const run = () => loadEntities().catch((e) => reportActionError("Entities", e));
  $("entities-form").addEventListener("submit", (event) => {
    event.preventDefault();
    entities.offset = 0;
    run();
  });
  $("entities-entity").addEventListener("change", () => {
    entities.offset = 0;
    run();
  });
  $("entities-prev").addEventListener("click", () => {
    entities.offset = Math.max(0, entities.offset - ENTITIES_PAGE);
    run();
  });
  $("entities-next").addEventListener("click", () => {
    entities.offset += ENTITIES_PAGE;
    run();
  });
}

// ---------------------------------------------------------------------------------------------
// Events and dead letters: pages after a sequence / id.

// Newest first (what just happened is what an operator looks for) unless an "after" sequence is
// given: then oldest first from there, as the outbox is followed.
const events = { next: null, last: null, count: 0, total: 0, newest: true, loaded: false };

function eventRow(event) {
  const data = el(
    "tr",
    { className: "detail", hidden: true },
    el("td", { colSpan: 6 }, el("pre", { className: "json" }, JSON.stringify(event, null, 2))),
  );
  const button = el("button", { type: "button", className: "small secondary", "aria-expanded": "false" }, "Data");
  button.setAttribute("aria-label", `Data of event ${event.sequence}`);
  button.addEventListener("click", () => {
    data.hidden = !data.hidden;
    button.setAttribute("aria-expanded", String(!data.hidden));
  });
  const row = el(
    "tr",
    { dataset: { sequence: String(event.sequence) } },
    el("td", { className: "num" }, String(event.sequence)),
    el("td", { className: "time", title: event.time ?? "" }, formatTime(event.time)),
    el("td", { className: "mono" }, event.type),
    el("td", { className: "mono" }, event.subject ?? ""),
    el("td", { className: "mono" }, event.source ?? ""),
    el("td", { className: "actions" }, button),
  );
  return [row, data];
}

async function loadEvents({ append = false } = {}) {
  const afterText = $("events-after").value.trim();
  if (!append) events.newest = afterText === "" || Number(afterText) === 0;
  const filters = { limit: EVENTS_PAGE, type: $("events-type").value.trim(), company: $("events-company").value.trim() };
  let after;
  if (!events.newest) after = append ? (events.next ?? events.last) : Number(afterText);
  const answer = await api(
    `/api/admin/events${query(
      events.newest ? { order: "newest", before: append ? events.next : undefined, ...filters } : { after, ...filters },
    )}`,
  );
  const items = answer?.items ?? [];
  const body = $("events-body");
  if (!append) {
    clear(body);
    events.count = 0;
    events.last = after;
  }
  for (const event of items) {
    body.append(...eventRow(event));
    if (!events.newest) events.last = event.sequence;
  }
  events.count += items.length;
  events.total = answer?.total ?? events.count;
  events.next = answer?.next ?? null;
  events.loaded = true;
  $("events-table").hidden = events.count === 0;
  $("events-more").hidden = !events.next;
  const order = events.newest ? "newest first" : `oldest first after ${after ?? 0}`;
  setText(
    $("events-status"),
    events.count
      ? `${formatNumber(events.count)} of ${formatNumber(events.total)} events shown, ${order}.`
      : "No events match.",
  );
}

const dead = { next: null, count: 0, loaded: false };

async function loadDeadLetters({ append = false } = {}) {
  const answer = await api(`/api/admin/dead-letters${query({ after: append ? dead.next : undefined, limit: EVENTS_PAGE })}`);
  const items = answer?.items ?? [];
  const body = $("dead-body");
  if (!append) {
    clear(body);
    dead.count = 0;
  }
  for (const item of items) {
    body.append(
      el(
        "tr",
        null,
        el("td", { className: "num" }, String(item.id)),
        el("td", { className: "time", title: item.at ?? "" }, formatTime(item.at)),
        el("td", null, el("a", { href: `#/sources/${enc(item.sourceId ?? "")}` }, item.sourceId ?? "")),
        el("td", { className: "num" }, item.runId ?? ""),
        el("td", null, item.entity ?? ""),
        el("td", { className: "mono" }, item.externalId ?? ""),
        el("td", { className: "mono origin" }, item.origin ?? ""),
        el("td", { className: "error" }, item.reason ?? ""),
      ),
    );
  }
  dead.count += items.length;
  dead.next = answer?.next ?? null;
  dead.loaded = true;
  $("dead-table").hidden = dead.count === 0;
  $("dead-more").hidden = !dead.next;
  setText(
    $("dead-status"),
    dead.count
      ? `${formatNumber(dead.count)} records that could not be stored${dead.next ? "; more follow" : ""}.`
      : "No dead letters: every record could be stored.",
  );
}

function setupEventsAndDeadLetters() {
  $("events-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadEvents().catch((e) => reportActionError("Events", e));
  });
  $("events-more").addEventListener("click", () => loadEvents({ append: true }).catch((e) => reportActionError("Events", e)));
  $("dead-more").addEventListener("click", () =>
    loadDeadLetters({ append: true }).catch((e) => reportActionError("Dead letters", e)),
  );
}

// ---------------------------------------------------------------------------------------------
// Plugins.

async function loadPlugins() {
  const answer = await api("/api/admin/plugins");
  const items = answer?.items ?? [];
  $("plugins-body").replaceChildren(
    ...items.map((p) => {
      const state = p.quarantined ? "quarantined" : p.loaded ? "loaded" : "not loaded";
      return el(
        "tr",
        null,
        el("td", null, el("strong", null, p.name ?? "")),
        el("td", null, p.version ?? ""),
        el("td", null, p.abiVersion ?? ""),
        el("td", null, el("span", { className: `badge badge-${p.loaded && !p.quarantined ? "yes" : "no"}` }, state)),
        el("td", { className: "mono" }, p.file ?? ""),
        el("td", { className: "error" }, p.error ?? ""),
      );
    }),
  );
  const refused = items.filter((p) => !p.loaded || p.quarantined).length;
  setText(
    $("plugins-status"),
    items.length
      ? `${items.length} plugin${items.length === 1 ? "" : "s"}${refused ? `, ${refused} not usable` : ""}.`
      : "No plugins in the plugins folder.",
  );
}

// ---------------------------------------------------------------------------------------------
// Deliveries: the relay's subscriptions (state, lag, pending and dead counts) and, for the one
// picked (#/deliveries/<id>), its deliveries with a Redeliver button each, and "Redeliver all dead".

const DELIVERIES_PAGE = 100;

// The subscriptions, fetched on every refresh like the sources: the navigation counts the failing
// ones whatever the view.
const subscriptions = { items: [] };

async function fetchSubscriptions() {
  const answer = await api("/api/admin/subscriptions");
  subscriptions.items = answer?.items ?? [];
  const failing = subscriptions.items.filter((s) => s.enabled && s.health?.state === "failing").length;
  const nav = $("nav-failing-subscriptions");
  nav.hidden = failing === 0;
  setText(nav, failing ? `${failing} failing` : "");
}

// A subscription's health cell: the badge, since when it fails and the receiver's last error.
function healthCell(s) {
  const health = s.health ?? {};
  if (!s.enabled) return el("td", { className: "muted" }, "—");
  const failing = health.state === "failing";
  return el(
    "td",
    { className: "health" },
    badge(health.state ?? "unknown"),
    failing && health.failingSince
      ? el("span", { className: "sub", title: health.failingSince }, `since ${ago(health.failingSince)}`)
      : null,
    failing && health.lastError ? el("span", { className: "sub error-text" }, health.lastError) : null,
  );
}

function loadSubscriptions() {
  const items = subscriptions.items;
  $("subscriptions-body").replaceChildren(
    ...items.map((s) =>
      el(
        "tr",
        { dataset: { subscription: s.id }, className: route.id === s.id ? "selected" : "" },
        el("td", null, el("a", { href: `#/deliveries/${enc(s.id)}` }, el("strong", null, s.id))),
        el("td", null, badge(s.state), s.disabledReason ? el("span", { className: "muted" }, ` ${s.disabledReason}`) : null),
        healthCell(s),
        el("td", { className: "mono" }, s.target ?? ""),
        el("td", null, [...(s.eventTypes ?? []), ...(s.companyIds ?? [])].join(", ") || "all events"),
        el("td", { className: "num", dataset: { field: "lag" } }, formatNumber(s.lag)),
        el("td", { className: "num" }, formatNumber(s.pending)),
        el(
          "td",
          { className: "time", dataset: { field: "oldest-pending" }, title: s.health?.oldestPendingAt ?? "" },
          typeof s.health?.oldestPendingAgeSeconds === "number" ? formatDuration(s.health.oldestPendingAgeSeconds) : "—",
        ),
        el("td", { className: "num" }, formatNumber(s.dead)),
        el("td", { className: "num" }, s.counters ? formatNumber(s.counters.delivered) : ""),
      ),
    ),
  );
  $("subscriptions-table").hidden = items.length === 0;
  setText(
    $("subscriptions-status"),
    items.length
      ? `${items.length} subscription${items.length === 1 ? "" : "s"}; lag is the number of events the relay has not reached yet.`
      : "No subscriptions: add one in the config file (subscriptions), with `reglo-hub subscriptions create` or POST /api/admin/subscriptions.",
  );
  return items;
}

async function loadDeliveries(items) {
  const panel = $("deliveries-panel");
  const id = route.id;
  const subscription = items.find((s) => s.id === id);
  panel.hidden = !subscription;
  if (!subscription) {
    if (id) setText($("subscriptions-status"), `No subscription '${id}'.`);
    return;
  }
  setText($("deliveries-title"), `Deliveries of ${id}`);
  setBadge($("deliveries-state"), subscription.state);
  const health = $("deliveries-health");
  health.hidden = !subscription.enabled;
  setBadge(health, subscription.health?.state ?? "unknown");
  setText($("deliveries-lag"), `lag ${formatNumber(subscription.lag)} · ${formatNumber(subscription.dead)} dead`);
  $("redeliver-dead").disabled = !subscription.dead;
  const status = $("deliveries-status-filter").value;
  const answer = await api(`/api/admin/subscriptions/${enc(id)}/deliveries${query({ status, limit: DELIVERIES_PAGE })}`);
  const rows = answer?.items ?? [];
  $("deliveries-body").replaceChildren(
    ...rows.map((d) =>
      el(
        "tr",
        { dataset: { sequence: String(d.sequence), status: d.status } },
        el("td", { className: "num" }, String(d.sequence)),
        el("td", null, d.eventType ?? ""),
        el("td", { className: "mono" }, d.entity ?? ""),
        el("td", null, badge(d.status)),
        el("td", { className: "num" }, String(d.attempts ?? 0)),
        el("td", { className: "error" }, d.lastError ?? ""),
        el("td", { className: "time", title: d.nextAttemptAt ?? d.updatedAt ?? "" }, formatTime(d.nextAttemptAt ?? d.updatedAt)),
        el(
          "td",
          { className: "actions" },
          el(
            "button",
            {
              type: "button",
              className: "small secondary",
              dataset: { needs: "operator" },
              onclick: () => redeliver(id, d.sequence),
              "aria-label": `Redeliver event ${d.sequence}`,
            },
            "Redeliver",
          ),
        ),
      ),
    ),
  );
  $("deliveries-table").hidden = rows.length === 0;
  setText(
    $("deliveries-count"),
    rows.length
      ? `${rows.length} deliver${rows.length === 1 ? "y" : "ies"}${answer?.next ? " shown; more follow" : ""}.`
      : "No deliveries recorded: every event so far went through at the first attempt, or none was due yet.",
  );
}

async function redeliver(id, sequence) {
  const what = sequence === undefined ? `Redeliver all dead of ${id}` : `Redeliver of event ${sequence}`;
  try {
    const path =
      sequence === undefined
        ? `/api/admin/subscriptions/${enc(id)}/redeliver-dead`
        : `/api/admin/subscriptions/${enc(id)}/deliveries/${enc(sequence)}/redeliver`;
    const answer = await api(path, { method: "POST" });
    toast(`${what}: ${formatNumber(answer?.redelivered ?? 0)} queued.`);
  } catch (error) {
    reportActionError(what, error);
  }
  scheduleRefresh(0);
}

function setupDeliveries() {
  $("deliveries-status-filter").addEventListener("change", () => scheduleRefresh(0));
  $("redeliver-dead").addEventListener("click", () => route.id && redeliver(route.id));
}

// ---------------------------------------------------------------------------------------------
// Agents: agent keys (prefix and last 4 only) with the ingestion API's counters.

function countsText(counts) {
  return Object.entries(counts ?? {})
    .map(([key, value]) => `${key}: ${formatNumber(value)}`)
    .join(", ");
}

async function loadAgents() {
  const answer = await api("/api/admin/agents");
  const items = answer?.items ?? [];
  $("agents-body").replaceChildren(
    ...items.map((a) =>
      el(
        "tr",
        { dataset: { prefix: a.prefix } },
        el("td", { className: "mono" }, a.key ?? ""),
        el("td", null, `${a.companyId ?? ""} / ${a.sourceSystem ?? ""}`),
        el("td", null, badge(a.status)),
        el("td", { className: "time", title: a.lastUsedAt ?? "" }, ago(a.lastUsedAt)),
        el("td", { className: "time", title: a.counters?.lastPushAt ?? "" }, ago(a.counters?.lastPushAt)),
        el("td", null, countsText(a.counters?.requestsByStatus)),
        el("td", { className: "error" }, countsText(a.counters?.refusalsByReason)),
        el("td", { className: "num" }, formatNumber(a.counters?.recordsAccepted)),
        el("td", { className: "num" }, formatNumber(a.counters?.recordsRejected)),
      ),
    ),
  );
  $("agents-table").hidden = items.length === 0;
  const counting = answer?.ingest ? "" : " The ingestion API is off in this hub (no \"ingest\" in the config): no counters.";
  setText(
    $("agents-status"),
    (items.length
      ? `${items.length} agent key${items.length === 1 ? "" : "s"}; counters since the hub started.`
      : "No agent keys: create one with `reglo-hub keys create`.") + counting,
  );
}

// ---------------------------------------------------------------------------------------------
// Routing and the refresh loop.

// ---------------------------------------------------------------------------------------------
// Who the token is (GET /api/admin/whoami): the page hides what its role cannot do (app.css,
// [data-needs]); the hub refuses it anyway (403).

const me = { token: null, role: null };

async function loadWhoAmI() {
  const token = storedToken();
  if (me.token === token && me.role) return;
  const answer = await api("/api/admin/whoami");
  me.token = token;
  me.role = answer?.role ?? null;
  if (me.role) document.body.dataset.role = me.role;
  else delete document.body.dataset.role;
  setText($("whoami"), answer ? `${answer.name} (${answer.role}) ·` : "");
}

// ---------------------------------------------------------------------------------------------
// Audit log (admins): filters, newest first, older rows on demand.

const audit = { rows: [], next: null, loaded: false };

// A datetime-local value (local time) as the RFC 3339 UTC text the hub compares.
function auditTime(value, end) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  if (end) date.setSeconds(59, 999);
  return date.toISOString();
}

function auditChange(row) {
  if (row.detail) return row.detail;
  const parts = [];
  if (row.before) parts.push(`before: ${JSON.stringify(row.before)}`);
  if (row.after) parts.push(`after: ${JSON.stringify(row.after)}`);
  return parts.join(" · ");
}

async function loadAudit({ append = false } = {}) {
  const params = {
    actor: $("audit-actor").value.trim(),
    action: $("audit-action").value.trim(),
    target: $("audit-target").value.trim(),
    outcome: $("audit-outcome").value,
    from: auditTime($("audit-from").value, false),
    to: auditTime($("audit-to").value, true),
    limit: 50,
  };
  if (append && audit.next !== null) params.before = audit.next;
  const answer = await api(`/api/admin/audit${query(params)}`);
  const items = answer?.items ?? [];
  audit.rows = append ? audit.rows.concat(items) : items;
  audit.next = answer?.next ?? null;
  audit.loaded = true;
  $("audit-body").replaceChildren(
    ...audit.rows.map((row) =>
      el(
        "tr",
        { dataset: { auditId: String(row.id) } },
        el("td", { className: "time", title: row.at }, formatTime(row.at)),
        el("td", null, `${row.actor} (${row.role})`),
        el("td", { className: "mono" }, row.action),
        el("td", null, row.target ?? ""),
        el("td", null, badge(row.outcome)),
        el("td", { className: "error" }, auditChange(row)),
      ),
    ),
  );
  $("audit-table").hidden = audit.rows.length === 0;
  $("audit-more").hidden = audit.next === null;
  setText(
    $("audit-status"),
    audit.rows.length ? `${audit.rows.length} row${audit.rows.length === 1 ? "" : "s"}, newest first.` : "No audit rows match.",
  );
}

function setupAudit() {
  $("audit-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    loadAudit().catch((error) => reportActionError("Audit", error));
  });
  $("audit-more").addEventListener("click", () => loadAudit({ append: true }).catch((error) => reportActionError("Audit", error)));
}

const VIEWS = ["sources", "source", "entities", "events", "dead-letters", "deliveries", "agents", "plugins", "audit"];
let route = { view: "sources", id: null };

function parseRoute() {
  const hash = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
  const [view, ...rest] = hash.split("/");
  if (view === "sources" && rest.length && rest[0]) return { view: "source", id: rest.join("/") };
  if (view === "deliveries") return { view, id: rest.join("/") || null };
  if (VIEWS.includes(view) && view !== "source") return { view, id: null };
  return { view: "sources", id: null };
}

function showRoute() {
  const previous = route;
  route = parseRoute();
  for (const view of VIEWS) $(`view-${view}`).hidden = view !== route.view;
  const navView = route.view === "source" ? "sources" : route.view;
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === navView) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${route.id ?? navView.replace("-", " ")} · Reglo Hub Integration Console`;
  if (route.view === "source" && (previous.view !== "source" || previous.id !== route.id)) resetDetail(route.id);
  if (previous.view !== route.view || previous.id !== route.id) $("main").focus({ preventScroll: true });
  scheduleRefresh(0);
}

let refreshTimer = null;
let refreshing = false;
let refreshAgain = false;

function scheduleRefresh(delay = REFRESH_MS) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, delay);
}

// Refreshes the visible view. The source list is fetched on every tick whatever the view (one
// request), and so is the subscription list: they keep the failed sources and failing subscriptions
// counted in the navigation and tell whether the hub answers.
async function refresh() {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = true;
  try {
    await loadWhoAmI();
    await loadSources();
    renderSources();
    await fetchSubscriptions();
    switch (route.view) {
      case "source":
        await loadSourceDetail();
        break;
      case "plugins":
        await loadPlugins();
        break;
      case "deliveries":
        await loadDeliveries(loadSubscriptions());
        break;
      case "agents":
        await loadAgents();
        break;
      case "entities":
        if (!entities.loadedNames) {
          await loadEntityNames();
          await loadEntities();
        }
        break;
      case "events":
        if (!events.loaded) await loadEvents();
        else if ($("events-follow").checked && events.newest) await loadEvents();
        else if ($("events-follow").checked && !events.next) await loadEvents({ append: true });
        break;
      case "dead-letters":
        if (!dead.loaded) await loadDeadLetters();
        break;
      case "audit":
        if (!audit.loaded) await loadAudit();
        break;
      default:
        break;
    }
  } catch (error) {
    if (error instanceof ApiError) toast(`The hub answered: ${error.message}`, true);
    else if (!(error instanceof AuthError) && !(error instanceof HubDown)) console.error(error);
  } finally {
    refreshing = false;
    renderHealth();
    if (refreshAgain) {
      refreshAgain = false;
      scheduleRefresh(0);
    } else {
      scheduleRefresh();
    }
  }
}

function start() {
  setupTokenDialog();
  setupSources();
  setupSourceDetail();
  setupEntities();
  setupEventsAndDeadLetters();
  setupDeliveries();
  setupAudit();
  window.addEventListener("hashchange", showRoute);
  // The banner's "since" duration keeps counting while the hub is down.
  setInterval(() => health.downSince && renderHealth(), 1000);
  if (!storedToken()) askToken();
  showRoute();
}

start();
