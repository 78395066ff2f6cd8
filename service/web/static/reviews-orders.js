// Order review queue: select all, bulk buttons enabled only with a selection, confirm bulk rejects.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("review-queue");
    if (!form) { return; }
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=review_ids]:not(:disabled)"));
    var all = form.querySelector(".select-all");
    var count = form.querySelector(".selection-count");
    var bulkButtons = form.querySelectorAll("button[data-needs-selection]");

    function refresh() {
      var chosen = boxes.filter(function (b) { return b.checked; }).length;
      bulkButtons.forEach(function (b) { b.disabled = chosen === 0; });
      if (count) { count.textContent = chosen ? chosen + " selected" : "select orders for a bulk decision"; }
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
