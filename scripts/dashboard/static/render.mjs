// The dashboard's views: the server's JSON (already formatted by the SDK) laid out as HTML. Nothing here computes an
// amount or a time; every value shown comes from the API as text. `data-field` marks each value for tests and
// scripts; `data-raw` carries the exact base units beside an amount's text.

const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for HTML (every string from the API goes through this). */
export const esc = (value) => String(value ?? "").replace(/[&<>"']/g, (c) => ENTITIES[c]);

const short = (hex) => (hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-6)}` : hex);

const address = (value, href) => {
  const text = `<span class="mono" title="${esc(value)}" data-address="${esc(value)}">${esc(short(value))}</span>`;
  return href ? `<a href="${esc(href)}">${text}</a>` : text;
};

/** An amount at a glance, the exact value (every digit) in its tooltip and its base units in data-raw. */
const amount = (value, field) =>
  `<span data-field="${esc(field)}" data-raw="${esc(value.raw)}" title="${esc(value.text)}">${esc(value.short)}</span>`;

const time = (value, field, none = "—") =>
  value
    ? `<span data-field="${esc(field)}" data-unix="${value.unix}"><span class="mono">${esc(value.iso)}</span> <span class="rel">${esc(value.relative)}</span></span>`
    : `<span data-field="${esc(field)}" class="muted">${esc(none)}</span>`;

const badge = (text, kind = text) => `<span class="badge ${esc(kind)}">${esc(text)}</span>`;

const fact = (label, html) => `<div><span class="label">${esc(label)}</span><span class="value">${html}</span></div>`;

const table = (head, rows, empty) =>
  rows.length === 0
    ? `<p class="muted">${esc(empty)}</p>`
    : `<div class="scroll"><table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table></div>`;

const poolHref = (poolId) => `/pool/${poolId}`;
const agreementHref = (a) => `/agreement/${a.poolId}/${a.agreementId}`;
const providerHref = (provider) => `/provider/${provider}`;

function poolFacts(pool) {
  return `<div class="facts">
    ${fact("owner", address(pool.owner))}
    ${fact("token", `${esc(pool.token.symbol)} ${address(pool.token.address)}`)}
    ${fact("balance", amount(pool.balance, "balance"))}
    ${fact("locked", amount(pool.locked, "locked"))}
    ${fact("free", amount(pool.free, "free"))}
  </div>`;
}

function termsCell(terms) {
  return `<div class="terms small"><div>budget ${amount(terms.budget, "budget")}, upfront ${amount(terms.upfront, "upfront")}</div>
    <div>cap <span data-field="maxRate">${esc(terms.maxRate)}</span>, floor <span data-field="streamRate">${esc(terms.streamRate)}</span></div>
    <div class="muted">notes every ${esc(terms.debitNoteInterval)}, claim window ${esc(terms.paymentTimeout)}</div></div>`;
}

/** What a relay holds for one agreement (pool, provider and agreement pages). */
function relayState(state) {
  if (state.error) return `<span class="error-box">${esc(state.error)}</span>`;
  if (state.pending === 0) return `<span class="muted" data-field="relayPending" data-count="0">nothing held</span>`;
  return `<span data-field="relayPending" data-count="${state.pending}">${state.pending} waiting</span>, up to
    ${amount(state.highestTotal ?? { raw: "0", text: "?", short: "?" }, "relayTotal")}<br />due ${dueText(state)}`;
}

const relayCell = (state) => (state ? `<td class="small">${relayState(state)}</td>` : "");

function dueText(state) {
  if (!state.dueAt) return `<span class="muted" data-field="relayDue">with the next batch</span>`;
  const reason = state.dueReason ? ` <span class="muted">(${esc(state.dueReason)})</span>` : "";
  return `${time(state.dueAt, "relayDue")}${reason}`;
}

function agreementRow(a, columns) {
  const cells = {
    pool: `<td>${address(a.poolId, poolHref(a.poolId))}</td>`,
    agreement: `<td>${address(a.agreementId, agreementHref(a))}</td>`,
    provider: `<td>${address(a.provider, providerHref(a.provider))}</td>`,
    status: `<td>${badge(a.status)}</td>`,
    terms: `<td>${termsCell(a.terms)}</td>`,
    accepted: `<td class="num">${amount(a.acceptedTotal, "acceptedTotal")}</td>`,
    paid: `<td class="num">${amount(a.paid, "paid")}</td>`,
    claimable: `<td class="num">${amount(a.claimable, "claimable")}</td>`,
    left: `<td class="num">${amount(a.budgetLeft, "budgetLeft")}</td>`,
    pace: `<td class="small"><span data-field="pace">${esc(a.pace.rate)}</span><br /><span class="muted">${esc(a.pace.basis)}</span></td>`,
    runsOut: `<td class="small">${a.runsOutAt ? time(a.runsOutAt, "runsOutAt") : `<span data-field="runsOutAt" class="muted">${esc(a.runsOut)}</span>`}</td>`,
    window: `<td class="small">${time(a.claimWindowEnd, "claimWindowEnd", a.status === "Active" ? "after termination" : "—")}</td>`,
    relay: relayCell(a.relay),
  };
  return `<tr data-agreement="${esc(a.agreementId)}" data-pool="${esc(a.poolId)}">${columns.map((c) => cells[c]).join("")}</tr>`;
}

const HEADINGS = {
  pool: "pool",
  agreement: "agreement",
  provider: "provider",
  status: "status",
  terms: "terms",
  accepted: "accepted",
  paid: "paid",
  claimable: "claimable now",
  left: "budget left",
  pace: "pace now",
  runsOut: "budget runs out",
  window: "claim window ends",
  relay: "relay",
};

function agreementTable(agreements, columns, hasRelay, empty) {
  const cols = hasRelay ? [...columns, "relay"] : columns;
  return table(
    cols.map((c) => HEADINGS[c]),
    agreements.map((a) => agreementRow(a, cols)),
    empty,
  );
}

// ---------------------------------------------------------------- pages

export function renderIndex(data) {
  const rows = data.pools.map(
    (p) => `<tr data-pool="${esc(p.poolId)}">
      <td>${address(p.poolId, poolHref(p.poolId))}</td>
      <td>${address(p.owner)}</td>
      <td>${esc(p.token.symbol)}</td>
      <td class="num">${amount(p.balance, "balance")}</td>
      <td class="num">${amount(p.locked, "locked")}</td>
      <td class="num">${amount(p.free, "free")}</td>
      <td class="num" data-field="agreements">${p.active} active / ${p.agreements}</td>
    </tr>`,
  );
  return {
    title: "Pools",
    top: `<h1>Pools</h1><section>${table(
      ["pool", "owner", "token", "balance", "locked", "free", "agreements"],
      rows,
      "No pool on this DripFeed yet: create one with npx hardhat dripfeed pool-create.",
    )}</section>`,
    bottom: "",
  };
}

export function renderPool(data) {
  const grants = data.grants.map(
    (g) => `<tr data-grantee="${esc(g.grantee)}">
      <td>${address(g.grantee)}</td>
      <td data-field="permissions">${esc(g.permissions.join(", ") || "none")}</td>
      <td>${badge(g.state)}</td>
      <td class="small">${time(g.validUntil, "validUntil")}</td>
      <td class="small">${time(g.acceptValidUntil, "acceptValidUntil", "cannot sign")}</td>
      <td class="small" data-field="notice">${
        g.notice
          ? `${badge("notice")} ${esc(g.notice.why)}: acceptances still settle until ${time(g.notice.until, "noticeUntil")}`
          : ""
      }</td>
      <td class="num">${g.openAllowanceNow ? amount(g.openAllowanceNow, "openAllowanceNow") : ""}</td>
    </tr>`,
  );
  return {
    title: `Pool ${short(data.pool.poolId)}`,
    top: `<h1>Pool <span class="mono" data-field="poolId">${esc(data.pool.poolId)}</span></h1>
      <section>${poolFacts(data.pool)}</section>
      <h2>Grants</h2>
      <section id="grants">${table(
        ["grantee", "permissions", "state", "valid until", "ACCEPT counts until", "notice", "OPEN allowance now"],
        grants,
        "No grant: only the owner acts on this pool.",
      )}</section>
      <h2>Agreements</h2>
      <section id="agreements">${agreementTable(
        data.agreements,
        [
          "agreement",
          "provider",
          "status",
          "terms",
          "accepted",
          "paid",
          "claimable",
          "left",
          "pace",
          "runsOut",
          "window",
        ],
        data.relay !== null,
        "No agreement opened in this pool yet.",
      )}</section>`,
    bottom: "",
  };
}

export function renderAgreement(data) {
  const a = data.agreement;
  const timeline = data.timeline.map(
    (e) => `<tr data-event="${esc(e.event)}">
      <td class="small">${time(e.time, "time")}</td>
      <td>${esc(e.event)}</td>
      <td class="small">${esc(e.text)}</td>
      <td class="num">${e.block}</td>
      <td class="mono small" data-field="txHash">${esc(e.txHash)}</td>
    </tr>`,
  );
  const relay = a.relay ? fact("on the relay", relayState(a.relay)) : "";
  return {
    title: `Agreement ${short(a.agreementId)}`,
    top: `<h1>Agreement <span class="mono" data-field="agreementId">${esc(a.agreementId)}</span> ${badge(a.status)}</h1>
      <section id="agreement" data-agreement="${esc(a.agreementId)}">
        <div class="facts">
          ${fact("pool", address(a.poolId, poolHref(a.poolId)))}
          ${fact("provider", address(a.provider, providerHref(a.provider)))}
          ${fact("token", `${esc(a.token.symbol)} ${address(a.token.address)}`)}
          ${fact("status", `<span data-field="status">${esc(a.status)}</span>`)}
          ${fact("budget", amount(a.terms.budget, "budget"))}
          ${fact("upfront", amount(a.terms.upfront, "upfront"))}
          ${fact("rate cap (maxRate)", `<span data-field="maxRate">${esc(a.terms.maxRate)}</span>`)}
          ${fact("stream floor (streamRate)", `<span data-field="streamRate">${esc(a.terms.streamRate)}</span>`)}
          ${fact("debit-note interval", esc(a.terms.debitNoteInterval))}
          ${fact("payment timeout (claim window)", esc(a.terms.paymentTimeout))}
          ${fact("started", time(a.startedAt, "startedAt"))}
          ${fact("terminated", time(a.terminatedAt, "terminatedAt", "no"))}
          ${fact("claim window ends", time(a.claimWindowEnd, "claimWindowEnd", "after termination"))}
          ${fact("accepted total", amount(a.acceptedTotal, "acceptedTotal"))}
          ${fact("paid", amount(a.paid, "paid"))}
          ${fact("claimable now", amount(a.claimable, "claimable"))}
          ${fact("budget left", amount(a.budgetLeft, "budgetLeft"))}
          ${fact("pace now", `<span data-field="pace">${esc(a.pace.rate)}</span> <span class="muted">(${esc(a.pace.basis)})</span>`)}
          ${fact("budget runs out", a.runsOutAt ? time(a.runsOutAt, "runsOutAt") : `<span data-field="runsOutAt">${esc(a.runsOut)}</span>`)}
          ${relay}
        </div>
      </section>`,
    bottom: `<h2>Events</h2><section id="timeline">${table(
      ["time", "event", "what", "block", "transaction"],
      timeline,
      "No event yet.",
    )}</section>`,
  };
}

export function renderProvider(data) {
  const totals = data.totals
    .map(
      (t) =>
        `${fact(`claimable now (${t.symbol})`, amount(t.claimable, "totalClaimable"))}${fact("paid so far", amount(t.paid, "totalPaid"))}`,
    )
    .join("");
  return {
    title: `Provider ${short(data.provider)}`,
    top: `<h1>Provider <span class="mono" data-field="provider">${esc(data.provider)}</span></h1>
      <section><div class="facts">${totals || `<span class="muted">Nothing paid or claimable yet.</span>`}</div></section>
      <h2>Agreements paying this address</h2>
      <section id="agreements">${agreementTable(
        data.agreements,
        ["pool", "agreement", "status", "accepted", "paid", "claimable", "window", "left", "runsOut"],
        data.relay !== null,
        "No agreement pays this address on this DripFeed.",
      )}</section>`,
    bottom: "",
  };
}

const COUNTS = ["queued", "submitted", "settled", "superseded", "failed", "held", "due"];

export function renderRelay(relay) {
  if (!relay) return "";
  const head = `<h2>Relay <span class="mono">${esc(relay.url)}</span> ${relay.reachable ? badge(relay.status ?? "ok", relay.status ?? "ok") : ""}</h2>`;
  if (!relay.reachable) {
    return `${head}<section id="relay-panel"><p class="error-box" data-field="relayError">${esc(relay.error)}</p></section>`;
  }
  const counts = COUNTS.filter((k) => relay.counts[k] !== undefined && relay.counts[k] !== null)
    .map((k) => fact(k, `<span data-field="relay-${k}">${relay.counts[k]}</span>`))
    .join("");
  const problems = relay.problems.length ? `<p class="warn-box">${relay.problems.map(esc).join("<br />")}</p>` : "";
  const mismatch = relay.mismatch ? `<p class="error-box" data-field="relayMismatch">${esc(relay.mismatch)}</p>` : "";
  const waiting = (relay.waiting ?? []).map(
    (w) => `<tr data-agreement="${esc(w.agreementId)}">
      <td>${address(w.agreementId, agreementHref(w))}</td>
      <td class="num" data-field="relayPending">${w.pending}</td>
      <td class="num">${w.highestTotal ? amount(w.highestTotal, "relayTotal") : ""}</td>
      <td class="small">${dueText(w)}</td>
    </tr>`,
  );
  return `${head}<section id="relay-panel">${mismatch}${problems}<div class="facts">${counts}</div>
    ${relay.waiting ? table(["agreement", "acceptances waiting", "highest total", "due"], waiting, "Nothing held for these agreements.") : ""}
  </section>`;
}
