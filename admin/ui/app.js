// The murmur admin UI: pipelines, their DAG, live charts and a query console, over Connect JSON.

const ADMIN = "murmur.admin.v1.AdminService";
const TOKEN_KEY = "murmur.adminToken";
const HISTORY = 150; // samples kept per pipeline (~2.5 min at 1/s)
const SVG_NS = "http://www.w3.org/2000/svg";

// ---------------------------------------------------------------- helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.setAttribute("class", value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(
      child instanceof Node ? child : document.createTextNode(String(child)),
    );
  }
}

const intFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const compactFormat = new Intl.NumberFormat("en-US", {
  notation: "compact",
  maximumFractionDigits: 1,
});

function fmtInt(n) {
  return intFormat.format(Number(n) || 0);
}

function fmtNumber(n) {
  const v = Number(n);
  if (!Number.isFinite(v)) return String(n);
  if (Number.isInteger(v)) return intFormat.format(v);
  return v.toLocaleString("en-US", { maximumFractionDigits: 4 });
}

function fmtRate(n) {
  const v = Number(n) || 0;
  if (v === 0) return "0";
  if (v < 10) return v.toFixed(1);
  return v >= 10_000 ? compactFormat.format(v) : intFormat.format(v);
}

function fmtMs(n) {
  const v = Number(n) || 0;
  if (v === 0) return "0 ms";
  if (v < 1) return `${v.toFixed(2)} ms`;
  if (v < 100) return `${v.toFixed(1)} ms`;
  if (v < 10_000) return `${intFormat.format(v)} ms`;
  return `${(v / 1000).toFixed(1)} s`;
}

function fmtDuration(ms) {
  const v = Number(ms) || 0;
  const units = [[86_400_000, "d"], [3_600_000, "h"], [60_000, "min"], [
    1000,
    "s",
  ]];
  for (const [size, unit] of units) {
    if (v >= size && v % size === 0) return `${v / size} ${unit}`;
  }
  for (const [size, unit] of units) {
    if (v >= size) return `${(v / size).toFixed(1)} ${unit}`;
  }
  return `${v} ms`;
}

function fmtAgo(ms) {
  const delta = Date.now() - Number(ms);
  if (!Number.isFinite(delta)) return "never";
  if (delta < 2000) return "just now";
  if (delta < 60_000) return `${Math.round(delta / 1000)} s ago`;
  if (delta < 3_600_000) return `${Math.round(delta / 60_000)} min ago`;
  return `${Math.round(delta / 3_600_000)} h ago`;
}

function fmtTime(ms, granularity) {
  const iso = new Date(Number(ms)).toISOString();
  if (granularity === "day") return iso.slice(0, 10);
  return iso.replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC");
}

function windowText(window) {
  if (!window) return "all-time";
  const retention =
    window.retentionMs === undefined || window.retentionMs === null
      ? "kept forever"
      : `keep ${fmtDuration(window.retentionMs)}`;
  return `${window.granularity} buckets · ${retention}`;
}

function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Splits a label into at most two lines of `width` characters, breaking after separators when it can. */
function wrap(text, width) {
  if (text.length <= width) return [text];
  let cut = -1;
  // Prefer word and scheme breaks (" ", ",", ":", "/") to "." "_" "-".
  for (const separators of [" ,:/", "._-"]) {
    for (let i = Math.min(width, text.length - 1); i > width / 3; i--) {
      if (separators.includes(text[i - 1])) {
        cut = i;
        break;
      }
    }
    if (cut > 0) break;
  }
  if (cut < 0) cut = width;
  return [
    text.slice(0, cut).trimEnd(),
    truncate(text.slice(cut).trimStart(), width),
  ];
}

function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// ---------------------------------------------------------------- API

class RpcError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

