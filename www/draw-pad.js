/**
 * @module draw-pad
 * The demo pages' drawing canvas: thick white strokes on black, the way MNIST digits look.
 */

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

/**
 * Lets the pointer draw on `pad`; `onStroke` runs after each segment, `onStrokeEnd` when the
 * pointer lifts.
 * @param {HTMLCanvasElement} pad
 * @param {CanvasRenderingContext2D} ctx
 * @param {{ onStroke?: () => void, onStrokeEnd: () => void }} handlers
 */
export function attachDrawing(pad, ctx, { onStroke, onStrokeEnd }) {
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
}
