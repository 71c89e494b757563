(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var controls = ["f-flow", "f-verdict", "f-level", "f-outcome", "f-text"];

  function has(list, value) { return !value || (" " + list + " ").indexOf(" " + value + " ") >= 0; }

  function apply() {
    var flow = $("f-flow").value, verdict = $("f-verdict").value, level = $("f-level").value;
    var outcome = $("f-outcome").value, text = $("f-text").value.trim().toLowerCase();
    var shownReqs = 0, shownTests = 0;
    document.querySelectorAll("tr.req").forEach(function (row) {
      var ok = has(row.dataset.flow, flow) && has(row.dataset.verdict, verdict) && has(row.dataset.level, level)
        && (!text || row.textContent.toLowerCase().indexOf(text) >= 0);
      row.classList.toggle("hidden", !ok);
      if (ok) { shownReqs++; }
    });
    document.querySelectorAll("section.flow").forEach(function (sec) {
      sec.classList.toggle("hidden", !!flow && sec.dataset.flow !== flow);
    });
    document.querySelectorAll("details.test").forEach(function (t) {
      // A requirement ID typed in the search box shows the tests that judged it, not only those naming it.
      var matches = !text || t.querySelector("summary").textContent.toLowerCase().indexOf(text) >= 0
        || (t.dataset.reqs || "").toLowerCase().split(" ").indexOf(text) >= 0;
      var ok = has(t.dataset.flow, flow) && has(t.dataset.verdicts, verdict) && has(t.dataset.levels, level)
        && has(t.dataset.outcome, outcome) && matches;
      t.classList.toggle("hidden", !ok);
      if (ok) { shownTests++; }
    });
    $("f-count").textContent = shownReqs + " requirements, " + shownTests + " tests shown";
  }

  controls.forEach(function (id) {
    var el = $(id);
    if (el) { el.addEventListener(id === "f-text" ? "input" : "change", apply); }
  });
  $("f-reset").addEventListener("click", function () {
    controls.forEach(function (id) { $(id).value = ""; });
    apply();
  });
  $("f-expand").addEventListener("click", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
  // A printed report shows what is open: every shown test is opened (title, message, findings and
  // one line per exchange); exchange bodies print where they are open (a failed test's last
  // exchange, or all of them after "Expand all").
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details.test:not(.hidden)").forEach(function (d) { d.open = true; });
  });
  // Filters can be preset in the address: report.html?flow=foundations&verdict=not-met&level=SHALL&q=CAP
  var params = new URLSearchParams(location.search);
  // report.html?print=summary prints the one-page summary alone.
  if (params.get("print") === "summary") { document.body.classList.add("print-summary"); }
  [["flow", "f-flow"], ["verdict", "f-verdict"], ["level", "f-level"], ["outcome", "f-outcome"], ["q", "f-text"]]
    .forEach(function (pair) { if (params.get(pair[0])) { $(pair[1]).value = params.get(pair[0]); } });
  // Following a link opens its target, even one the filters hide (they are cleared so it shows).
  function openTarget() {
    var el = location.hash && document.getElementById(location.hash.slice(1));
    if (!el) { return; }
    var hidden = el.classList.contains("hidden") || (el.closest && el.closest(".hidden"));
    if (hidden) {
      controls.forEach(function (id) { $(id).value = ""; });
      apply();
    }
    if (el.tagName === "DETAILS") { el.open = true; }
    el.scrollIntoView();
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
  apply();
})();