function token() {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

function headers(contentType) {
  const out = { "Content-Type": contentType, "Connect-Protocol-Version": "1" };
  const t = token();
  if (t !== "") out.Authorization = `Bearer ${t}`;
  return out;
}

async function errorOf(res) {
  let body = {};
  try {
    body = await res.json();
  } catch {
    body = {};
  }
  return new RpcError(
    body.code ?? `http_${res.status}`,
    body.message ?? res.statusText,
    res.status,
  );
}

async function call(method, body = {}, signal, service = ADMIN) {
  let res;
  try {
    res = await fetch(`/${service}/${method}`, {
      method: "POST",
      headers: headers("application/json"),
      body: JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new RpcError("unavailable", "could not reach the admin server", 0);
  }
  if (!res.ok) throw await errorOf(res);
  return await res.json();
}

/** Server streaming over the Connect protocol with JSON envelopes. */
async function* stream(method, body, signal) {
  const payload = new TextEncoder().encode(JSON.stringify(body));
  const envelope = new Uint8Array(5 + payload.length);
  new DataView(envelope.buffer).setUint32(1, payload.length);
  envelope.set(payload, 5);
  const res = await fetch(`/${ADMIN}/${method}`, {
    method: "POST",
    headers: headers("application/connect+json"),
    body: envelope,
    signal,
  });
  if (!res.ok) throw await errorOf(res);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = new Uint8Array(0);
  while (true) {
    const { value, done } = await reader.read();
    if (done) return;
    const merged = new Uint8Array(buffer.length + value.length);
    merged.set(buffer);
    merged.set(value, buffer.length);
    buffer = merged;
    while (buffer.length >= 5) {
      const flags = buffer[0];
      const length = new DataView(buffer.buffer, buffer.byteOffset).getUint32(
        1,
      );
      if (buffer.length < 5 + length) break;
      const message = JSON.parse(
        decoder.decode(buffer.subarray(5, 5 + length)),
      );
      buffer = buffer.slice(5 + length);
      if (flags & 2) {
        if (message.error) {
          throw new RpcError(
            message.error.code,
            message.error.message ?? "",
            200,
          );
        }
        return;
      }
      yield message;
    }
  }
}

// ---------------------------------------------------------------- auth

const tokenDialog = document.getElementById("token-dialog");
const tokenButton = document.getElementById("token-button");
const tokenInput = document.getElementById("token-input");
const tokenError = document.getElementById("token-error");
let tokenWaiters = [];

function askToken(message) {
  tokenError.hidden = !message;
  tokenError.textContent = message ?? "";
  tokenInput.value = token();
  if (!tokenDialog.open) tokenDialog.showModal();
  return new Promise((resolve) => tokenWaiters.push(resolve));
}

document.getElementById("token-form").addEventListener("submit", () => {
  try {
    localStorage.setItem(TOKEN_KEY, tokenInput.value.trim());
  } catch {
    // Private mode without storage: the token lasts for this page only.
  }
  tokenButton.textContent = "Change token";
  const waiters = tokenWaiters;
  tokenWaiters = [];
  for (const resolve of waiters) resolve();
  route();
});

document.getElementById("token-forget").addEventListener("click", () => {
  try {
    localStorage.removeItem(TOKEN_KEY);
  } catch {
    // Nothing stored.
  }
  tokenInput.value = "";
});

tokenButton.addEventListener("click", () => askToken());

/** Runs an API call, asking for a token and retrying when the server wants one. */
async function authed(fn) {
  for (let attempt = 0;; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (
        error instanceof RpcError && error.code === "unauthenticated" &&
        attempt < 5
      ) {
        await askToken(
          token() === "" ? undefined : "That token was not accepted.",
        );
        continue;
      }
      throw error;
    }
  }
}

// ---------------------------------------------------------------- server status

const serverStatus = document.getElementById("server-status");

async function pollHealth() {
  try {
    const health = await call("Health");
    serverStatus.replaceChildren(
      h("span", { class: "dot dot-good" }),
      h("span", { class: "server-text" }, `online · v${health.version}`),
    );
    tokenButton.hidden = !health.authRequired;
    tokenButton.textContent = token() === "" ? "Set token" : "Change token";
  } catch {
    serverStatus.replaceChildren(
      h("span", { class: "dot dot-bad" }),
      h("span", { class: "server-text" }, "admin server offline"),
    );
  }
}

// ---------------------------------------------------------------- metrics hub

/** Keeps recent metrics per pipeline, fed by one WatchMetrics stream (polling as a fallback). */
const hub = {
  series: new Map(),
  listeners: new Set(),
  controller: undefined,
  started: false,

  push(snapshot) {
    const name = snapshot.pipeline;
    const list = this.series.get(name) ?? [];
    const at = Number(snapshot.atMs);
    if (list.length > 0 && Number(list[list.length - 1].atMs) >= at) return;
    list.push(snapshot);
    if (list.length > HISTORY) list.splice(0, list.length - HISTORY);
    this.series.set(name, list);
  },

  latest(name) {
    const list = this.series.get(name);
    return list?.[list.length - 1];
  },

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  },

  emit() {
    for (const listener of this.listeners) listener();
  },

  async start() {
    if (this.started) return;
    this.started = true;
    let failures = 0;
    while (true) {
      this.controller = new AbortController();
      try {
        const seed = await authed(() =>
          call("GetMetrics", { history: HISTORY })
        );
        for (const p of seed.pipelines ?? []) {
          for (const sample of p.history ?? []) this.push(sample);
          if (p.latest) this.push(p.latest);
        }
        this.emit();
        for await (
          const tick of stream(
            "WatchMetrics",
            { intervalMs: 1000 },
            this.controller.signal,
          )
        ) {
          failures = 0;
          for (const snapshot of tick.snapshots ?? []) this.push(snapshot);
          this.emit();
        }
      } catch (error) {
        if (error instanceof RpcError && error.code === "unauthenticated") {
          await askToken();
          continue;
        }
        failures++;
      }
      await new Promise((r) =>
        setTimeout(r, Math.min(30_000, 500 * 2 ** failures))
      );
    }
  },
};

// ---------------------------------------------------------------- charts

function niceMax(value) {
  if (!(value > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * exp) return step * exp;
  }
  return 10 * exp;
}

/**
 * Draws a time-series line chart into an <svg>.
 * series: [{ name, color, values: [[timeMs, value]], area }]
 */
function drawChart(
  svg,
  series,
  { maxSpanMs = 120_000, format = fmtRate } = {},
) {
  const width = Math.max(320, svg.clientWidth || 640);
  const height = Math.max(160, svg.clientHeight || 220);
  const pad = { left: 52, right: 14, top: 12, bottom: 26 };
  const now = Date.now();
  // Show what there is: at least 30 s, at most `maxSpanMs`.
  const oldest = Math.min(
    now,
    ...series.flatMap((line) => line.values.map(([t]) => t)),
  );
  const spanMs = Math.min(
    maxSpanMs,
    Math.max(30_000, Math.ceil((now - oldest) / 10_000) * 10_000),
  );
  const x0 = now - spanMs;
  const all = series.flatMap((line) => line.values.filter(([t]) => t >= x0));
  const yMax = niceMax(Math.max(0, ...all.map(([, v]) => v)) * 1.1);
  const px = (t) =>
    pad.left + ((t - x0) / spanMs) * (width - pad.left - pad.right);
  const py = (v) => pad.top + (1 - v / yMax) * (height - pad.top - pad.bottom);

  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const children = [];
  const defs = s("defs");
  children.push(defs);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax / 4) * i;
    const y = py(v);
    children.push(
      s("line", {
        class: "grid-line",
        x1: pad.left,
        x2: width - pad.right,
        y1: y,
        y2: y,
      }),
      s("text", {
        class: "axis",
        x: pad.left - 8,
        y: y + 4,
        "text-anchor": "end",
      }, format === fmtRate ? format(v) : tickLabel(v, yMax / 4)),
    );
  }
  const stepMs = [5_000, 10_000, 15_000, 20_000, 30_000, 60_000]
    .find((step) => spanMs / step <= 6) ?? 60_000;
  for (let ago = 0; ago <= spanMs; ago += stepMs) {
    const edge = ago === 0 ? "end" : ago + stepMs > spanMs ? "start" : "middle";
    children.push(
      s(
        "text",
        {
          class: "axis",
          x: px(now - ago),
          y: height - 6,
          "text-anchor": ago === spanMs ? "start" : edge,
        },
        ago === 0 ? "now" : `-${ago / 1000}s`,
      ),
    );
  }
  let points = 0;
  const lines = [];
  series.forEach((line, index) => {
    const values = line.values.filter(([t]) => t >= x0 - 2000);
    points = Math.max(points, values.length);
    if (values.length === 0) return;
    const d = values.map(([t, v], i) =>
      `${i === 0 ? "M" : "L"}${px(t).toFixed(1)},${py(v).toFixed(1)}`
    )
      .join("");
    if (line.area) {
      const id = `fill-${svg.id}-${index}`;
      defs.append(
        s(
          "linearGradient",
          { id, x1: 0, x2: 0, y1: 0, y2: 1 },
          s("stop", {
            offset: "0%",
            "stop-color": line.color,
            "stop-opacity": 0.3,
          }),
          s("stop", {
            offset: "100%",
            "stop-color": line.color,
            "stop-opacity": 0,
          }),
        ),
      );
      const first = values[0];
      const last = values[values.length - 1];
      children.push(
        s("path", {
          class: "area",
          fill: `url(#${id})`,
          d: `${d}L${px(last[0]).toFixed(1)},${py(0)}L${
            px(first[0]).toFixed(1)
          },${py(0)}Z`,
        }),
      );
    }
    const [lt, lv] = values[values.length - 1];
    lines.push(
      s("path", {
        class: "line",
        stroke: line.color,
        d,
        "data-series": line.name,
      }),
      s("circle", { cx: px(lt), cy: py(lv), r: 3.2, fill: line.color }),
    );
  });
  children.push(...lines);
  if (points === 0) {
    children.push(
      s(
        "text",
        { class: "axis", x: width / 2, y: height / 2, "text-anchor": "middle" },
        "waiting for samples…",
      ),
    );
  }
  svg.replaceChildren(...children);
  svg.dataset.points = String(points);
  svg.dataset.updated = String(now);
}

