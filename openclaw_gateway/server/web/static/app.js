// The built-in dashboard: one module, no build step. It speaks the gateway WebSocket protocol
// (protocol 4) itself as the operator client `openclaw-control-ui`, with a WebCrypto Ed25519
// device identity: a browser Control UI without one gets no scopes (official rule), and on a
// direct loopback connection the gateway pairs it silently once the shared secret checks out.
// The secret comes from `#token=…` (a fragment never reaches the server) or the form, and is
// kept in sessionStorage (this tab only). Everything shown is set with textContent.

const PROTOCOL = 4;
const CLIENT_ID = "openclaw-control-ui";
const CLIENT_MODE = "webchat";
const PLATFORM = "web";
const SCOPES = ["operator.admin", "operator.read", "operator.write", "operator.approvals", "operator.pairing"];
const SECRET_KEY = "openclaw.dashboard.secret";
const DEVICE_KEY = "openclaw.dashboard.device.v1";
const REQUEST_TIMEOUT_MS = 30000;
const LOG_POLL_MS = 1000;
const LOG_KEEP_LINES = 300;
const RECONNECT_MS = 2000;

const $ = (id) => document.getElementById(id);
const basePath = document.documentElement.dataset.openclawControlUiBasePath || "";

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function button(label, onClick) {
  const b = el("button", label);
  b.type = "button";
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await onClick();
    } catch (err) {
      showError(err);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

function ago(ms) {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

function duration(ms) {
  const s = Math.floor(ms / 1000);
  const parts = [[Math.floor(s / 86400), "d"], [Math.floor(s / 3600) % 24, "h"], [Math.floor(s / 60) % 60, "m"], [s % 60, "s"]];
  return parts.filter(([v]) => v).map(([v, u]) => `${v}${u}`).join(" ") || "0s";
}

function fill(list, items, render, empty) {
  list.replaceChildren(...(items.length ? items.map(render) : [el("li", empty, "empty")]));
}

// --- the secret -----------------------------------------------------------------------------

function takeFragmentSecret() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  const password = params.get("password");
  if (token || password) {
    sessionStorage.setItem(SECRET_KEY, JSON.stringify(token ? { token } : { password }));
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function storedSecret() {
  try { return JSON.parse(sessionStorage.getItem(SECRET_KEY) || "null"); } catch { return null; }
}

// --- device identity (Ed25519 in WebCrypto) -------------------------------------------------

const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");

async function deviceIdentity() {
  const saved = JSON.parse(localStorage.getItem(DEVICE_KEY) || "null");
  if (saved) {
    const key = await crypto.subtle.importKey("pkcs8", unb64(saved.pkcs8), { name: "Ed25519" }, false, ["sign"]);
    return { key, publicKey: saved.publicKey, id: saved.id };
  }
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", pair.privateKey);
  const id = hex(await crypto.subtle.digest("SHA-256", raw));
  const identity = { publicKey: b64url(raw), id };
  localStorage.setItem(DEVICE_KEY, JSON.stringify({ ...identity, pkcs8: btoa(String.fromCharCode(...new Uint8Array(pkcs8))) }));
  return { key: pair.privateKey, ...identity };
}

async function deviceBlock(identity, secret, nonce) {
  const signedAt = Date.now();
  // The v3 payload (security/devices.py payload_v3): the token signs in, a password never does.
  const payload = ["v3", identity.id, CLIENT_ID, CLIENT_MODE, "operator", SCOPES.join(","), String(signedAt), secret.token || "", nonce, PLATFORM, ""].join("|");
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, identity.key, new TextEncoder().encode(payload));
  return { id: identity.id, publicKey: identity.publicKey, signature: b64url(signature), signedAt, nonce };
}

// --- the gateway socket ---------------------------------------------------------------------

class Gateway {
  constructor(secret, handlers) {
    this.secret = secret;
    this.handlers = handlers;
    this.pending = new Map();
    this.nextId = 1;
    this.closedByUs = false;
  }

  open() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.ws = new WebSocket(`${scheme}//${location.host}${basePath}/`);
    this.ws.addEventListener("message", (ev) => this.onFrame(JSON.parse(ev.data)));
    this.ws.addEventListener("close", (ev) => {
      for (const { reject, timer } of this.pending.values()) {
        clearTimeout(timer);
        reject(new Error("connection closed"));
      }
      this.pending.clear();
      this.handlers.onClose(ev, this.closedByUs);
    });
  }

  close() {
    this.closedByUs = true;
    this.ws?.close(1000);
  }

  request(method, params = {}) {
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer, method });
      this.ws.send(JSON.stringify({ type: "req", id, method, params }));
    });
  }

  async onFrame(frame) {
    if (frame.type === "res") {
      const waiter = this.pending.get(frame.id);
      if (!waiter) return;
      this.pending.delete(frame.id);
      clearTimeout(waiter.timer);
      if (frame.ok) waiter.resolve(frame.payload);
      else waiter.reject(Object.assign(new Error(frame.error?.message || "request failed"), { gateway: frame.error }));
    } else if (frame.type === "event" && frame.event === "connect.challenge") {
      this.connect(frame.payload.nonce).catch((err) => this.handlers.onRefused(err));
    } else if (frame.type === "event") {
      this.handlers.onEvent(frame.event, frame.payload || {});
    }
  }

  async connect(nonce) {
    const identity = await deviceIdentity();
    const params = {
      minProtocol: PROTOCOL,
      maxProtocol: PROTOCOL,
      client: { id: CLIENT_ID, version: "dashboard", platform: PLATFORM, mode: CLIENT_MODE, instanceId: identity.id.slice(0, 16) },
      role: "operator",
      scopes: SCOPES,
      caps: [],
      auth: { ...this.secret },
      device: await deviceBlock(identity, this.secret, nonce),
    };
    const hello = await this.request("connect", params);
    this.handlers.onHello(hello);
  }
}

