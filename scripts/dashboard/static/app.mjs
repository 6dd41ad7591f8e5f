/* global document, window, fetch, setTimeout, URL */
// The dashboard in the browser: picks the view from the path, polls the dashboard's JSON API and redraws in place
// (no reload), and says so plainly when the chain, the relay or the dashboard itself does not answer, keeping the
// last data on screen.

import { drawChart } from "./chart.mjs";
import { esc, renderAgreement, renderIndex, renderPool, renderProvider, renderRelay } from "./render.mjs";

const REFRESH_MS = Number(document.body.dataset.refreshMs) || 5000;
const $ = (id) => document.getElementById(id);

/** The view and API path for the current location. */
function route(pathname) {
  const parts = pathname.split("/").filter(Boolean);
  if (parts.length === 0) return { api: "/api/index", render: renderIndex };
  if (parts[0] === "pool" && parts.length === 2) return { api: `/api/pools/${parts[1]}`, render: renderPool };
  if (parts[0] === "agreement" && parts.length === 3) {
    return { api: `/api/agreements/${parts[1]}/${parts[2]}`, render: renderAgreement, chart: true };
  }
  if (parts[0] === "provider" && parts.length === 2) {
    return { api: `/api/providers/${parts[1]}`, render: renderProvider };
  }
  return undefined;
}

const state = { chart: undefined, lastOk: undefined, shown: false };
window.dripfeed = state;

/** Replaces an element's HTML only when it changed (keeps selections and hover state between identical polls). */
const rendered = new Map();
function setHtml(id, html) {
  if (rendered.get(id) === html) return;
  rendered.set(id, html);
  $(id).innerHTML = html;
}

function banner(text) {
  const element = $("banner");
  element.hidden = !text;
  element.textContent = text ?? "";
}

function showChain(chain) {
  $("chain").innerHTML =
    `chain ${chain.chainId} · DripFeed <span class="mono">${esc(chain.contract)}</span> · block ` +
    `<span data-field="block">${chain.block}</span> · chain time <span class="mono" data-field="chainTime">${esc(chain.time.iso)}</span>` +
    ` · <span data-field="updated">updated ${esc(new Date().toISOString().slice(11, 19))}Z</span>`;
}

function show(view, data) {
  const page = view.render(data);
  document.title = `${page.title} · DripFeed`;
  setHtml("page-top", page.top);
  setHtml("page-bottom", page.bottom);
  setHtml("relay", renderRelay(data.relay));
  showChain(data.chain);
  if (view.chart) {
    $("chart-box").hidden = false;
    state.chart = drawChart($("chart"), data.chart, state.chart);
  }
  state.shown = true;
}

/** A failed API call as the sentence the banner shows. */
function failure(status, body, error) {
  const since = state.lastOk ? ` Showing what was read at ${state.lastOk}Z;` : "";
  const retry = ` retrying every ${REFRESH_MS / 1000} s.`;
  if (error) return `The dashboard server does not answer (${error.message}).${since}${retry}`;
  const message = body?.error?.message ?? `HTTP ${status}`;
  if (status === 503) return `The chain is unreachable: ${message}.${since}${retry}`;
  return `${message}.${since}${retry}`;
}

async function poll(view) {
  let response;
  let body;
  try {
    response = await fetch(view.api, { cache: "no-store" });
    body = await response.json().catch(() => undefined);
  } catch (error) {
    banner(failure(0, undefined, error));
    return;
  }
  if (response.ok && body) {
    banner(undefined);
    state.lastOk = new Date().toISOString().slice(11, 19);
    show(view, body);
  } else if (response.status === 404 || response.status === 400) {
    // Not a passing outage: the pool, agreement or address is not there.
    const message = esc(body?.error?.message ?? response.statusText);
    setHtml("page-top", `<h1>Not found</h1><p class="error-box" data-field="notFound">${message}</p>`);
    banner(undefined);
  } else {
    banner(failure(response.status, body));
  }
}

function start() {
  $("refresh-every").textContent = `${REFRESH_MS / 1000} s`;
  $("provider-lookup").addEventListener("submit", (event) => {
    event.preventDefault();
    const address = new window.FormData(event.target).get("address").trim();
    if (address) window.location.assign(new URL(`/provider/${address}`, window.location.href).href);
  });
  window.addEventListener("resize", () => {
    const element = $("chart");
    if (state.chart) state.chart.setSize({ width: Math.max(320, element.clientWidth), height: 340 });
  });
  const view = route(window.location.pathname);
  if (!view) {
    $("page-top").innerHTML = `<h1>Not found</h1><p>Try <a href="/">the pools</a>.</p>`;
    return;
  }
  const loop = async () => {
    await poll(view);
    setTimeout(loop, REFRESH_MS);
  };
  loop();
}

start();