/** A tick label with just enough decimals for the step between ticks. */
function tickLabel(value, step) {
  const decimals = step >= 1
    ? 0
    : Math.min(4, Math.ceil(-Math.log10(step)) + 1);
  return Number(value.toFixed(decimals)).toString();
}

function sparkline(values) {
  const width = 300;
  const height = 44;
  const svg = s("svg", {
    class: "spark",
    viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: "none",
  });
  svg.append(
    s("line", {
      x1: 0,
      x2: width,
      y1: height - 1,
      y2: height - 1,
      stroke: "#222a3a",
      "stroke-width": 1,
    }),
  );
  if (values.length < 2) return svg;
  const max = niceMax(Math.max(...values) * 1.15);
  const step = width / (HISTORY - 1);
  const offset = width - (values.length - 1) * step;
  const pts = values.map((
    v,
    i,
  ) => [offset + i * step, height - 2 - (v / max) * (height - 6)]);
  const d = pts.map(([x, y], i) =>
    `${i === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`
  ).join("");
  svg.append(
    s(
      "defs",
      {},
      s(
        "linearGradient",
        { id: "spark-fill", x1: 0, x2: 0, y1: 0, y2: 1 },
        s("stop", {
          offset: "0%",
          "stop-color": "#8b7cff",
          "stop-opacity": 0.35,
        }),
        s("stop", {
          offset: "100%",
          "stop-color": "#8b7cff",
          "stop-opacity": 0,
        }),
      ),
    ),
    s("path", {
      class: "area",
      d: `${d}L${width},${height}L${pts[0][0]},${height}Z`,
    }),
    s("path", {
      d,
      fill: "none",
      stroke: "#8b7cff",
      "stroke-width": 1.6,
      "vector-effect": "non-scaling-stroke",
    }),
  );
  return svg;
}

// ---------------------------------------------------------------- DAG

const ICONS = {
  source:
    "M3 8c2.5 0 2.5-3 5-3s2.5 3 5 3 2.5-3 5-3M3 14c2.5 0 2.5-3 5-3s2.5 3 5 3 2.5-3 5-3M3 20c2.5 0 2.5-3 5-3s2.5 3 5 3 2.5-3 5-3",
  extract: "M4 5h16l-6 7v6l-4 2v-8z",
  debounce: "M3 12h4l2-5 4 10 2-5h6",
  window: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 7v5l3 2",
  aggregate: "M17 5H7l6 7-6 7h10",
  store:
    "M4 6c0-1.7 3.6-3 8-3s8 1.3 8 3-3.6 3-8 3-8-1.3-8-3zM4 6v12c0 1.7 3.6 3 8 3s8-1.3 8-3V6M4 12c0 1.7 3.6 3 8 3s8-1.3 8-3",
  cache: "M13 2 4 14h7l-1 8 9-12h-7z",
};