// --- panes ----------------------------------------------------------------------------------

const view = { hello: null, helloAt: 0, bind: "", sessionKey: "", runId: "", logCursor: undefined, logTimer: 0 };
let gw = null;

function showError(err) {
  const box = $("chat-error");
  box.textContent = err?.message || String(err);
  box.hidden = false;
}

function renderStatus() {
  const hello = view.hello;
  if (!hello) return;
  const snap = hello.snapshot || {};
  const tailscale = snap.health?.tailscale;
  const rows = [
    ["Version", hello.server?.version],
    ["Uptime", duration((snap.uptimeMs || 0) + Date.now() - view.helloAt)],
    ["Bind", view.bind ? `${view.bind} (${location.host})` : location.host],
    ["Auth", snap.authMode || "—"],
    ["Tailscale", tailscale ? `${tailscale.mode || "on"}${tailscale.url ? ` ${tailscale.url}` : ""}` : "off"],
    ["Protocol", hello.protocol],
  ];
  $("status").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", k), el("dd", v ?? "—")]));
}

function renderPresence(entries) {
  fill($("presence"), entries || [], (p) => {
    const li = el("li");
    li.append(el("strong", p.host || p.deviceId || p.instanceId || "?"), el("span", ` ${p.mode || ""} ${p.platform || ""}`.trimEnd(), "muted"), el("span", ` ${p.reason || ""}`, "muted"));
    return li;
  }, "nobody");
}

async function refreshNodes() {
  const [listed, pairs] = await Promise.all([gw.request("node.list"), gw.request("node.pair.list")]);
  fill($("node-requests"), pairs.pending || [], (r) => {
    const li = el("li");
    li.dataset.requestId = r.requestId;
    const commands = (r.commands || []).join(", ") || "no commands";
    li.append(el("strong", r.displayName || r.nodeId), el("span", ` wants: ${commands}`, "muted"), " ",
      button("Approve", async () => { await gw.request("node.pair.approve", { requestId: r.requestId }); await refreshNodes(); }),
      button("Reject", async () => { await gw.request("node.pair.reject", { requestId: r.requestId }); await refreshNodes(); }));
    return li;
  }, "none pending");
  fill($("nodes"), listed.nodes || [], (n) => {
    const li = el("li");
    li.dataset.nodeId = n.nodeId;
    li.append(el("strong", n.displayName || n.nodeId), el("span", ` ${n.connected ? "connected" : "offline"} · ${n.approvalState || ""}`, n.connected ? "ok" : "muted"), el("span", ` ${(n.commands || []).join(", ")}`, "muted"));
    return li;
  }, "no nodes");
}

async function refreshDevices() {
  const pairs = await gw.request("device.pair.list");
  fill($("devices"), pairs.pending || [], (r) => {
    const li = el("li");
    li.append(el("strong", r.displayName || r.deviceId?.slice(0, 12) || r.requestId), el("span", ` ${r.role || ""} ${r.platform || ""} ${r.remoteIp || ""}`, "muted"), " ",
      button("Approve", async () => { await gw.request("device.pair.approve", { requestId: r.requestId }); await refreshDevices(); }),
      button("Reject", async () => { await gw.request("device.pair.reject", { requestId: r.requestId }); await refreshDevices(); }));
    return li;
  }, "none pending");
}

