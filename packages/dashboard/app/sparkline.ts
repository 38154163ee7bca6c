// A tiny SVG line of the last samples (attributes only: no inline style,
// which the page's Content-Security-Policy forbids).
const NS = "http://www.w3.org/2000/svg";
const W = 100;
const H = 24;

export function sparkline(values: readonly number[], label: string, max?: number): SVGSVGElement {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const top = Math.max(max ?? 0, ...values, 1e-9);
  const step = values.length > 1 ? W / (values.length - 1) : W;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(H - 1 - (v / top) * (H - 2)).toFixed(1)}`);
  if (points.length === 1) points.push(`${W},${points[0]!.split(",")[1]}`);
  const line = document.createElementNS(NS, "polyline");
  line.setAttribute("points", points.join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.appendChild(line);
  return svg;
}