function drawDag(dag, flowing, available = 1200) {
  const nodes = dag?.nodes ?? [];
  const edges = dag?.edges ?? [];
  const H = 66;
  const GAP = 30;
  const PAD = 4;
  const layer = new Map(nodes.map((n) => [n.id, 0]));
  for (let i = 0; i < nodes.length; i++) {
    for (const e of edges) {
      const next = (layer.get(e.from) ?? 0) + 1;
      if (next > (layer.get(e.to) ?? 0)) layer.set(e.to, next);
    }
  }
  const layers = [];
  for (const n of nodes) {
    const l = layer.get(n.id) ?? 0;
    (layers[l] ??= []).push(n);
  }
  const tallest = Math.max(1, ...layers.map((l) => l?.length ?? 0));
  const W = Math.max(
    150,
    Math.min(
      230,
      (available - 2 * PAD - (layers.length - 1) * GAP) /
        Math.max(1, layers.length),
    ),
  );
  const chars = Math.floor((W - 52) / 7.3);
  const width = PAD * 2 + layers.length * W +
    Math.max(0, layers.length - 1) * GAP;
  const height = PAD * 2 + tallest * H + (tallest - 1) * 20;
  const pos = new Map();
  layers.forEach((list, l) => {
    const total = list.length * H + (list.length - 1) * 20;
    list.forEach((n, i) => {
      pos.set(n.id, {
        x: PAD + l * (W + GAP),
        y: (height - total) / 2 + i * (H + 20),
      });
    });
  });
  const svg = s("svg", {
    class: `dag${flowing ? " flowing" : ""}`,
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": "pipeline DAG",
    "data-nodes": nodes.length,
  });
  svg.append(
    s(
      "defs",
      {},
      s(
        "marker",
        {
          id: "arrow",
          viewBox: "0 0 10 10",
          refX: 9,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: "auto",
        },
        s("path", { d: "M0 0L10 5L0 10z" }),
      ),
    ),
  );
  for (const e of edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + W;
    const y1 = a.y + H / 2;
    const x2 = b.x - 2;
    const y2 = b.y + H / 2;
    const mid = (x1 + x2) / 2;
    const d = `M${x1},${y1}C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
    svg.append(
      s("path", { class: "edge", d, "marker-end": "url(#arrow)" }),
      s("path", { class: "flow", d }),
    );
  }
  for (const n of nodes) {
    const p = pos.get(n.id);
    const g = s("g", {
      class: "node",
      transform: `translate(${p.x},${p.y})`,
      "data-kind": n.kind,
      "data-id": n.id,
    });
    g.append(
      s("title", {}, `${n.kind}: ${n.label}${n.detail ? `\n${n.detail}` : ""}`),
      s("rect", { class: "box", width: W, height: H, rx: 10 }),
      s("rect", {
        class: "stripe",
        x: 0,
        y: 12,
        width: 3,
        height: H - 24,
        rx: 1.5,
      }),
      s("path", {
        class: "icon",
        d: ICONS[n.kind] ?? ICONS.aggregate,
        transform: `translate(13,${H / 2 - 12})`,
      }),
      s("text", { class: "kind", x: 46, y: 22 }, n.kind),
      s(
        "text",
        { class: "label", x: 46, y: 40 },
        ...wrap(n.label || n.id, chars).map((line, i) =>
          s("tspan", { x: 46, dy: i === 0 ? 0 : 15 }, line)
        ),
      ),
    );
    svg.append(g);
  }
  return svg;
}

// ---------------------------------------------------------------- pages

const main = document.getElementById("main");
let cleanup = () => {};

function statusOf(info, latest) {
  if (!info.online) return ["dot-idle", "offline"];
  if (latest && (Number(latest.errors) > 0 || Number(latest.deadLetters) > 0)) {
    return ["dot-warn", "errors"];
  }
  if (latest && Number(latest.eventsPerSecond) > 0) {
    return ["dot-good", "flowing"];
  }
  return ["dot-idle", "idle"];
}

function errorPanel(error) {
  return h(
    "div",
    { class: "empty" },
    h(
      "h2",
      {},
      error.code === "not_found" ? "Not found" : "Something went wrong",
    ),
    h("p", {}, error.message || String(error)),
  );
}

async function pipelinesPage() {
  const controller = new AbortController();
  const search = h("input", {
    type: "search",
    placeholder: "Filter pipelines…",
    "aria-label": "filter",
  });
  const summary = h("div", { class: "summary" });
  const cards = h("div", { class: "cards", id: "pipeline-cards" });
  const sub = h("div", { class: "sub" }, "loading…");
  main.replaceChildren(
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", {}, "Pipelines"), sub),
      h("div", { class: "toolbar" }, search),
    ),
    summary,
    cards,
  );
  let pipelines = [];

  const tile = (label, value, unit, foot) =>
    h(
      "div",
      { class: "tile" },
      h("div", { class: "label" }, label),
      h("div", { class: "value" }, value, unit ? h("small", {}, unit) : null),
      foot ? h("div", { class: "foot" }, foot) : null,
    );

  const render = () => {
    const query = search.value.trim().toLowerCase();
    const shown = pipelines.filter((p) =>
      query === "" ||
      [p.name, p.monoidKind, p.store, p.cache, p.source, p.worker].join(" ")
        .toLowerCase().includes(query)
    );
    const latest = pipelines.map((p) => hub.latest(p.name)).filter(Boolean);
    const rate = latest.reduce(
      (sum, m) => sum + Number(m.eventsPerSecond || 0),
      0,
    );
    const errors = latest.reduce((sum, m) => sum + Number(m.errors || 0), 0);
    const dead = latest.reduce((sum, m) => sum + Number(m.deadLetters || 0), 0);
    const workers = new Set(pipelines.flatMap((p) => p.worker.split(", ")));
    sub.textContent = `${pipelines.length} pipeline${
      pipelines.length === 1 ? "" : "s"
    } · ${workers.size} process${workers.size === 1 ? "" : "es"}`;
    summary.replaceChildren(
      tile(
        "Pipelines",
        fmtInt(pipelines.length),
        "",
        `${pipelines.filter((p) => p.online).length} online`,
      ),
      tile("Throughput", fmtRate(rate), "events/s", "across all pipelines"),
      tile("Errors", fmtInt(errors), "", "since start"),
      tile("Dead letters", fmtInt(dead), "", "records set aside"),
    );
    if (pipelines.length === 0) {
      cards.replaceChildren(
        h(
          "div",
          { class: "empty" },
          h("h2", {}, "No pipelines yet"),
          h(
            "p",
            {},
            "Serve pipelines from this process, or start a worker that registers with this server.",
          ),
        ),
      );
      return;
    }
    cards.replaceChildren(...shown.map((p) => {
      const m = hub.latest(p.name);
      const [dot, status] = statusOf(p, m);
      const series = (hub.series.get(p.name) ?? []).map((x) =>
        Number(x.eventsPerSecond || 0)
      );
      return h(
        "a",
        {
          class: "card",
          href: `#/pipelines/${encodeURIComponent(p.name)}`,
          "data-pipeline": p.name,
        },
        h(
          "div",
          { class: "card-head" },
          h("span", { class: `dot ${dot}`, title: status }),
          h("span", { class: "card-title" }, p.name),
          h(
            "span",
            { class: "worker" },
            p.worker === "local" ? "this process" : p.worker,
          ),
        ),
        h(
          "div",
          { class: "badges" },
          h("span", { class: "badge kind" }, p.monoidName || p.monoidKind),
          h("span", { class: "badge" }, windowText(p.window)),
          h("span", { class: "badge" }, h("b", {}, "store"), p.store),
          p.cache
            ? h("span", { class: "badge" }, h("b", {}, "cache"), p.cache)
            : null,
          p.source
            ? h("span", { class: "badge" }, h("b", {}, "source"), p.source)
            : null,
        ),
        m
          ? sparkline(series)
          : h("div", { class: "spark-empty" }, "no metrics reported yet"),
        h(
          "div",
          { class: "card-stats" },
          stat("events/s", fmtRate(m?.eventsPerSecond)),
          stat("total", fmtInt(m?.eventsIn)),
          stat("merge p99", fmtMs(m?.mergeLatencyMs?.p99)),
          stat("errors", fmtInt(m?.errors), Number(m?.errors) > 0),
        ),
      );
    }));
  };

  const load = async () => {
    try {
      const res = await authed(() =>
        call("ListPipelines", {}, controller.signal)
      );
      pipelines = res.pipelines ?? [];
      render();
    } catch (error) {
      if (error.name !== "AbortError") cards.replaceChildren(errorPanel(error));
    }
  };
  await load();
  search.addEventListener("input", render);
  const unsubscribe = hub.subscribe(render);
  const timer = setInterval(load, 5000);
  return () => {
    controller.abort();
    clearInterval(timer);
    unsubscribe();
  };
}