async function refreshCron() {
  const listed = await gw.request("cron.list", { includeDisabled: true });
  const jobs = listed.jobs || [];
  const runs = await Promise.all(jobs.map((j) => gw.request("cron.runs", { id: j.id, limit: 3 }).catch(() => ({ entries: [] }))));
  fill($("cron"), jobs, (job, i) => {
    const li = el("li");
    li.dataset.jobId = job.id;
    const st = job.state || {};
    const sc = job.schedule || {};
    const schedule = sc.expr ? `cron ${sc.expr}` : sc.everyMs ? `every ${duration(sc.everyMs)}` : sc.at ? `at ${sc.at}` : sc.kind || "";
    li.append(el("strong", job.name || job.id), el("span", ` ${schedule} · ${job.enabled ? "enabled" : "disabled"} · last ${st.lastRunStatus || st.lastStatus || "—"} ${ago(st.lastRunAtMs)}`, "muted"), " ",
      button("Run now", async () => { await gw.request("cron.run", { id: job.id, mode: "force" }); }),
      button(job.enabled ? "Disable" : "Enable", async () => { await gw.request("cron.update", { id: job.id, patch: { enabled: !job.enabled } }); await refreshCron(); }));
    const entries = runs[i].entries || [];
    if (entries.length) {
      const ol = el("ol", null, "runs");
      ol.append(...entries.map((r) => el("li", `${r.status || r.action || "?"} ${ago(r.runAtMs || r.ts)}${r.summary ? ` — ${r.summary}` : ""}${r.error ? ` — ${r.error}` : ""}`, "run")));
      li.append(ol);
    }
    return li;
  }, "no jobs");
}

async function pollLogs() {
  clearTimeout(view.logTimer);
  if (!gw) return;
  try {
    const page = await gw.request("logs.tail", view.logCursor === undefined ? { limit: 100 } : { cursor: view.logCursor, limit: 200 });
    view.logCursor = page.cursor;
    const pre = $("logs");
    if (page.reset) pre.textContent = "";
    if (page.lines?.length) {
      const lines = (pre.textContent ? pre.textContent.split("\n") : []).concat(page.lines.map(formatLogLine));
      pre.textContent = lines.slice(-LOG_KEEP_LINES).join("\n");
      if ($("logs-follow").checked) pre.scrollTop = pre.scrollHeight;
    }
  } catch (err) {
    $("logs").textContent = `log unavailable: ${err.message}`;
  }
  view.logTimer = setTimeout(pollLogs, LOG_POLL_MS);
}

function formatLogLine(line) {
  try {
    const rec = JSON.parse(line);
    return `${rec.time || ""} ${rec.level || ""} ${rec.subsystem || ""} ${rec.message ?? rec.msg ?? line}`.trim();
  } catch {
    return line;
  }
}

// --- chat -----------------------------------------------------------------------------------

function messageText(message) {
  const content = message?.content;
  if (typeof content === "string") return content;
  return (content || []).filter((c) => c.type === "text").map((c) => c.text).join("");
}

function appendMessage(role, text, runId) {
  const li = el("li", null, `msg ${role}`);
  li.append(el("span", role, "role"), el("span", text, "text"));
  if (runId) li.dataset.runId = runId;
  $("history").append(li);
  li.scrollIntoView({ block: "end" });
  return li;
}

async function refreshSessions() {
  const listed = await gw.request("sessions.list", { limit: 50 });
  const sessions = listed.sessions || [];
  if (!view.sessionKey) view.sessionKey = sessions[0]?.key || view.hello?.snapshot?.sessionDefaults?.mainSessionKey || "main";
  const keys = sessions.map((s) => s.key);
  if (!keys.includes(view.sessionKey)) keys.unshift(view.sessionKey);
  fill($("sessions"), keys, (key) => {
    const li = el("li");
    const b = button(key, () => selectSession(key));
    if (key === view.sessionKey) b.className = "selected";
    li.append(b);
    return li;
  }, "no sessions");
}

async function selectSession(key) {
  view.sessionKey = key;
  await refreshSessions();
  const history = await gw.request("chat.history", { sessionKey: key, limit: 50 });
  $("history").replaceChildren();
  for (const m of history.messages || []) appendMessage(m.role || "assistant", messageText(m));
}

function onChatEvent(ev) {
  if (ev.sessionKey !== view.sessionKey && !String(ev.sessionKey || "").endsWith(`:${view.sessionKey}`)) return;
  let li = document.querySelector(`#history li[data-run-id="${CSS.escape(ev.runId)}"]`);
  if (!li) li = appendMessage("assistant", "", ev.runId);
  const text = ev.message ? messageText(ev.message) : ev.deltaText;
  if (text !== undefined) li.querySelector(".text").textContent = text;
  li.dataset.state = ev.state;
  if (ev.state === "error") li.querySelector(".text").textContent += ` [error: ${ev.errorMessage}]`;
  if (ev.state === "aborted") li.querySelector(".text").textContent += " [aborted]";
  if (ev.state !== "delta") {
    view.runId = "";
    $("chat-abort").disabled = true;
  } else {
    view.runId = ev.runId;
    $("chat-abort").disabled = false;
  }
}

