// wfe web UI: live pages over the API's event streams, and actions sent to the API.
// Plain JavaScript, no framework: pages are rendered on the server and readable without
// this file; it refreshes them when events come and sends what a button asks for.
"use strict";

const $ = (sel, root) => (root || document).querySelector(sel);
const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

function flash(text, kind) {
  const box = $("#flash");
  box.textContent = text;
  box.className = kind || "error";
  box.hidden = false;
}

// Server-Sent Events read with fetch: EventSource only reports events whose type it was
// told in advance, and a run's events have many types. Resumes from the last id it saw.
function sse(url, onEvent, onEnd) {
  let last = null, stopped = false;
  const connect = async () => {
    const target = last === null ? url : url + (url.includes("?") ? "&" : "?") +
      "after=" + encodeURIComponent(last);
    try {
      const resp = await fetch(target, { headers: { Accept: "text/event-stream" } });
      if (!resp.ok) { stopped = true; return; }
      const reader = resp.body.getReader(), dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut); buf = buf.slice(cut + 2);
          const ev = { event: "message", data: [], id: null };
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const i = line.indexOf(":");
            const key = i < 0 ? line : line.slice(0, i);
            const val = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
            if (key === "event") ev.event = val;
            else if (key === "data") ev.data.push(val);
            else if (key === "id") ev.id = val;
          }
          if (!ev.data.length && ev.event === "message") continue;
          if (ev.id !== null) last = ev.id;
          if (ev.event === "closing") continue;  // the daemon stops: reconnect below
          if (onEvent(ev.event, ev.data.join("\n")) === false) stopped = true;
        }
        if (stopped) { reader.cancel(); return; }
      }
    } catch (e) { /* the daemon went away: try again below */ }
    if (!stopped) {
      if (onEnd && onEnd() === false) return;
      setTimeout(connect, 2000);
    }
  };
  connect();
}

// Fetch this page again and swap its #live region: the server renders, we only replace.
let refreshing = null;
function refresh() {
  if (refreshing) { refreshing.again = true; return; }
  refreshing = { again: false };
  fetch(location.href, { headers: { Accept: "text/html" } }).then(r => r.text()).then(html => {
    const doc = new DOMParser().parseFromString(html, "text/html");
    const fresh = $("#live", doc), here = $("#live");
    if (fresh && here) here.replaceWith(document.adoptNode(fresh));
  }).catch(() => {}).finally(() => {
    const again = refreshing.again; refreshing = null;
    if (again) refresh();
  });
}

function live() {
  const main = $("main[data-live]");
  if (!main) return;
  let timer = null;
  const terminal = new Set(["run.completed", "run.failed", "run.cancelled"]);
  const url = main.dataset.live;
  const oneRun = url.includes("/workflows/");
  sse(url, (type) => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 120);
    return !(oneRun && terminal.has(type));
  }, () => !oneRun);
}

function logTail() {
  const pre = $("pre[data-log]");
  if (!pre) return;
  let started = false;
  sse(pre.dataset.log, (type, data) => {
    if (type === "attempt") {
      const n = JSON.parse(data).attempt;
      if (!started) pre.textContent = "";
      started = true;
      pre.append("── attempt " + n + " ──\n");
    } else if (type === "message") {
      if (!started) { pre.textContent = ""; started = true; }
      pre.append(data + "\n");
      if (pre.childNodes.length > 4000) pre.firstChild.remove();
      pre.scrollTop = pre.scrollHeight;
    }
    return true;
  }, () => false);
}

function ask(text, opts) {
  const dlg = $("#confirm");
  $(".confirm-text", dlg).textContent = text;
  const plan = $(".confirm-plan", dlg), askBox = $(".confirm-ask", dlg);
  plan.hidden = !opts.plan; plan.textContent = opts.plan || "";
  askBox.hidden = !opts.ask;
  $(".confirm-ask-label", dlg).textContent = opts.ask || "";
  $("textarea", dlg).value = "";
  return new Promise(resolve => {
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok" ?
      { text: $("textarea", dlg).value } : null), { once: true });
    dlg.returnValue = "";
    dlg.showModal();
    $(".confirm-ok", dlg).focus();
  });
}

async function call(method, url, body, type) {
  const resp = await fetch(url, {
    method, body: body === undefined ? undefined : (type ? body : JSON.stringify(body)),
    headers: { "Content-Type": type || "application/json", Accept: "application/json" },
  });
  let data = null;
  try { data = await resp.json(); } catch (e) { /* 204 */ }
  if (!resp.ok) {
    const err = (data && data.error) || { code: "http_" + resp.status, message: resp.statusText };
    throw new Error(err.code + ": " + err.message);
  }
  return data;
}

async function act(btn) {
  const url = btn.dataset.api;
  let body = {};
  try {
    let plan = null;
    if (btn.dataset.plan) {  // a rollback: show what would run again before asking
      body = { step: btn.dataset.plan };
      const dry = await call("POST", url, { ...body, dry_run: true });
      plan = (dry.rerun_steps || []).join("\n") || "(nothing)";
    }
    const answer = await ask(btn.dataset.confirm, { plan, ask: btn.dataset.ask });
    if (!answer) return;
    if (btn.dataset.ask) body[btn.dataset.ask] = answer.text || undefined;
    if (btn.dataset.body) {
      const text = $(btn.dataset.body).value.trim();
      if (text) body.comment = text;
    }
    btn.disabled = true;
    await call("POST", url, body);
    flash(btn.textContent.trim() + ": done", "ok");
    if (btn.dataset.then === "reload" || !$("main[data-live]")) location.reload();
    else refresh();
  } catch (e) {
    flash(e.message, "error");
  } finally {
    btn.disabled = false;
  }
}

function typed(el) {
  const t = el.dataset.type, v = el.value;
  if (t === "boolean") return el.checked;
  if (v === "") return undefined;
  if (t === "integer") return parseInt(v, 10);
  if (t === "number") return Number(v);
  if (t === "object" || t === "array") return JSON.parse(v);
  return v;
}

async function start(form) {
  const input = {};
  try {
    for (const el of $$("[name]", form)) {
      const v = typed(el);
      if (v !== undefined) input[el.name] = v;
    }
    const run = await call("POST", "/api/v1/workflows", { template: form.dataset.start, input });
    location.href = "/ui/runs/" + run.id;
  } catch (e) {
    flash(e.message, "error");
  }
}

async function draft(form) {
  try {
    const tpl = await call("POST", "/api/v1/templates", form.source.value, "application/yaml");
    location.href = "/ui/templates/" + tpl.id;
  } catch (e) {
    flash(e.message, "error");
  }
}

document.addEventListener("click", ev => {
  const btn = ev.target.closest("button[data-api]");
  if (btn) { ev.preventDefault(); act(btn); }
});
document.addEventListener("submit", ev => {
  const form = ev.target;
  if (form.dataset.start !== undefined) { ev.preventDefault(); start(form); }
  else if (form.dataset.draft !== undefined) { ev.preventDefault(); draft(form); }
});
document.addEventListener("DOMContentLoaded", () => { live(); logTail(); });
