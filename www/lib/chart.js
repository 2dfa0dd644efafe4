// A small throughput chart on a <canvas>: rows per second over the run. No inline styles (CSP: style-src 'self').

export class ThroughputChart {
  constructor(canvas, { seconds = 120 } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.seconds = seconds;
    this.points = []; // rows/s samples, one a second
    this.peak = 0;
    new ResizeObserver(() => this.draw()).observe(canvas);
  }
  reset() { this.points = []; this.peak = 0; this.draw(); }
  add(rowsPerSec) {
    this.points.push(rowsPerSec);
    if (this.points.length > this.seconds) this.points.shift();
    this.peak = Math.max(this.peak, rowsPerSec);
    this.draw();
  }
  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight;
    if (!w || !h) return;
    if (c.width !== Math.round(w * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
    const g = this.ctx;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const css = getComputedStyle(c);
    const line = css.getPropertyValue("--chart-line").trim() || "#2563a6";
    const fill = css.getPropertyValue("--chart-fill").trim() || "rgba(37,99,166,.12)";
    const grid = css.getPropertyValue("--chart-grid").trim() || "#e3e7ec";
    g.strokeStyle = grid;
    g.lineWidth = 1;
    for (let k = 1; k < 4; k++) {
      const y = Math.round((h * k) / 4) + 0.5;
      g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
    }
    const pts = this.points;
    if (pts.length < 2) return;
    const max = Math.max(1, this.peak) * 1.15;
    const step = w / (this.seconds - 1);
    const x0 = w - (pts.length - 1) * step;
    g.beginPath();
    pts.forEach((v, i) => {
      const x = x0 + i * step, y = h - (v / max) * (h - 4);
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.strokeStyle = line;
    g.lineWidth = 2;
    g.stroke();
    g.lineTo(x0 + (pts.length - 1) * step, h);
    g.lineTo(x0, h);
    g.closePath();
    g.fillStyle = fill;
    g.fill();
  }
}
