// Hands each server-built figure (JSON in a <script type="application/json"> block) to Plotly, wires
// the table's "select rows -> compare" checkboxes, the scalar view's controls (smoothing, log y,
// x axis), the study view's live refresh, confirmations and readable model metadata. Figures are
// built on the server; only view transforms of their data happen here.
(function () {
  "use strict";

  function draw(root) {
    root.querySelectorAll("[data-figure]").forEach(function (el) {
      var spec = JSON.parse(document.getElementById(el.dataset.figure).textContent);
      el._spec = spec;  // the data as the server sent it: the scalar controls transform copies
      Plotly.newPlot(el, spec.data || [], spec.layout || {}, {responsive: true, displaylogo: false});
    });
  }

  if (window.Plotly) draw(document);

  var compare = document.getElementById("compare-selected");
  if (compare) {
    var update = function () {
      var n = document.querySelectorAll("input.pick:checked").length;
      compare.disabled = n < 2 || n > 10;
      compare.textContent = "Compare (" + n + ")";
    };
    document.querySelectorAll("input.pick").forEach(function (box) { box.addEventListener("change", update); });
    update();
  }

  // A form that changes much asks first (no inline handlers: the page's policy forbids them).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  // ---- scalars: smoothing (exponential moving average, as ClearML's), log y, iteration / wall time x
  function smooth(ys, weight) {
    if (!weight) return ys;
    var out = [], last = null;
    ys.forEach(function (y) {
      if (y === null || y === undefined) { out.push(y); return; }
      last = last === null ? y : last * weight + (1 - weight) * y;
      out.push(last);
    });
    return out;
  }

  function restyle(controls) {
    var weight = parseFloat(controls.querySelector("[name=smoothing]").value) || 0;
    var logY = controls.querySelector("[name=log_y]").checked;
    var wall = controls.querySelector("[name=x_axis]").value === "wall";
    var label = controls.querySelector(".smoothing-value");
    if (label) label.textContent = weight.toFixed(2);
    document.querySelectorAll(".scalars [data-figure]").forEach(function (el) {
      var spec = el._spec;  // scalar charts only (a compare page's scatter of a parameter is not one)
      if (!spec || !(spec.data || []).length || spec.data.some(function (t) { return t.type !== "scatter"; })) return;
      var data = [];
      (spec.data || []).forEach(function (trace) {
        var x = wall && trace.customdata ? trace.customdata.map(function (t) { return t ? new Date(t) : null; }) : trace.x;
        if (weight && (trace.y || []).length > 1) {
          data.push(Object.assign({}, trace, {x: x, opacity: 0.3, showlegend: false, hoverinfo: "skip"}));
          data.push(Object.assign({}, trace, {x: x, y: smooth(trace.y, weight), name: trace.name + " (smoothed)"}));
        } else {
          data.push(Object.assign({}, trace, {x: x}));
        }
      });
      var layout = Object.assign({}, spec.layout, {
        yaxis: Object.assign({}, (spec.layout || {}).yaxis, {type: logY ? "log" : "linear"}),
        xaxis: Object.assign({}, (spec.layout || {}).xaxis, {type: wall ? "date" : "linear",
                                                             title: {text: wall ? "wall time" : "iteration"}})
      });
      Plotly.react(el, data, layout);
    });
  }

  var scalarControls = document.getElementById("scalar-controls");
  if (scalarControls && window.Plotly) {
    scalarControls.querySelectorAll("input, select").forEach(function (input) {
      input.addEventListener("input", function () { restyle(scalarControls); });
      input.addEventListener("change", function () { restyle(scalarControls); });
    });
  }

  // ---- the study view: refresh without a reload while the search is live
  var study = document.getElementById("study");
  if (study) {
    var period = (parseInt(study.dataset.poll, 10) || 3) * 1000;
    var state = document.getElementById("study-state");
    var poll = function () {
      fetch(study.dataset.url + "?since=" + encodeURIComponent(study.dataset.version), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) {
          if (!answer) { if (state) state.textContent = "refresh stopped: reload the page"; return; }
          if (answer.html !== undefined) {
            study.querySelectorAll(".plot").forEach(function (el) { if (window.Plotly) Plotly.purge(el); });
            study.innerHTML = answer.html;  // server-rendered, autoescaped; its JSON blocks never run
            study.dataset.version = answer.version;
            if (window.Plotly) draw(study);
          }
          study.dataset.refreshed = String((parseInt(study.dataset.refreshed, 10) || 0) + 1);
          if (!answer.stoppable) {
            document.querySelectorAll("[data-live-only]").forEach(function (el) { el.hidden = true; });
          }
          if (answer.live) {
            if (state) state.textContent = "live: refreshes every " + period / 1000 + " s";
            window.setTimeout(poll, period);
          } else if (state) {
            state.textContent = "search ended (" + answer.status + ")";
          }
        })
        .catch(function () { if (state) state.textContent = "refresh stopped: reload the page"; });
    };
    if (study.dataset.live === "1") window.setTimeout(poll, period);
  }

  // ---- model metadata: JSON values pretty-printed, epoch times as dates (the raw value in a tooltip)
  document.querySelectorAll("td.meta-value, pre.json").forEach(function (el) {
    var raw = el.textContent.trim();
    if (/^[\[{]/.test(raw)) {
      try {
        var pre = document.createElement("pre");
        pre.className = "code";
        pre.textContent = JSON.stringify(JSON.parse(raw), null, 2);
        el.textContent = "";
        el.appendChild(pre);
      } catch (e) { /* not JSON: left as it came */ }
      return;
    }
    var key = el.dataset.key || "";
    var seconds = parseFloat(raw);
    if (/(_at|time|date)$/.test(key) && /^\d{9,10}(\.\d+)?$/.test(raw)) {
      el.title = raw;
      el.textContent = new Date(seconds * 1000).toISOString().slice(0, 19).replace("T", " ") + " UTC";
    }
  });
})();

// ---- experiments table (issue 19.6): selection footer, select all, column picker, auto-refresh
(function () {
  "use strict";
  var table = document.getElementById("experiments");
  var bar = document.getElementById("bulk-bar");
  if (!table || !bar) return;
  var MAX_COMPARE = 100;

  function picked() { return table.querySelectorAll("input.pick:checked").length; }
  function sync() {
    var n = picked();
    document.getElementById("selected-count").textContent = n + " selected";
    bar.classList.toggle("active", n > 0);
    bar.querySelectorAll("button.bulk").forEach(function (b) {
      if (b.id === "compare-selected") { b.disabled = n < 2 || n > MAX_COMPARE; b.textContent = "Compare (" + n + ")"; }
      else if (b.value !== "enqueue" || bar.querySelector("select[name=queue] option")) b.disabled = n === 0;
    });
  }
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.id === "pick-all") table.querySelectorAll("input.pick").forEach(function (b) { b.checked = el.checked; });
    if (el.id === "pick-all" || el.classList.contains("pick")) sync();
    // the column picker applies at once, as ClearML's does
    if (el.name === "cols" && el.form && el.form.id === "filters") el.form.submit();
  });
  bar.querySelectorAll("button[data-confirm]").forEach(function (b) {
    b.addEventListener("click", function (event) { if (!window.confirm(b.dataset.confirm)) event.preventDefault(); });
  });
  // Enter in a footer field runs that field's own action (the form's first button is Compare)
  bar.querySelectorAll(".group input").forEach(function (input) {
    input.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      event.preventDefault();
      var button = input.parentNode.querySelector("button");
      if (button && !button.disabled) button.click();
    });
  });
  sync();

  // The column picker opens inside the window: moved left when it would pass the right edge (its
  // checkboxes were off-screen when the picker sits at the end of the filters row).
  var picker = document.getElementById("column-picker");
  if (picker) picker.addEventListener("toggle", function () {
    var body = picker.querySelector(".picker-body");
    if (!picker.open || !body) return;
    body.style.left = "";
    var rect = body.getBoundingClientRect(), room = document.documentElement.clientWidth - 8;
    if (rect.right > room) body.style.left = -Math.max(0, Math.min(rect.right - room, rect.left - 8)) + "px";
  });

  // Auto-refresh: every 10 s the rows are fetched again (same URL) and swapped in, ticks kept.
  var toggle = document.getElementById("auto-refresh"), KEY = "hpo-table-auto-refresh", timer = null;
  function refresh() {
    fetch(window.location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html");
        var body = fresh.querySelector("#experiments tbody"), count = fresh.getElementById("row-count");
        if (!body) return;
        var ticked = {};
        table.querySelectorAll("input.pick:checked").forEach(function (b) { ticked[b.value] = true; });
        body.querySelectorAll("input.pick").forEach(function (b) { b.checked = !!ticked[b.value]; });
        table.tBodies[0].replaceWith(body);
        if (count) document.getElementById("row-count").replaceWith(count);
        table.dataset.refreshed = String(Date.now());
        sync();
      })
      .catch(function () { /* the next tick tries again */ });
  }
  function schedule(on) {
    if (timer) { clearInterval(timer); timer = null; }
    if (on) timer = setInterval(refresh, Number(table.dataset.refreshMs || 10000));
    try { window.localStorage.setItem(KEY, on ? "1" : ""); } catch (e) { /* private mode */ }
  }
  if (toggle) {
    try { toggle.checked = window.localStorage.getItem(KEY) === "1"; } catch (e) { toggle.checked = false; }
    toggle.addEventListener("change", function () { schedule(toggle.checked); });
    schedule(toggle.checked);
  }
})();
