// asto status page: polls the controller's /v1 API and follows /v1/progress (server-sent events
// read through fetch, since EventSource cannot send the Authorization header).
"use strict";

const KEY = "asto-token";
const inflight = new Map(); // progress key -> {action, unit, device, total, done, ok, message}
let streaming = null;
let lastDevices = [];

const $ = (sel) => document.querySelector(sel);
const token = () => sessionStorage.getItem(KEY);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : c === null || c === undefined ? "" : String(c));
  return e;
}

function human(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(1) : v) + " " + units[i];
}

async function api(method, path) {
  const r = await fetch(path, { method, headers: { Authorization: "Bearer " + token() } });
  if (r.status === 401) { logout("the token was refused"); throw new Error("unauthorized"); }
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new Error((body && body.error) || r.statusText);
  return body;
}

function fillTable(sel, rows) {
  const tbody = $(sel + " tbody");
  tbody.replaceChildren(...rows);
  if (!rows.length) {
    const cols = $(sel + " thead tr").children.length;
    tbody.append(el("tr", {}, el("td", { colspan: cols, class: "empty" }, "none")));
  }
}

function renderDevices(devices) {
  lastDevices = devices;
  fillTable("#devices", devices.map((d) => el("tr", { "data-device": d.name },
    el("td", {}, d.name), el("td", {}, d.kind), el("td", { class: d.state }, d.state),
    el("td", {}, (d.groups || []).join(", ")), el("td", {}, d.busy_with ? "copy " + d.busy_with : ""),
    el("td", {}, d.serial || ""))));
}

function renderRequests(requests) {
  const recent = requests.slice().sort((a, b) => b.id - a.id).slice(0, 50);
  fillTable("#requests", recent.map((r) => el("tr", { "data-request": r.id },
    el("td", {}, r.id), el("td", {}, r.kind), el("td", {}, r.state), el("td", {}, r.media_type),
    el("td", {}, r.device_group), el("td", {}, r.copies), el("td", {}, r.units), el("td", {}, r.files),
    el("td", {}, human(r.bytes)), el("td", {}, r.requester))));
}

function renderVolumes(volumes) {
  const online = volumes.filter((v) => String(v.location).startsWith("jukebox:"));
  fillTable("#volumes", online.map((v) => el("tr", { "data-volume": v.barcode },
    el("td", {}, v.barcode), el("td", {}, v.media_type), el("td", {}, v.state), el("td", {}, v.location),
    el("td", {}, human(v.bytes_used) + " / " + human(v.capacity)), el("td", {}, (v.units || []).join(", ")))));
}

function renderPrompts(prompts) {
  const box = $("#prompts");
  if (!prompts.length) { box.replaceChildren(el("p", { class: "empty" }, "no prompts")); return; }
  box.replaceChildren(...prompts.map((p) => {
    const button = el("button", { class: "ack", "data-id": p.id }, "acknowledge");
    button.addEventListener("click", () => acknowledge(p.id, button));
    return el("div", { class: "prompt", "data-prompt": p.id },
      el("span", { class: "kind" }, p.kind), el("span", { class: "message" }, p.message),
      el("span", {}, p.volume || ""), button);
  }));
}

function renderProgress() {
  const box = $("#progress");
  const items = [...inflight.entries()];
  if (!items.length) { box.replaceChildren(el("p", { class: "empty" }, "nothing moving")); return; }
  box.replaceChildren(...items.map(([key, p]) => {
    const pct = p.total ? Math.min(100, Math.floor((100 * p.done) / p.total)) : 0;
    const bar = p.total ? el("progress", { max: 100, value: pct }) : el("progress", {});
    const what = p.action + " " + p.unit + (p.device ? " on " + p.device : "");
    const state = p.ok === false ? "failed: " + p.message : p.total ? pct + "% of " + human(p.total) : human(p.done) + " so far";
    return el("div", { class: "item" + (p.ok === false ? " failed" : ""), "data-key": key, "data-action": p.action, "data-device": p.device || "" },
      el("div", { class: "label" }, el("span", {}, what), el("span", { class: "pct" }, state)), bar);
  }));
}

function onProgress(ev) {
  if (ev.event === "started") {
    inflight.set(ev.key, { action: ev.action, unit: ev.unit, device: ev.device, total: ev.total, done: 0 });
  } else if (ev.event === "bytes") {
    let p = inflight.get(ev.key);
    if (!p) {
      // Started before this page connected: name it after the device holding the copy.
      const copy = Number(String(ev.key).slice(1));
      const dev = lastDevices.find((d) => d.busy_with === copy);
      p = { action: "write", unit: "copy " + copy, device: dev ? dev.name : null, total: null, done: 0 };
      inflight.set(ev.key, p);
    }
    p.done = ev.done;
  } else if (ev.event === "finished") {
    const p = inflight.get(ev.key);
    if (p && !ev.ok) { p.ok = false; p.message = ev.message; setTimeout(() => { inflight.delete(ev.key); renderProgress(); }, 10000); }
    else inflight.delete(ev.key);
  }
  renderProgress();
}

async function follow() {
  const ctrl = new AbortController();
  streaming = ctrl;
  try {
    const r = await fetch("/v1/progress", { headers: { Authorization: "Bearer " + token() }, signal: ctrl.signal });
    if (!r.ok) throw new Error("progress stream: " + r.status);
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
        if (data) { try { onProgress(JSON.parse(data)); } catch (e) { /* not a progress event */ } }
      }
    }
  } catch (e) {
    if (ctrl.signal.aborted) return;
  }
  if (streaming === ctrl && token()) setTimeout(follow, 2000);
}

async function refresh() {
  if (!token()) return;
  try {
    const [devices, requests, volumes, prompts] = await Promise.all([
      api("GET", "/v1/devices"), api("GET", "/v1/requests"), api("GET", "/v1/volumes"), api("GET", "/v1/prompts"),
    ]);
    renderDevices(devices); renderRequests(requests); renderVolumes(volumes); renderPrompts(prompts);
    $("#status").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    $("#status").textContent = "error: " + e.message;
  }
}

async function acknowledge(id, button) {
  button.disabled = true;
  try {
    await api("POST", "/v1/prompts/" + id + "/ack");
    $("#status").textContent = "prompt " + id + " acknowledged";
  } catch (e) {
    $("#status").textContent = "prompt " + id + ": " + e.message;
    button.disabled = false;
  }
  refresh();
}

function logout(why) {
  sessionStorage.removeItem(KEY);
  if (streaming) streaming.abort();
  streaming = null;
  show();
  if (why) $("#status").textContent = why;
}

function show() {
  const has = !!token();
  $("#login").hidden = has; $("#board").hidden = !has; $("#logout").hidden = !has;
  if (has) { renderProgress(); refresh(); if (!streaming) follow(); }
}

$("#login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const t = $("#token").value.trim();
  if (t) { sessionStorage.setItem(KEY, t); $("#token").value = ""; show(); }
});
$("#logout").addEventListener("click", () => logout("token forgotten"));
setInterval(refresh, 2000);
show();