async function sendChat(event) {
  event.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text) return;
  $("chat-error").hidden = true;
  appendMessage("user", text);
  input.value = "";
  try {
    const sent = await gw.request("chat.send", { sessionKey: view.sessionKey, message: text, idempotencyKey: crypto.randomUUID() });
    if (sent?.runId) {
      view.runId = sent.runId;
      $("chat-abort").disabled = false;
    }
  } catch (err) {
    showError(err);
  }
}

async function abortChat() {
  if (!view.runId) return;
  await gw.request("chat.abort", { sessionKey: view.sessionKey, runId: view.runId }).catch(showError);
}

// --- wiring ---------------------------------------------------------------------------------

function setConn(state, text) {
  const pill = $("conn");
  pill.dataset.state = state;
  pill.textContent = text;
}

function showLogin(message) {
  $("panes").hidden = true;
  $("login").hidden = false;
  $("logout").hidden = true;
  const box = $("login-error");
  box.hidden = !message;
  box.textContent = message || "";
}

function refusalMessage(err) {
  const detail = err?.gateway?.details || {};
  const base = err?.message || String(err);
  if (detail.code === "AUTH_TOKEN_MISMATCH" || /token|password|unauthorized/i.test(base)) {
    return `Login failed: ${base}. Check the token (openclaw config get gateway.auth.token).`;
  }
  if (detail.code === "PAIRING_REQUIRED") return `Waiting for approval: ${base}. Approve it with: openclaw devices approve`;
  return `Login failed: ${base}`;
}

const refreshers = { nodes: refreshNodes, devices: refreshDevices, cron: refreshCron, sessions: refreshSessions };

function refreshSoon(name) {
  refreshers[name]().catch((err) => console.warn(`${name}: ${err.message}`));
}

let currentSecret = null;

// `quiet`: a first try without a secret (a gateway with auth mode "none" needs none); its
// refusal just shows the form.
function start(secret, quiet = false) {
  currentSecret = secret;
  setConn("connecting", "connecting…");
  let refused = false;
  gw = new Gateway(secret, {
    onHello: async (hello) => {
      view.hello = hello;
      view.helloAt = Date.now();
      setConn("ok", `connected · ${hello.server?.version || ""}`);
      $("login").hidden = true;
      $("panes").hidden = false;
      $("logout").hidden = false;
      renderStatus();
      renderPresence(hello.snapshot?.presence);
      gw.request("config.get").then((c) => { view.bind = c.config?.gateway?.bind || "loopback"; renderStatus(); }).catch(() => {});
      for (const name of Object.keys(refreshers)) refreshSoon(name);
      selectSession(view.sessionKey || "main").catch(showError);
      view.logCursor = undefined;
      pollLogs();
    },
    onRefused: (err) => {
      refused = true;
      sessionStorage.removeItem(SECRET_KEY);
      gw.close();
      setConn("error", "refused");
      showLogin(quiet ? "" : refusalMessage(err));
    },
    onEvent: (name, payload) => {
      if (name === "presence") renderPresence(payload.presence);
      else if (name === "chat") onChatEvent(payload);
      else if (name.startsWith("node.pair.")) refreshSoon("nodes");
      else if (name.startsWith("device.pair.")) refreshSoon("devices");
      else if (name === "cron") refreshSoon("cron");
      else if (name === "sessions.changed") refreshSoon("sessions");
      else if (name === "tick") renderStatus();
      else if (name === "health" && view.hello) { view.hello.snapshot.health = payload; renderStatus(); }
    },
    onClose: (ev, byUs) => {
      clearTimeout(view.logTimer);
      if (byUs || refused) return;
      setConn("error", `disconnected (${ev.code}) — retrying`);
      setTimeout(() => { if (currentSecret) start(currentSecret); }, RECONNECT_MS);
    },
  });
  gw.open();
}

function main() {
  takeFragmentSecret();
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = $("login-secret").value;
    const secret = $("login-is-password").checked ? { password: value } : { token: value };
    sessionStorage.setItem(SECRET_KEY, JSON.stringify(secret));
    $("login-secret").value = "";
    start(secret);
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(SECRET_KEY);
    currentSecret = null;
    gw?.close();
    gw = null;
    setConn("idle", "not connected");
    showLogin("");
  });
  $("chat-form").addEventListener("submit", sendChat);
  $("chat-abort").addEventListener("click", abortChat);
  const secret = storedSecret();
  if (secret) start(secret);
  else start({}, true);
}

main();