function stat(k, v, bad) {
  return h(
    "div",
    { class: "stat" },
    h("div", { class: "k" }, k),
    h("div", { class: `v${bad ? " bad" : ""}` }, v),
  );
}

async function pipelinePage(name) {
  const controller = new AbortController();
  main.replaceChildren(h("div", { class: "result-empty" }, "loading…"));
  let description;
  try {
    description = (await authed(() =>
      call("DescribePipeline", { name }, controller.signal)
    )).pipeline;
  } catch (error) {
    main.replaceChildren(errorPanel(error));
    return () => controller.abort();
  }
  const info = description.info;
  const tiles = h("div", { class: "tiles" });
  const dagHolder = h("div", { class: "dag-wrap", id: "dag" });
  const throughput = s("svg", {
    class: "chart",
    id: "chart-throughput",
    "data-points": 0,
  });
  const latency = s("svg", {
    class: "chart",
    id: "chart-latency",
    "data-points": 0,
  });
  const readoutRate = h("span", { class: "chart-readout" });
  const readoutLatency = h("span", { class: "chart-readout" });
  const details = h("table", { class: "kv" });
  const statusBadge = h("span", { class: "badge" });

  main.replaceChildren(
    h(
      "div",
      { class: "page-head" },
      h(
        "div",
        {},
        h(
          "div",
          { class: "crumbs" },
          h("a", { href: "#/" }, "Pipelines"),
          " / ",
          name,
        ),
        h(
          "div",
          { class: "title-row" },
          h("h1", { class: "mono" }, name),
          h(
            "span",
            { class: "badge kind" },
            info.monoidName || info.monoidKind,
          ),
          h("span", { class: "badge" }, windowText(info.window)),
          statusBadge,
        ),
      ),
      h("a", {
        class: "button",
        href: `#/query?pipeline=${encodeURIComponent(name)}`,
      }, "Query this pipeline"),
    ),
    tiles,
    h(
      "div",
      { class: "panel", style: "margin-bottom:16px" },
      h(
        "div",
        { class: "panel-head" },
        h("h2", {}, "Data flow"),
        h(
          "span",
          { class: "hint" },
          "source → extract → window → aggregate → store / cache",
        ),
      ),
      dagHolder,
    ),
    h(
      "div",
      { class: "grid two", style: "margin-bottom:16px" },
      h(
        "div",
        { class: "panel" },
        h(
          "div",
          { class: "panel-head" },
          h("h2", {}, "Throughput"),
          h(
            "div",
            { class: "legend" },
            h("span", {}, h("i", { style: "background:#8b7cff" }), "events/s"),
            h("span", {}, h("i", { style: "background:#5eead4" }), "merges/s"),
          ),
        ),
        throughput,
        readoutRate,
      ),
      h(
        "div",
        { class: "panel" },
        h(
          "div",
          { class: "panel-head" },
          h("h2", {}, "Store merge latency"),
          h(
            "div",
            { class: "legend" },
            h("span", {}, h("i", { style: "background:var(--p50)" }), "p50"),
            h("span", {}, h("i", { style: "background:var(--p95)" }), "p95"),
            h("span", {}, h("i", { style: "background:var(--p99)" }), "p99"),
          ),
        ),
        latency,
        readoutLatency,
      ),
    ),
    h(
      "div",
      { class: "grid two" },
      h(
        "div",
        { class: "panel" },
        h("div", { class: "panel-head" }, h("h2", {}, "Pipeline")),
        details,
      ),
      h(
        "div",
        { class: "panel" },
        h(
          "div",
          { class: "panel-head" },
          h("h2", {}, "Quick query"),
          h("span", { class: "hint" }, "typed answer"),
        ),
        quickQuery(info),
      ),
    ),
  );

  const tile = (label, value, foot, bad) =>
    h(
      "div",
      { class: "tile" },
      h("div", { class: "label" }, label),
      h(
        "div",
        { class: "value", style: bad ? "color:var(--bad)" : undefined },
        value,
      ),
      h("div", { class: "foot" }, foot),
    );

  let flowing;
  const update = () => {
    const series = hub.series.get(name) ?? [];
    const m = series[series.length - 1];
    const [dot, status] = statusOf(info, m);
    statusBadge.className = `badge ${
      dot === "dot-good" ? "good" : dot === "dot-warn" ? "warn" : ""
    }`;
    statusBadge.replaceChildren(h("span", { class: `dot ${dot}` }), status);
    tiles.replaceChildren(
      tile(
        "Events / s",
        fmtRate(m?.eventsPerSecond),
        `${fmtInt(m?.eventsIn)} total`,
      ),
      tile(
        "Merges / s",
        fmtRate(m?.mergesPerSecond),
        `${fmtInt(m?.merges)} total`,
      ),
      tile(
        "Merge p99",
        fmtMs(m?.mergeLatencyMs?.p99),
        `p50 ${fmtMs(m?.mergeLatencyMs?.p50).replace(" ms", "")} · p95 ${
          fmtMs(m?.mergeLatencyMs?.p95)
        }`,
      ),
      tile(
        "Errors",
        fmtInt(m?.errors),
        `${fmtInt(m?.retries)} retries`,
        Number(m?.errors) > 0,
      ),
      tile(
        "Dead letters",
        fmtInt(m?.deadLetters),
        `${fmtInt(m?.dedupSkips)} dedup skips`,
        Number(m?.deadLetters) > 0,
      ),
      tile(
        "Lag",
        m?.lagMs === undefined || m?.lagMs === null ? "—" : fmtMs(m.lagMs),
        m?.lastEventAtMs
          ? `last event ${fmtAgo(m.lastEventAtMs)}`
          : "no events yet",
      ),
    );
    const isFlowing = Number(m?.eventsPerSecond) > 0;
    if (isFlowing !== flowing) {
      flowing = isFlowing;
      dagHolder.replaceChildren(
        drawDag(description.dag, flowing, dagHolder.clientWidth),
      );
    }
    const t = (x) => Number(x.atMs);
    drawChart(throughput, [
      {
        name: "events",
        color: "#8b7cff",
        area: true,
        values: series.map((x) => [t(x), Number(x.eventsPerSecond || 0)]),
      },
      {
        name: "merges",
        color: "#5eead4",
        values: series.map((x) => [t(x), Number(x.mergesPerSecond || 0)]),
      },
    ]);
    drawChart(latency, [
      {
        name: "p50",
        color: "#5eead4",
        values: series.map((x) => [t(x), Number(x.mergeLatencyMs?.p50 || 0)]),
      },
      {
        name: "p95",
        color: "#8b7cff",
        values: series.map((x) => [t(x), Number(x.mergeLatencyMs?.p95 || 0)]),
      },
      {
        name: "p99",
        color: "#f472b6",
        area: true,
        values: series.map((x) => [t(x), Number(x.mergeLatencyMs?.p99 || 0)]),
      },
    ], { format: (v) => fmtMs(v).replace(" ms", "") });
    readoutRate.textContent = m
      ? `now ${fmtRate(m.eventsPerSecond)} events/s · peak ${
        fmtRate(Math.max(...series.map((x) => Number(x.eventsPerSecond || 0))))
      } over the window`
      : "";
    readoutLatency.textContent = m
      ? `milliseconds · ${fmtInt(m.merges)} merges sampled since start`
      : "";
    details.replaceChildren(
      ...[
        ["Monoid", `${info.monoidName} (${info.monoidKind})`],
        ["Window", windowText(info.window)],
        ["Source", info.source || "external"],
        ["Store", info.store],
        ["Cache", info.cache || "none"],
        ["Runs in", info.worker === "local" ? "this process" : info.worker],
        [
          "Flush size p50 / p99",
          m
            ? `${fmtNumber(m.flushSize?.p50 ?? 0)} / ${
              fmtNumber(m.flushSize?.p99 ?? 0)
            }`
            : "—",
        ],
        [
          "Uptime",
          m ? fmtDuration(Math.round(Number(m.uptimeMs) / 1000) * 1000) : "—",
        ],
        ["Last error", m?.lastError || "none"],
      ].map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, v))),
    );
  };
  update();
  const unsubscribe = hub.subscribe(update);
  const onResize = debounce(() => {
    flowing = undefined;
    update();
  }, 100);
  addEventListener("resize", onResize);
  return () => {
    controller.abort();
    unsubscribe();
    removeEventListener("resize", onResize);
  };
}

