/* The cost dashboard: polls the emulator's JSON endpoints every 2 s and redraws. Amounts come from the server
   as exact decimal strings and are shown as they are; numbers are parsed only to size the chart bars. */
"use strict";
(function () {
  const POLL_MS = 2000;
  const $ = (id) => document.getElementById(id);

  function usd(text) { return "$" + text; }
  function ms(value) { return value === null || value === undefined ? "—" : value.toLocaleString(undefined, { maximumFractionDigits: 1 }) + " ms"; }
  function count(n) { return n.toLocaleString(); }
  // Usage in each model's own units: {"audio-ms": 61234, "request": 2} -> "61,234 audio-ms · 2 request".
  function usage(u, skip) {
    return Object.keys(u || {}).sort().filter((q) => q !== skip).map((q) => u[q].toLocaleString() + " " + q).join(" · ");
  }
  function axisUsd(v) {
    if (v === 0) return "$0";
    if (v >= 0.01) return "$" + v.toFixed(2);
    return "$" + v.toPrecision(2);
  }
  function localTime(iso) {
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleTimeString([], { hour12: false });
  }

  function setStatus(state, text) {
    const s = $("status");
    s.dataset.state = state;
    s.textContent = text;
  }

  function renderTotals(c) {
    $("total-usd").textContent = usd(c.total_usd);
    $("requests").textContent = count(c.requests);
    $("billed").textContent = count(c.billed_requests);
    $("errors").textContent = count(c.errors);
    $("errors-label").textContent = c.errors === 1 ? "error" : "errors";
    $("cache-hits").textContent = count(c.cache_hits);
    $("latency").textContent = ms(c.mean_latency_ms);
    const p = c.projection;
    $("projection").textContent = p.monthly_usd === null ? "—" : usd(Number(p.monthly_usd).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
    $("projection-note").textContent = p.basis;
    const bill = c.cloudflare_bill;
    $("bill").textContent = usd(bill.bill_usd);
    $("bill-note").textContent = "list price " + usd(bill.list_usd) + "; " +
      Number(bill.free_neurons_per_day).toLocaleString() + " neurons free per UTC day, then $" +
      bill.neuron_price_usd_per_1000 + " per 1,000";
    $("window").textContent = c.first_request_at ? "since " + new Date(c.first_request_at).toLocaleString() : "no requests recorded yet";
  }

  function renderBudget(b) {
    const card = $("budget-card");
    if (!b) { card.hidden = true; return; }
    card.hidden = false;
    const spent = Number(b.spent_today_usd), limit = Number(b.budget_usd_per_day);
    const share = limit > 0 ? Math.min(1, spent / limit) : 1;
    card.classList.toggle("exceeded", b.exceeded);
    $("budget-spent").textContent = usd(b.spent_today_usd);
    $("budget-fill").style.width = (share * 100).toFixed(1) + "%";
    $("budget-note").textContent = b.exceeded
      ? "of " + usd(b.budget_usd_per_day) + " reached: requests get error 3036 until midnight UTC"
      : "of " + usd(b.budget_usd_per_day) + " today · " + (share * 100).toFixed(1) + "% used";
  }

  function renderCharts(c) {
    $("timeline-step").textContent = c.timeline.length ? "(per " + c.timeline_step + ", UTC)" : "";
    EmuCharts.columns($("timeline-chart"), c.timeline.map((t) => ({
      label: t.start.replace("T", " "),
      value: Number(t.cost_usd),
      title: t.start + ": " + usd(t.cost_usd) + " · " + t.requests + " requests",
    })), axisUsd);
    EmuCharts.rows($("model-chart"), c.by_model.map((m) => ({
      label: m.model,
      value: Number(m.cost_usd),
      // the bar says what the model bills by beyond its requests (audio, tokens); the tooltip says all of it
      valueText: [usd(m.cost_usd), usage(m.usage, "request")].filter(Boolean).join(" · "),
      title: m.model + ": " + usd(m.cost_usd) + " · " + m.requests + " requests (" + m.billed_requests + " billed)" +
        (usage(m.usage) ? " · used " + usage(m.usage) : ""),
    })));
  }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function renderLatest(rows) {
    const body = document.querySelector("#latest tbody");
    const out = rows.map((r) => {
      const tr = document.createElement("tr");
      tr.title = "request " + r.request_id;
      cell(tr, localTime(r.time));
      cell(tr, r.model, "model");
      cell(tr, r.source);
      cell(tr, r.route || (r.worker ? r.worker : "—"));
      cell(tr, r.weights || "—", r.weights && r.weights.startsWith("stand-in:") ? "standin" : undefined);
      cell(tr, ms(r.latency_ms), "num");
      cell(tr, usage(r.usage) || "—", "num");
      cell(tr, usd(r.cost), "num");
      const td = cell(tr, "");
      const tag = document.createElement("span");
      const cached = r.cache_hit && r.outcome === "ok";
      tag.className = "tag " + (cached ? "cache" : r.outcome === "ok" ? "ok" : "err");
      tag.textContent = cached ? "cache hit" : r.outcome;
      td.appendChild(tag);
      return tr;
    });
    body.replaceChildren(...out);
    $("latest-empty").hidden = rows.length > 0;
  }

  async function getJson(url) {
    const token = new URLSearchParams(location.search).get("token");  // with an api_token: dashboard?token=...
    const r = await fetch(url, { cache: "no-store", headers: token ? { authorization: "Bearer " + token } : {} });
    if (!r.ok) throw new Error(url + ": HTTP " + r.status);
    return r.json();
  }

  function renderInstances(c) {
    // A ledger shared by several emulators: a filter by the instance that wrote each row (all = the team's total).
    const select = $("instance");
    const names = c.instances || [];
    $("instance-filter").hidden = names.length < 2 && !select.value;
    const known = Array.from(select.options).map((o) => o.value).slice(1);
    if (known.join("\n") !== names.join("\n")) {
      const keep = select.value;
      select.replaceChildren(select.options[0], ...names.map((n) => new Option(n, n)));
      select.value = names.includes(keep) ? keep : "";
    }
  }

  let timer = 0;

  async function tick() {
    try {
      const instance = $("instance").value;
      const query = instance ? "?instance=" + encodeURIComponent(instance) : "";
      const [c, latest] = await Promise.all([getJson("costs" + query), getJson("requests?limit=25")]);
      renderInstances(c);
      renderTotals(c);
      renderBudget(c.budget);
      renderCharts(c);
      renderLatest(latest.requests);
      document.body.dataset.loaded = "1";
      setStatus("live", "live · updated " + new Date().toLocaleTimeString([], { hour12: false }));
    } catch (e) {
      setStatus("error", "cannot reach the emulator: " + e.message);
    } finally {
      clearTimeout(timer);
      timer = setTimeout(tick, POLL_MS);
    }
  }

  $("instance").addEventListener("change", () => {
    clearTimeout(timer);
    tick();
  });
  tick();
})();
