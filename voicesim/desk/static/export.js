// The exported sessions page has no server: filter, sort and the CSV of the rows shown
// happen here, with the same rules as the served page (voicesim/desk/analytics.py).
(function () {
  "use strict";
  var form = document.getElementById("static-filters");
  var table = document.getElementById("sessions");
  if (!form || !table) return;
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var count = document.getElementById("count-text");
  var csv = document.getElementById("csv");
  var FIELDS = ["trainee", "scenario", "pack", "outcome"];

  function matches(tr) {
    var f = form.elements, date = tr.dataset.date || "";
    return FIELDS.every(function (k) { return !f[k].value || tr.dataset[k] === f[k].value; }) &&
      (!f.date_from.value || date >= f.date_from.value) &&
      (!f.date_to.value || (date !== "" && date <= f.date_to.value));
  }

  // As the server's CSV: formula-like text gets a leading ', quoting as Python's csv module does.
  function csvCell(text) {
    var t = /^[=+\-@\t\r]/.test(text) ? "'" + text : text;
    return /[",\n\r]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
  }

  function cells(tr) {
    return Array.prototype.map.call(tr.cells, function (c) { return c.textContent.trim(); });
  }

  function update() {
    var shown = rows.filter(function (tr) { tr.hidden = !matches(tr); return !tr.hidden; });
    count.textContent = shown.length + " matching calls (" + rows.length + " in all).";
    var lines = [cells(table.tHead.rows[0]).map(csvCell).join(",")].concat(
      shown.map(function (tr) { return cells(tr).map(csvCell).join(","); }));
    if (csv.dataset.blob) URL.revokeObjectURL(csv.dataset.blob);
    csv.href = csv.dataset.blob = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
  }

  // Click a heading: sort by it (numbers as numbers, blanks last); again: the other way.
  var sortedBy = -1, descending = false;
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
    th.addEventListener("click", function () {
      descending = sortedBy === i ? !descending : true;
      sortedBy = i;
      rows.sort(function (a, b) {
        var x = a.cells[i].textContent.trim(), y = b.cells[i].textContent.trim();
        if (!x || !y) return (!x) - (!y);
        var nx = Number(x), ny = Number(y);
        var order = isNaN(nx) || isNaN(ny) ? x.toLowerCase().localeCompare(y.toLowerCase()) : nx - ny;
        return descending ? -order : order;
      });
      rows.forEach(function (tr) { body.appendChild(tr); });
      update();
    });
  });

  form.addEventListener("change", update);
  form.addEventListener("input", update);
  form.addEventListener("reset", function () { window.setTimeout(update, 0); });
  update();
})();