// ---------------------------------------------------------------- query console

function isoLocal(ms) {
  const d = new Date(ms);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString()
    .slice(0, 16);
}

function queryForm(pipelines, preset, onResult) {
  const byName = new Map(pipelines.map((p) => [p.name, p]));
  const select = h(
    "select",
    { name: "pipeline", id: "q-pipeline" },
    ...pipelines.map((p) =>
      h(
        "option",
        { value: p.name, selected: p.name === preset.pipeline },
        p.name,
      )
    ),
  );
  const entity = h("input", {
    name: "entity",
    id: "q-entity",
    placeholder: "e.g. post:42",
    value: preset.entity ?? "",
    spellcheck: "false",
    autocomplete: "off",
  });
  const modes = ["all-time", "last", "range"];
  let mode = preset.mode ?? "all-time";
  const modeButtons = modes.map((m) =>
    h(
      "button",
      { type: "button", "data-mode": m, "aria-pressed": String(m === mode) },
      {
        "all-time": "All-time",
        last: "Last N",
        range: "Range",
      }[m],
    )
  );
  const last = h("input", {
    type: "number",
    min: 1,
    value: preset.last ?? 7,
    id: "q-last",
  });
  const lastUnit = h("span", { class: "help" });
  const start = h("input", {
    type: "datetime-local",
    id: "q-start",
    value: isoLocal(Date.now() - 7 * 86_400_000),
  });
  const end = h("input", {
    type: "datetime-local",
    id: "q-end",
    value: isoLocal(Date.now() + 60_000),
  });
  const probe = h("input", {
    id: "q-probe",
    placeholder: "item to test, e.g. device-123",
    spellcheck: "false",
  });
  const top = h("input", {
    type: "number",
    min: 1,
    id: "q-top",
    placeholder: "the pipeline's own count",
  });
  const fresh = h("input", { type: "checkbox", id: "q-fresh" });
  const run = h("button", {
    type: "submit",
    class: "button primary",
    id: "q-run",
  }, "Run query");
  const error = h("p", { class: "error", hidden: true });
  const lastField = h(
    "label",
    { class: "field" },
    h("span", {}, "Buckets"),
    last,
    lastUnit,
  );
  const rangeField = h(
    "div",
    { class: "row" },
    h("label", { class: "field" }, h("span", {}, "From"), start),
    h("label", { class: "field" }, h("span", {}, "Until (exclusive)"), end),
  );
  const probeField = h(
    "label",
    { class: "field" },
    h("span", {}, "Probe item"),
    probe,
  );
  const topField = h(
    "label",
    { class: "field" },
    h("span", {}, "Entries"),
    top,
    h("span", { class: "help" }, "how many of the heaviest items to show"),
  );

  const sync = () => {
    const p = byName.get(select.value);
    const windowed = Boolean(p?.window);
    if (!windowed) mode = "all-time";
    else if (mode === "all-time") mode = "last";
    for (const b of modeButtons) {
      b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
      b.disabled = windowed
        ? b.dataset.mode === "all-time"
        : b.dataset.mode !== "all-time";
    }
    lastField.hidden = mode !== "last";
    rangeField.hidden = mode !== "range";
    probeField.hidden = p?.monoidKind !== "bloom";
    topField.hidden = p?.monoidKind !== "topk";
    lastUnit.textContent = windowed
      ? `${p.window.granularity} buckets, the current one included`
      : "";
  };
  for (const b of modeButtons) {
    b.addEventListener("click", () => {
      mode = b.dataset.mode;
      sync();
    });
  }
  select.addEventListener("change", sync);
  sync();

  const form = h(
    "form",
    { class: "form", id: "query-form" },
    h("label", { class: "field" }, h("span", {}, "Pipeline"), select),
    h("label", { class: "field" }, h("span", {}, "Entity"), entity),
    h(
      "div",
      { class: "field" },
      h("span", {}, "Covering"),
      h("div", { class: "segmented" }, modeButtons),
    ),
    lastField,
    rangeField,
    probeField,
    topField,
    h("label", { class: "check" }, fresh, "Fresh read (skip the cache)"),
    error,
    run,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const request = {
      pipeline: select.value,
      entity: entity.value.trim(),
      freshRead: fresh.checked,
    };
    if (mode === "last") request.window = { last: Number(last.value) };
    if (mode === "range") {
      request.range = {
        startMs: String(new Date(start.value).getTime()),
        endMs: String(new Date(end.value).getTime()),
      };
    }
    if (!probeField.hidden && probe.value.trim() !== "") {
      request.probes = [probe.value.trim()];
    }
    if (!topField.hidden && top.value.trim() !== "") {
      request.top = Number(top.value);
    }
    run.disabled = true;
    run.textContent = "Running…";
    try {
      const res = await authed(() => call("Query", request));
      onResult(res, byName.get(select.value), request);
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
      onResult(undefined);
    } finally {
      run.disabled = false;
      run.textContent = "Run query";
    }
  });
  return form;
}

