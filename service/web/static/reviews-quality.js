// Data-quality review queue: select all, bulk buttons enabled only with a selection, confirm bulk rejects.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-confirm]") : null;
    if (button && !window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("quality-queue");
    if (!form) { return; }
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=item_ids]:not(:disabled)"));
    var all = form.querySelector(".select-all");
    var count = form.querySelector(".selection-count");
    var bulkButtons = form.querySelectorAll("button[data-needs-selection]");

    function refresh() {
      var chosen = boxes.filter(function (b) { return b.checked; }).length;
      bulkButtons.forEach(function (b) { b.disabled = chosen === 0; });
      if (count) { count.textContent = chosen ? chosen + " selected" : "select records for a bulk decision"; }
      if (all) { all.checked = chosen > 0 && chosen === boxes.length; }
    }

    boxes.forEach(function (b) { b.addEventListener("change", refresh); });
    if (all) {
      all.addEventListener("change", function () {
        boxes.forEach(function (b) { b.checked = all.checked; });
        refresh();
      });
    }
    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (button && button.hasAttribute("data-confirm-selection") &&
          !window.confirm(button.getAttribute("data-confirm-selection"))) {
        event.preventDefault();
      }
    });
    refresh();
  });
})();
