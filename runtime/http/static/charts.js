/* Tiny SVG charts for the emulator's dashboard: no library, no network. Text goes in via textContent only. */
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svg(width, height) {
    return el("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "xMidYMid meet" });
  }

  function empty(container, message) {
    const s = svg(600, 220);
    s.appendChild(el("text", { x: 300, y: 110, "text-anchor": "middle", class: "empty" }, message));
    container.replaceChildren(s);
  }

  /* A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten. */
  function niceMax(value) {
    if (!(value > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(value)));
    for (const m of [1, 2, 5, 10]) if (value <= m * p) return m * p;
    return 10 * p;
  }

  /* Vertical bars over time. items: [{label, value, title}]; fmt formats axis values. */
  function columns(container, items, fmt) {
    if (!items.length) return empty(container, "No requests in this window yet");
    const W = 600, H = 220, left = 64, right = 12, top = 12, bottom = 28;
    const max = niceMax(Math.max(...items.map((d) => d.value)));
    const s = svg(W, H);
    const plotW = W - left - right, plotH = H - top - bottom;
    for (const f of [0, 0.5, 1]) {
      const y = top + plotH * (1 - f);
      s.appendChild(el("line", { x1: left, x2: W - right, y1: y, y2: y, class: "axis" }));
      s.appendChild(el("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, fmt(max * f)));
    }
    const slot = plotW / items.length;
    const barW = Math.max(1, Math.min(48, slot * 0.8));
    items.forEach((d, i) => {
      const h = (d.value / max) * plotH;
      const x = left + i * slot + (slot - barW) / 2;
      const bar = el("rect", { x: x, y: top + plotH - h, width: barW, height: Math.max(h, d.value > 0 ? 1 : 0), class: "bar" });
      bar.appendChild(el("title", {}, d.title));
      s.appendChild(bar);
    });
    const labels = items.length === 1 ? [0] : [0, items.length - 1];
    for (const i of labels) {
      const anchor = items.length === 1 ? "middle" : i === 0 ? "start" : "end";
      const x = items.length === 1 ? left + slot / 2 : i === 0 ? left : W - right;
      s.appendChild(el("text", { x: x, y: H - 8, "text-anchor": anchor }, items[i].label));
    }
    container.replaceChildren(s);
  }

  /* Horizontal bars, one per named item, longest first. */
  function rows(container, items) {
    if (!items.length) return empty(container, "No requests yet");
    const shown = items.slice(0, 8);
    const W = 600, rowH = 34, top = 8, nameW = 230, valueW = 110;
    const H = top * 2 + rowH * shown.length;
    const max = Math.max(...shown.map((d) => d.value)) || 1;
    const s = svg(W, Math.max(H, 60));
    shown.forEach((d, i) => {
      const y = top + i * rowH;
      const name = d.label.length > 34 ? "…" + d.label.slice(-33) : d.label;
      s.appendChild(el("text", { x: 0, y: y + rowH / 2 + 4, class: "name" }, name));
      const w = (d.value / max) * (W - nameW - valueW - 10);
      const bar = el("rect", { x: nameW, y: y + 7, width: Math.max(w, d.value > 0 ? 2 : 0), height: rowH - 14, rx: 3, class: "bar" });
      bar.appendChild(el("title", {}, d.title));
      s.appendChild(bar);
      s.appendChild(el("text", { x: W, y: y + rowH / 2 + 4, "text-anchor": "end" }, d.valueText));
    });
    container.replaceChildren(s);
  }

  window.EmuCharts = { columns: columns, rows: rows };
})();
