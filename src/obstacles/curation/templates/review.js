// Review page: label a site's triage with the keyboard, export labels/<site>.csv.
// Self-contained (no server, no libraries); edits are kept in this browser's localStorage until
// "Reset", so a reload loses nothing. The exported CSV is what the select stage reads.
(() => {
  "use strict";
  const DATA = JSON.parse(document.getElementById("review-data").textContent);
  const CLASSES = ["obstacle", "no_obstacle", "skip"];
  const OPPOSITE_CYCLE = ["", "no_obstacle", "obstacle"];
  const HEADER = ["image", "label", "opposite_label"];
  const items = DATA.items;
  const storageKey = `obstacles-review:${DATA.site}:${DATA.fingerprint}`;
  const label = items.map((it) => it.label);
  const opposite = items.map((it) => it.opposite);
  let view = [];  // item indices in the current filter and order
  let pos = 0;    // position of the current item in view
  let exported = null;
  const cards = new Map();  // item index -> its thumbnail card

  const $ = (id) => document.getElementById(id);
  const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const esc = (text) => String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
  const state = () => JSON.stringify([label, opposite]);
  const edited = (i) => label[i] !== items[i].label || opposite[i] !== items[i].opposite;

  function save() {
    try { localStorage.setItem(storageKey, state()); } catch (e) { /* storage off: edits live in the page only */ }
  }

  function restore() {
    let stored = null;
    try { stored = JSON.parse(localStorage.getItem(storageKey) || "null"); } catch (e) { stored = null; }
    if (!stored || stored[0].length !== items.length) return;
    stored[0].forEach((v, i) => { label[i] = v; });
    stored[1].forEach((v, i) => { opposite[i] = v; });
    const n = items.filter((_, i) => edited(i)).length;
    if (n) showNotice(`${n} edit(s) restored from this browser (Reset discards them).`);
  }

  function showNotice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }

  function csvField(value) {
    return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
  }

  function toCsv() {
    const rows = items.map((it, i) => [it.image, label[i], opposite[i]]);
    rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return [HEADER, ...rows].map((row) => row.map(csvField).join(",")).join("\n") + "\n";
  }

  function exportCsv() {
    const link = $("download");
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([toCsv()], { type: "text/csv" }));
    link.download = `${DATA.site}.csv`;
    link.textContent = `${DATA.site}.csv again`;
    link.hidden = false;
    link.click();
    exported = state();
    updateCounts();
  }

  function panelDiv(src, index, name) {
    const div = document.createElement("div");
    div.className = "panel";
    div.style.backgroundImage = `url("${src}")`;
    div.style.backgroundSize = `${DATA.panels * 100}% 100%`;
    div.style.backgroundPosition = `${DATA.panels > 1 ? (index / (DATA.panels - 1)) * 100 : 0}% 0`;
    const caption = document.createElement("span");
    caption.textContent = name;
    div.appendChild(caption);
    return div;
  }

  function badge(value) {
    return value ? `<span class="badge ${esc(value)}">${esc(value)}</span>` : "none";
  }

  function renderViewer() {
    const i = view[pos];
    const panels = $("panels"), reversed = $("reversed-panels");
    panels.replaceChildren();
    reversed.replaceChildren();
    if (i === undefined) { $("details").innerHTML = "<dt>no image</dt><dd>in this band</dd>"; return; }
    const it = items[i];
    DATA.panel_names.forEach((name, k) => panels.appendChild(panelDiv(it.src, k, name)));
    $("reversed").hidden = !opposite[i];
    if (opposite[i]) {
      reversed.appendChild(panelDiv(it.src, 1, "current (as reference)"));
      reversed.appendChild(panelDiv(it.src, 0, "reference (as current)"));
    }
    const source = edited(i) ? "edited here" : it.source;
    const valued = it.value === undefined ? "" : `
      <dt>current model</dt><dd>${it.model_score.toFixed(4)}</dd>
      <dt>value</dt><dd id="current-value">${it.value.toFixed(3)} = label issue ${it.terms.issue.toFixed(2)}
        + disagreement ${it.terms.disagreement.toFixed(2)} + uncertainty ${it.terms.uncertainty.toFixed(2)}</dd>
      <dt>why here</dt><dd id="current-why">${esc(it.why)}</dd>`;
    $("details").innerHTML = `
      <dt>image</dt><dd>${esc(it.image)} (${pos + 1} of ${view.length})</dd>
      <dt>deployed score</dt><dd>${it.score.toFixed(4)}: ${esc(it.cls)} / ${esc(it.band)}</dd>
      <dt>label</dt><dd id="current-label">${badge(label[i])} <small>(${source})</small></dd>
      <dt>reversed version</dt><dd id="current-opposite">${badge(opposite[i])}</dd>${valued}`;
  }

  function updateCard(i) {
    const card = cards.get(i);
    if (!card) return;
    card.className = `card ${label[i]}` + (edited(i) ? " edited" : "") + (view[pos] === i ? " current" : "");
    card.querySelector(".tag").textContent = `${items[i].score.toFixed(2)}${opposite[i] ? " \u21c4" : ""}`;
  }

  function renderGrid() {
    const grid = $("grid");
    grid.replaceChildren();
    cards.clear();
    view.forEach((i, k) => {
      const card = document.createElement("div");
      cards.set(i, card);
      card.title = items[i].why === undefined ? items[i].image : `${items[i].image}: ${items[i].why}`;
      const image = document.createElement("img");
      image.loading = "lazy";
      image.alt = "";
      image.src = items[i].src;
      const tag = document.createElement("span");
      tag.className = "tag";
      card.append(image, tag);
      card.addEventListener("click", () => select(k));
      grid.appendChild(card);
      updateCard(i);
    });
  }

  function updateCounts() {
    const count = (value) => label.filter((v) => v === value).length;
    const parts = CLASSES.map((c) => `${c} ${count(c)}`);
    parts.push(`reversed ${opposite.filter(Boolean).length}`);
    parts.push(`edited ${items.filter((_, i) => edited(i)).length}`);
    parts.push(exported === state() ? "exported" : "not exported yet");
    $("counts").textContent = parts.join(" \u00b7 ");
  }

  function select(k) {
    const previous = view[pos];
    pos = Math.max(0, Math.min(k, view.length - 1));
    if (previous !== undefined) updateCard(previous);
    if (view[pos] !== undefined) {
      updateCard(view[pos]);
      cards.get(view[pos]).scrollIntoView({ block: "nearest" });
    }
    renderViewer();
  }

  function changed(i) {
    save();
    updateCard(i);
    updateCounts();
    renderViewer();
  }

  function setLabel(value) {
    const i = view[pos];
    if (i === undefined) return;
    label[i] = value;
    changed(i);
    if (DATA.advance) select(pos + 1);
  }

  function cycleOpposite() {
    const i = view[pos];
    if (i === undefined) return;
    opposite[i] = OPPOSITE_CYCLE[(OPPOSITE_CYCLE.indexOf(opposite[i]) + 1) % OPPOSITE_CYCLE.length];
    changed(i);
  }

  function buildView() {
    const band = $("band-filter").value;
    view = items.map((_, i) => i).filter((i) => !band || items[i].band === band);
    const order = $("order").value;
    const byName = (a, b) => (items[a].image < items[b].image ? -1 : items[a].image > items[b].image ? 1 : 0);
    if (order === "time") view.sort(byName);
    else if (order === "value") view.sort((a, b) => items[b].value - items[a].value || byName(a, b));
    else view.sort((a, b) => (order === "score-asc" ? 1 : -1) * (items[a].score - items[b].score) || byName(a, b));
    pos = 0;
    renderGrid();
    select(0);
  }

  function keyHelp() {
    const k = DATA.keys;
    const keys = (list) => [].concat(list).map((key) => `<kbd>${esc(key)}</kbd>`).join("/");
    $("help").innerHTML = [
      `${keys(k.obstacle)} obstacle`, `${keys(k.no_obstacle)} no_obstacle`, `${keys(k.skip)} skip`,
      `${keys(k.opposite)} reversed version: none \u2192 no_obstacle \u2192 obstacle`,
      `${keys(k.previous)} / ${keys(k.next)} move`, `${keys(k.export)} export`,
      `save the export as <code>${esc(DATA.labels_file)}</code>`,
    ].join(" \u00b7 ");
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.target.tagName === "SELECT") return;
    const k = DATA.keys, key = event.key;
    const is = (list) => [].concat(list).includes(key);
    if (is(k.obstacle)) setLabel("obstacle");
    else if (is(k.no_obstacle)) setLabel("no_obstacle");
    else if (is(k.skip)) setLabel("skip");
    else if (is(k.opposite)) cycleOpposite();
    else if (is(k.next)) select(pos + 1);
    else if (is(k.previous)) select(pos - 1);
    else if (is(k.export)) exportCsv();
    else return;
    event.preventDefault();
  }

  function init() {
    document.documentElement.style.setProperty("--view-height", `${DATA.view_height}px`);
    document.documentElement.style.setProperty("--thumb-height", `${DATA.thumb_height}px`);
    if (DATA.order === "value") {  // a page built with order=value opens in that order
      $("order").querySelector('option[value="value"]').hidden = false;
      $("order").value = "value";
    }
    const bands = [...new Set(items.map((it) => it.band))].sort();
    bands.forEach((band) => $("band-filter").add(new Option(band, band)));
    for (const id of ["band-filter", "order"]) {
      $(id).addEventListener("change", (event) => { event.target.blur(); buildView(); });
    }
    $("export").addEventListener("click", (event) => { event.target.blur(); exportCsv(); });
    $("reset").addEventListener("click", (event) => {
      event.target.blur();
      items.forEach((it, i) => { label[i] = it.label; opposite[i] = it.opposite; });
      try { localStorage.removeItem(storageKey); } catch (e) { /* nothing stored */ }
      showNotice("");
      buildView();
      updateCounts();
    });
    document.addEventListener("keydown", onKey);
    window.addEventListener("beforeunload", (event) => {
      if (exported !== state() && items.some((_, i) => edited(i))) event.preventDefault();
    });
    restore();
    keyHelp();
    buildView();
    updateCounts();
    window.reviewCsv = toCsv;  // the export's text, for the console and tests
  }

  init();
})();
