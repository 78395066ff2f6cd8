// Small helpers for the Tillbridge pages: JSON payload checks before submit, and confirmations.
(function () {
  "use strict";

  function checkJson(textarea) {
    var box = textarea.form.querySelector(".json-error");
    var message = "";
    try {
      var value = JSON.parse(textarea.value);
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        message = "The payload must be a JSON object ({…}).";
      }
    } catch (err) {
      message = "The payload is not valid JSON: " + err.message;
    }
    textarea.classList.toggle("invalid", message !== "");
    textarea.setAttribute("aria-invalid", message !== "" ? "true" : "false");
    if (box) {
      box.textContent = message;
      box.hidden = message === "";
    }
    return message === "";
  }

  // The navigation's menus: one open at a time, closed by a click elsewhere or Escape.
  function closeMenus(except) {
    document.querySelectorAll(".nav details.menu[open]").forEach(function (menu) {
      if (menu !== except) { menu.removeAttribute("open"); }
    });
  }
  document.addEventListener("click", function (event) {
    var menu = event.target.closest ? event.target.closest(".nav details.menu") : null;
    closeMenus(menu);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { closeMenus(null); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-json]").forEach(function (textarea) {
      textarea.addEventListener("input", function () { checkJson(textarea); });
      textarea.form.addEventListener("submit", function (event) {
        if (!checkJson(textarea)) {
          event.preventDefault();
          textarea.focus();
        }
      });
    });

    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) {
          event.preventDefault();
        }
      });
    });
  });
})();