function base64ToHex(b64) {
  if (!b64) return "";
  const bin = atob(b64);
  const out = [];
  for (let i = 0; i < Math.min(bin.length, 512); i++) {
    out.push(bin.charCodeAt(i).toString(16).padStart(2, "0"));
  }
  return out.join(" ") + (bin.length > 512 ? ` … (${bin.length} bytes)` : "");
}

function renderAnswer(res) {
  const a = res.answer ?? {};
  const v = a.value ?? {};
  const present = a.present === true;
  const body = [];
  if (v.number !== undefined || v.integer !== undefined) {
    const n = v.number ?? v.integer;
    body.push(
      h("div", {
        class: `big${present ? "" : " absent"}`,
        id: "answer-value",
        "data-value": String(n),
      }, fmtNumber(n)),
      h(
        "div",
        { class: "big-sub" },
        present
          ? `${a.pipeline} · ${a.entity}`
          : `no data for ${a.entity} — the ${a.kind} identity is shown`,
      ),
    );
  } else if (v.cardinality) {
    const c = v.cardinality;
    const est = Number(c.estimate);
    const lo = Number(c.lower);
    const hi = Number(c.upper);
    const span = Math.max(hi * 1.15, 1);
    body.push(
      h(
        "div",
        {
          class: `big${present ? "" : " absent"}`,
          id: "answer-value",
          "data-value": String(est),
        },
        "≈ ",
        fmtInt(est),
      ),
      h(
        "div",
        { class: "big-sub" },
        `distinct · ${Math.round(Number(c.confidence) * 100)}% interval ${
          fmtInt(lo)
        } – ${fmtInt(hi)}`,
      ),
      h(
        "div",
        { class: "interval" },
        h("div", {
          class: "band",
          style: `left:${(lo / span) * 100}%;width:${
            ((hi - lo) / span) * 100
          }%`,
        }),
        h("div", {
          class: "point",
          style: `left:calc(${(est / span) * 100}% - 1px)`,
        }),
      ),
      h(
        "div",
        { class: "interval-labels" },
        h("span", {}, "0"),
        h("span", {}, fmtInt(span)),
      ),
    );
  } else if (v.topK) {
    const entries = v.topK.entries ?? [];
    const max = Math.max(1, ...entries.map((e) => Number(e.count)));
    body.push(
      h(
        "div",
        { class: "big-sub", style: "margin-bottom:12px" },
        `top ${entries.length} of K=${v.topK.k}`,
      ),
      entries.length === 0 ? h("div", { class: "big absent" }, "empty") : h(
        "div",
        { class: "topk", id: "answer-topk" },
        ...entries.map((e, i) =>
          h(
            "div",
            { class: "topk-row", "data-key": e.key },
            h("span", { class: "rank" }, i + 1),
            h("span", { class: "key", title: e.key }, e.key),
            h(
              "div",
              {},
              h("div", {
                class: "bar",
                style: `width:${(Number(e.count) / max) * 100}%`,
              }),
            ),
            h("span", { class: "count" }, fmtInt(e.count)),
          )
        ),
      ),
    );
  } else if (v.bloom) {
    const b = v.bloom;
    const probes = b.probes ?? [];
    body.push(
      probes.length === 0
        ? h("div", { class: "big-sub" }, "add a probe item to test membership")
        : h(
          "div",
          { class: "probes", id: "answer-probes" },
          ...probes.map((p) =>
            h(
              "div",
              { class: "probe", "data-member": String(p.mightContain) },
              h("span", {
                class: `dot ${p.mightContain ? "dot-good" : "dot-bad"}`,
              }),
              p.item,
              h(
                "span",
                { class: "muted" },
                p.mightContain ? "probably present" : "definitely absent",
              ),
            )
          ),
        ),
      h(
        "div",
        { class: "big-sub", style: "margin-top:12px" },
        `${fmtInt(b.bits)} bits · ${b.hashes} hashes · ≈${
          fmtInt(b.estimatedItems)
        } items`,
      ),
    );
  } else if (v.json !== undefined) {
    body.push(
      h(
        "pre",
        { class: "mono", id: "answer-value" },
        JSON.stringify(JSON.parse(v.json), null, 2),
      ),
    );
  } else {
    body.push(
      h(
        "div",
        { class: "big absent", id: "answer-value", "data-value": "" },
        "—",
      ),
      h(
        "div",
        { class: "big-sub" },
        `no value: a ${a.kind} with no data has nothing to show, not even a zero`,
      ),
    );
  }
  const cov = a.coverage ?? {};
  const buckets = (cov.buckets ?? []).map(Number);
  const on = new Set((cov.presentBuckets ?? []).map(Number));
  const coverage = cov.allTime
    ? "all-time value"
    : `${buckets.length} ${cov.granularity} bucket${
      buckets.length === 1 ? "" : "s"
    }`;
  const stats = a.stats ?? {};
  return h(
    "div",
    { id: "answer", "data-present": String(present) },
    h(
      "div",
      { class: "answer-head" },
      h("span", { class: "badge kind" }, a.kind),
      present
        ? h("span", { class: "badge good" }, "data present")
        : h("span", { class: "badge warn" }, "no data"),
      h("span", { class: "badge" }, coverage),
      stats.coalesced ? h("span", { class: "badge" }, "coalesced") : null,
    ),
    body,
    h(
      "div",
      { class: "meta" },
      meta("Entity", h("span", { class: "mono" }, a.entity)),
      cov.allTime ? null : meta(
        "Interval [start, end)",
        `${fmtTime(cov.startMs, cov.granularity)} → ${
          fmtTime(cov.endMs, cov.granularity)
        }`,
      ),
      cov.allTime || buckets.length > 120 ? null : meta(
        "Buckets with data",
        h(
          "div",
          { class: "buckets" },
          ...buckets.map((b) =>
            h("span", { class: on.has(b) ? "on" : "", title: fmtTime(b) })
          ),
        ),
      ),
      meta(
        "Read",
        `${stats.cacheHits ?? 0} from cache · ${
          stats.storeReads ?? 0
        } from store`,
      ),
      meta("Server time", fmtMs(res.elapsedMs)),
      meta("Format", h("span", { class: "mono" }, a.format)),
    ),
    h(
      "details",
      { class: "raw" },
      h(
        "summary",
        {},
        `Canonical bytes (${a.data ? atob(a.data).length : 0} bytes)`,
      ),
      h("pre", {}, base64ToHex(a.data) || "(empty: no data)"),
    ),
  );
}

