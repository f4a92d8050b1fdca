// Hands each server-built figure (JSON in a <script type="application/json"> block) to Plotly,
// and wires the table's "select rows -> compare" checkboxes. No chart code lives here.
document.querySelectorAll("[data-figure]").forEach(function (el) {
  var spec = JSON.parse(document.getElementById(el.dataset.figure).textContent);
  Plotly.newPlot(el, spec.data || [], spec.layout || {}, {responsive: true, displaylogo: false});
});
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
