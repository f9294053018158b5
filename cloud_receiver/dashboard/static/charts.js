/* Plain SVG charts (no library, no network): a line chart and a stacked bar chart. */
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#1c7ed6", "#e8590c", "#2f9e44", "#ae3ec9", "#f08c00", "#c92a2a", "#0c8599", "#5c940d"];
  const W = 720, H = 220, L = 48, R = 12, T = 12, B = 34;

  function el(name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function frame(labels, max, fmt) {
    const svg = el("svg", {viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img"});
    const ticks = max <= 5 && Number.isInteger(max) ? max : 4;   // small counts: whole-number ticks
    for (let i = 0; i <= ticks; i++) {
      const v = max * i / ticks, y = T + (H - T - B) * (1 - i / ticks);
      svg.appendChild(el("line", {x1: L, x2: W - R, y1: y, y2: y, stroke: "#e4e7eb"}));
      svg.appendChild(el("text", {x: L - 4, y: y + 4, "text-anchor": "end"}, fmt(v)));
    }
    const n = labels.length, step = Math.max(1, Math.ceil(n / 8));
    labels.forEach((lab, i) => {
      if ((i % step === 0 && n - 1 - i >= step / 2) || i === n - 1) {
        svg.appendChild(el("text", {x: xAt(i, n), y: H - B + 16, "text-anchor": "middle"}, lab.slice(5)));
      }
    });
    return svg;
  }

  function xAt(i, n) { return n <= 1 ? (L + W - R) / 2 : L + (W - L - R) * i / (n - 1); }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }

  function legend(series) {
    const d = document.createElement("div");
    d.className = "legend";
    series.forEach((s, i) => {
      const span = document.createElement("span");
      const dot = document.createElement("i");
      dot.style.background = s.color || COLORS[i % COLORS.length];
      span.append(dot, s.name);
      d.appendChild(span);
    });
    return d;
  }

  /* series: [{name, values: [number|null]}]; opts.percent: values are 0..1 */
  function line(labels, series, opts = {}) {
    const fmt = opts.percent ? (v) => Math.round(v * 100) + "%" : (v) => (v >= 1000 ? (v / 1000) + "k" : String(Math.round(v * 10) / 10));
    const all = series.flatMap((s) => s.values.filter((v) => v !== null && v !== undefined));
    const max = opts.percent ? 1 : niceMax(Math.max(0, ...all));
    const svg = frame(labels, max, fmt);
    series.forEach((s, k) => {
      const color = s.color || COLORS[k % COLORS.length];
      let d = "";
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        const x = xAt(i, labels.length), y = T + (H - T - B) * (1 - v / max);
        d += (d && s.values[i - 1] !== null && s.values[i - 1] !== undefined ? "L" : "M") + x.toFixed(1) + "," + y.toFixed(1);
        const c = el("circle", {cx: x, cy: y, r: 2.2, fill: color});
        c.appendChild(el("title", {}, `${labels[i]} ${s.name}: ${opts.percent ? (v * 100).toFixed(1) + "%" : v}`));
        svg.appendChild(c);
      });
      svg.appendChild(el("path", {d, fill: "none", stroke: color, "stroke-width": 1.8}));
    });
    return wrap(svg, series);
  }

  function bars(labels, series) {
    const totals = labels.map((_, i) => series.reduce((a, s) => a + (s.values[i] || 0), 0));
    const max = niceMax(Math.max(0, ...totals));
    const svg = frame(labels, max, (v) => String(Math.round(v * 10) / 10));
    const n = labels.length, bw = Math.max(2, (W - L - R) / Math.max(n, 1) * 0.7);
    labels.forEach((lab, i) => {
      let base = 0;
      series.forEach((s, k) => {
        const v = s.values[i] || 0;
        if (!v) return;
        const y1 = T + (H - T - B) * (1 - (base + v) / max), y0 = T + (H - T - B) * (1 - base / max);
        const r = el("rect", {x: xAt(i, n) - bw / 2, y: y1, width: bw, height: Math.max(0.5, y0 - y1),
                              fill: s.color || COLORS[k % COLORS.length]});
        r.appendChild(el("title", {}, `${lab} ${s.name}: ${v}`));
        svg.appendChild(r);
        base += v;
      });
    });
    return wrap(svg, series);
  }

  function wrap(svg, series) {
    const box = document.createElement("div");
    box.append(svg, legend(series));
    return box;
  }

  return {line, bars, COLORS};
})();
