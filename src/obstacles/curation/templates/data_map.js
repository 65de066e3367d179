// The data map: an SVG scatter of the t-SNE points, coloured by a switchable field; hovering a
// point shows its image and details, a click pins them. Self-contained; every text goes in through
// textContent, every image link was made (percent-encoded) by the page's writer.
(() => {
  "use strict";
  const DATA = JSON.parse(document.getElementById("map-data").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                   "#7f7f7f", "#bcbd22", "#17becf"];
  const points = DATA.points;
  const $ = (id) => document.getElementById(id);
  let pinned = null;

  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const size = DATA.size, pad = DATA.radius * 2;
  const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (size - 2 * pad);
  const sy = (y) => size - pad - ((y - y0) / (y1 - y0 || 1)) * (size - 2 * pad);

  function ramp(t) {  // dark blue -> yellow, for loss and scores
    const c = Math.max(0, Math.min(1, t));
    return `rgb(${Math.round(40 + 215 * c)}, ${Math.round(40 + 180 * c)}, ${Math.round(140 - 110 * c)})`;
  }

  function colours(field) {
    const values = points.map((p) => p[field]);
    if (DATA.continuous.includes(field)) {
      const known = values.filter((v) => v !== null);
      const hi = Math.max(...known, 1e-9), lo = Math.min(...known, 0);
      return { colour: values.map((v) => (v === null ? "#cccccc" : ramp((v - lo) / (hi - lo || 1)))),
               legend: [[`${lo.toFixed(2)}`, ramp(0)], [`${hi.toFixed(2)}`, ramp(1)], ["none", "#cccccc"]] };
    }
    const names = [...new Set(values.map(String))].sort();
    const of = new Map(names.map((n, k) => [n, PALETTE[k % PALETTE.length]]));
    return { colour: values.map((v) => of.get(String(v))), legend: names.map((n) => [n, of.get(n)]) };
  }

  function show(p) {
    const image = document.createElement("img");
    image.alt = "";
    image.src = p.src;
    $("preview-image").replaceChildren(image);
    $("preview-text").textContent = DATA.fields.map((f) => `${f}: ${p[f] === null ? "none" : p[f]}`).join("\n");
  }

  function draw() {
    const field = $("colour-by").value;
    const { colour, legend } = colours(field);
    const svg = $("scatter");
    svg.replaceChildren();
    points.forEach((p, k) => {
      const dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("cx", sx(p.x));
      dot.setAttribute("cy", sy(p.y));
      dot.setAttribute("r", DATA.radius);
      dot.setAttribute("fill", colour[k]);
      const title = document.createElementNS(SVG, "title");
      title.textContent = p.path;
      dot.appendChild(title);
      dot.addEventListener("mouseenter", () => { if (pinned === null) show(p); });
      dot.addEventListener("click", () => { pinned = pinned === k ? null : k; show(p); });
      svg.appendChild(dot);
    });
    const box = $("legend");
    box.replaceChildren();
    legend.forEach(([name, c]) => {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = c;
      item.append(swatch, document.createTextNode(name));
      box.appendChild(item);
    });
  }

  $("scatter").setAttribute("viewBox", `0 0 ${size} ${size}`);
  $("scatter").setAttribute("width", size);
  $("scatter").setAttribute("height", size);
  DATA.colour_by.forEach((f) => $("colour-by").add(new Option(f, f)));
  $("colour-by").addEventListener("change", draw);
  draw();
})();
