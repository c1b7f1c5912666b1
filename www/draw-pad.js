/**
 * @module draw-pad
 * The demo's drawing canvas: thick white strokes on black, the way MNIST digits look. Drawn
 * with a pointer, or from the keyboard (arrows draw from a visible pen, Shift+arrows move it,
 * Enter classifies, Delete/Backspace clears), and sample digits for tests and for anyone who
 * cannot draw.
 */

/** Strokes (canvas pixels on 280x280) of sample digits, for the buttons and for tests. */
export const SAMPLES = /** @type {Record<string, number[][][]>} */ ({
  1: [[[140, 40], [140, 240]]],
  7: [[[70, 50], [210, 50], [120, 240]]],
  0: [[[140, 40], [200, 80], [215, 140], [200, 200], [140, 240], [80, 200], [65, 140], [80, 80], [140, 40]]],
});

/**
 * Draws strokes (lists of [x, y] points in canvas pixels).
 * @param {CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D} g
 * @param {number[][][]} strokes
 */
export function drawStrokes(g, strokes) {
  g.strokeStyle = '#fff';
  g.lineWidth = 22;
  g.lineCap = 'round';
  g.lineJoin = 'round';
  for (const stroke of strokes) {
    g.beginPath();
    g.moveTo(stroke[0][0], stroke[0][1]);
    for (const [x, y] of stroke.slice(1)) g.lineTo(x, y);
    g.stroke();
  }
}

/** @param {CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D} g @param {number} w @param {number} h */
export function blank(g, w, h) {
  g.fillStyle = '#000';
  g.fillRect(0, 0, w, h);
}

/** Pen step of one arrow key press, in canvas pixels. */
const STEP = 20;
const ARROWS = /** @type {Record<string, [number, number]>} */ ({
  ArrowUp: [0, -STEP], ArrowDown: [0, STEP], ArrowLeft: [-STEP, 0], ArrowRight: [STEP, 0],
});

/**
 * Lets the pointer and the keyboard draw on `pad`; `onStroke` runs after each segment,
 * `onStrokeEnd` when the pointer lifts or Enter is pressed, `onClear` on Delete/Backspace.
 * `pen` is an element positioned over the pad that shows where keyboard strokes start.
 * @param {HTMLCanvasElement} pad
 * @param {CanvasRenderingContext2D} ctx
 * @param {{ onStroke?: () => void, onStrokeEnd: () => void, onClear?: () => void, pen?: HTMLElement }} handlers
 */
export function attachDrawing(pad, ctx, { onStroke, onStrokeEnd, onClear, pen }) {
  let last = /** @type {{x: number, y: number} | null} */ (null);
  /** @param {PointerEvent} e */
  const point = (e) => {
    const r = pad.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * pad.width) / r.width, y: ((e.clientY - r.top) * pad.height) / r.height };
  };
  pad.addEventListener('pointerdown', (e) => { last = point(e); pad.setPointerCapture(e.pointerId); });
  pad.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = point(e);
    drawStrokes(ctx, [[[last.x, last.y], [p.x, p.y]]]);
    last = p;
    onStroke?.();
  });
  const end = () => { if (last) { last = null; onStrokeEnd(); } };
  pad.addEventListener('pointerup', end);
  pad.addEventListener('pointercancel', end);

  // Keyboard: a pen that starts in the middle; shown only while the pad has focus.
  const at = { x: pad.width / 2, y: pad.height / 2 };
  const showPen = () => {
    if (!pen) return;
    pen.style.left = `${(at.x / pad.width) * 100}%`;
    pen.style.top = `${(at.y / pad.height) * 100}%`;
  };
  pad.addEventListener('focus', () => { if (pen) { pen.hidden = false; showPen(); } });
  pad.addEventListener('blur', () => { if (pen) pen.hidden = true; });
  pad.addEventListener('keydown', (e) => {
    const move = ARROWS[e.key];
    if (move) {
      e.preventDefault();
      const next = { x: Math.min(pad.width - 10, Math.max(10, at.x + move[0])), y: Math.min(pad.height - 10, Math.max(10, at.y + move[1])) };
      if (!e.shiftKey) {
        drawStrokes(ctx, [[[at.x, at.y], [next.x, next.y]]]);
        onStroke?.();
      }
      Object.assign(at, next);
      showPen();
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      onStrokeEnd();
    } else if (e.key === 'Delete' || e.key === 'Backspace') {
      e.preventDefault();
      onClear?.();
    }
  });
}
