// Review queues (orders, data quality): select all, bulk buttons enabled only with a selection,
// confirm bulk rejects. A queue is a form with data-review-queue="<the checkboxes' name>" and
// data-empty="<what the count says with nothing selected>".
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-review-queue]").forEach(function (form) {
      var name = form.getAttribute("data-review-queue");
      var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name='" + name + "']:not(:disabled)"));
      var all = form.querySelector(".select-all");
      var count = form.querySelector(".selection-count");
      var bulkButtons = form.querySelectorAll("button[data-needs-selection]");
      var empty = form.getAttribute("data-empty") || "select for a bulk decision";

      function refresh() {
        var chosen = boxes.filter(function (b) { return b.checked; }).length;
        bulkButtons.forEach(function (b) { b.disabled = chosen === 0; });
        if (count) { count.textContent = chosen ? chosen + " selected" : empty; }
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
  });
})();
