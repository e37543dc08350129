// Injected by benchmarks/bench_browser.py into every page before the dashboard loads (its docstring says what
// is measured). All times are performance.now() on the browser's clock, in ms.
(() => {
  const CODES = __CODES__; // ForwardMsg's script_finished field number and its FULL / FRAGMENT statuses
  const B = (window.__bench = { recv: [], sent: [], keys: [], frameTimes: [], closed: 0, visual: 0 });

  const varint = (bytes, i) => {
    let value = 0, shift = 0, byte;
    do {
      byte = bytes[i++];
      value += (byte & 127) * 2 ** shift;
      shift += 7;
    } while (byte & 128 && i < bytes.length);
    return [value, i];
  };
  // the status of a ForwardMsg's script_finished field, or -1 (top-level protobuf fields only)
  function finishedStatus(buffer) {
    const bytes = new Uint8Array(buffer);
    let i = 0, tag, value;
    while (i < bytes.length) {
      [tag, i] = varint(bytes, i);
      const field = Math.floor(tag / 8), wire = tag & 7;
      if (wire === 0) {
        [value, i] = varint(bytes, i);
        if (field === CODES.FIELD) return value;
      } else if (wire === 2) {
        [value, i] = varint(bytes, i);
        i += value;
      } else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else return -1;
    }
    return -1;
  }

  const Native = window.WebSocket;
  class Instrumented extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        const data = event.data, size = data.byteLength ?? data.size ?? data.length;
        B.recv.push([performance.now(), size, data instanceof ArrayBuffer ? finishedStatus(data) : -1]);
      });
      this.addEventListener("close", () => { B.closed += 1; });
    }
    send(data) {
      B.sent.push([performance.now(), data.byteLength ?? data.size ?? data.length]);
      return super.send(data);
    }
  }
  window.WebSocket = Instrumented;
  document.addEventListener("keydown", (e) => { if (e.key.startsWith("Arrow")) B.keys.push(performance.now()); }, true);

  // visual changes: DOM mutations in the main area (any) or in a chart, and chart canvases' pixels
  let mainChanged = false, chartChanged = false;
  const inside = (node, selector) => (node.nodeType === 1 ? node : node.parentElement)?.closest(selector);
  const observer = new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (inside(m.target, '[data-testid="stMain"]')) mainChanged = true;
      if (inside(m.target, ".vega-embed")) chartChanged = true;
    }
  });
  const observe = () => observer.observe(document.body, { subtree: true, childList: true, attributes: true,
                                                          characterData: true });
  if (document.body) observe(); else document.addEventListener("DOMContentLoaded", observe);
  const thumb = document.createElement("canvas");
  thumb.width = 48;
  thumb.height = 24;
  const ctx = thumb.getContext("2d", { willReadFrequently: true });
  let signature = "";
  function canvasSignature() {
    let s = "";
    for (const c of document.querySelectorAll(".vega-embed canvas")) {
      if (!c.width || !c.height) continue;
      ctx.clearRect(0, 0, 48, 24);
      ctx.drawImage(c, 0, 0, 48, 24);
      const d = ctx.getImageData(0, 0, 48, 24).data;
      let h = 0;
      for (let i = 0; i < d.length; i++) h = (h * 31 + d[i]) | 0;
      s += h + ",";
    }
    return s;
  }
  function onFrame() {
    const s = canvasSignature(), now = performance.now();
    if (chartChanged || s !== signature) B.frameTimes.push(now);
    if (mainChanged || chartChanged || s !== signature) B.visual = now;
    mainChanged = chartChanged = false;
    signature = s;
    requestAnimationFrame(onFrame);
  }
  requestAnimationFrame(onFrame);

  const lastRecv = () => (B.recv.length ? B.recv[B.recv.length - 1][0] : 0);
  // wait until (a full run finished after t0, if required and) nothing changed or arrived for quietMs
  B.settle = (t0, quietMs, timeoutMs, requireFull) => new Promise((resolve) => {
    const check = () => {
      const now = performance.now();
      const fin = B.recv.find((r) => r[0] >= t0 && r[2] === CODES.FULL);
      const quiet = now - Math.max(B.visual, lastRecv()) > quietMs;
      if (((fin || !requireFull) && quiet) || now - t0 > timeoutMs) {
        const end = fin ? fin[0] : now;
        const sent = B.sent.filter((s) => s[0] >= t0 && s[0] <= end).sort((a, b) => b[1] - a[1])[0]; // the rerun
        const bytes = B.recv.filter((r) => r[0] >= t0 && r[0] <= end).reduce((a, r) => a + r[1], 0);
        resolve({ key: t0, sent: sent ? sent[0] : null, finished: fin ? fin[0] : null,
                  visual: quiet ? B.visual : null, bytes });
      } else setTimeout(check, 50);
    };
    check();
  });
  // frames drawn over the next ms, and how many of them were server reruns of a fragment
  B.countFrames = (ms) => new Promise((resolve) => {
    const t0 = performance.now();
    setTimeout(() => resolve({ frames: B.frameTimes.filter((t) => t >= t0).length,
                               fragmentRuns: B.recv.filter((r) => r[0] >= t0 && r[2] === CODES.FRAGMENT).length,
                               messages: B.recv.filter((r) => r[0] >= t0).length
                                 + B.sent.filter((r) => r[0] >= t0).length }), ms);
  });
  // press ArrowRight, ArrowLeft, ArrowRight, ... on the element every everyMs (the first after offsetMs), as
  // script events (the slider handles keydown itself), so the moves keep their schedule however busy the
  // benchmark's driver is; each press is marked like a real one
  B.autoMove = (selector, offsetMs, everyMs, count) => {
    let n = 0;
    const move = () => {
      const input = document.querySelector(selector);
      if (input) {
        const key = n % 2 === 0 ? "ArrowRight" : "ArrowLeft";
        input.focus();
        for (const type of ["keydown", "keyup"])
          input.dispatchEvent(new KeyboardEvent(type, { key, code: key, bubbles: true, cancelable: true }));
      } else B.missingInput = (B.missingInput || 0) + 1;
      n += 1;
      if (n < count) setTimeout(move, everyMs);
    };
    setTimeout(move, offsetMs);
  };
  // per key press after t0: key -> the next full run's script_finished; frames drawn in [t0, t0 + windowMs]
  B.summary = (t0, windowMs, timeoutMs) => {
    const now = performance.now(), latencies = [];
    let missing = 0, pending = 0;
    for (const k of B.keys.filter((key) => key >= t0)) {
      const fin = B.recv.find((r) => r[0] >= k && r[2] === CODES.FULL);
      if (fin && fin[0] - k <= timeoutMs) latencies.push(fin[0] - k);
      else if (now - k < timeoutMs) pending += 1;
      else missing += 1;
    }
    const frames = B.frameTimes.filter((t) => t >= t0 && t <= t0 + windowMs).length;
    return { latencies, missing, pending, frames, closed: B.closed, missingInput: B.missingInput || 0 };
  };
})();