function meta(k, v) {
  return h("div", {}, h("div", { class: "k" }, k), h("div", { class: "v" }, v));
}

function quickQuery(info) {
  const result = h(
    "div",
    { class: "result-empty" },
    "Run a query to see the typed answer.",
  );
  const form = queryForm([info], { pipeline: info.name }, (res) => {
    result.replaceChildren(
      res
        ? renderAnswer(res)
        : h("div", { class: "result-empty" }, "no answer"),
    );
    result.className = "";
  });
  return h("div", { class: "grid" }, form, result);
}

async function queryPage(params) {
  const controller = new AbortController();
  main.replaceChildren(h("div", { class: "result-empty" }, "loading…"));
  let pipelines;
  try {
    pipelines = (await authed(() =>
      call("ListPipelines", {}, controller.signal)
    )).pipelines ?? [];
  } catch (error) {
    main.replaceChildren(errorPanel(error));
    return () => controller.abort();
  }
  const queryable = pipelines.filter((p) => p.queryable);
  const result = h(
    "div",
    { class: "panel", id: "query-result" },
    h(
      "div",
      { class: "result-empty" },
      "Pick a pipeline and an entity, then run the query.",
    ),
  );
  const form = queryable.length === 0
    ? h(
      "div",
      { class: "empty" },
      h("h2", {}, "Nothing to query"),
      h("p", {}, "No queryable pipeline is registered."),
    )
    : queryForm(queryable, {
      pipeline: params.get("pipeline") ?? queryable[0].name,
    }, (res) => {
      result.replaceChildren(
        res
          ? renderAnswer(res)
          : h("div", { class: "result-empty" }, "no answer"),
      );
    });
  main.replaceChildren(
    h(
      "div",
      { class: "page-head" },
      h(
        "div",
        {},
        h("h1", {}, "Query console"),
        h(
          "div",
          { class: "sub" },
          "Reads go cache → store; answers carry the typed value and the canonical bytes.",
        ),
      ),
    ),
    h("div", { class: "console" }, h("div", { class: "panel" }, form), result),
  );
  return () => controller.abort();
}

// ---------------------------------------------------------------- router

let routeSeq = 0;

async function route() {
  const seq = ++routeSeq;
  cleanup();
  cleanup = () => {};
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = hash.split("?");
  const params = new URLSearchParams(search);
  for (const a of document.querySelectorAll(".nav a")) {
    const nav = a.dataset.nav;
    a.classList.toggle(
      "active",
      nav === "query" ? path === "/query" : path !== "/query",
    );
  }
  let page;
  if (path === "/query") page = queryPage(params);
  else if (path.startsWith("/pipelines/")) {
    page = pipelinePage(decodeURIComponent(path.slice("/pipelines/".length)));
  } else page = pipelinesPage();
  const current = (await page) ?? (() => {});
  if (seq === routeSeq) cleanup = current;
  else current();
}

addEventListener("hashchange", route);
pollHealth();
setInterval(pollHealth, 5000);
route();
hub.start();
