// Starts Swagger UI on the /v1 OpenAPI document (a file of its own: the pages' CSP allows no inline script).
(function () {
  var spec = document.currentScript.getAttribute("data-spec");
  window.ui = SwaggerUIBundle({url: spec, dom_id: "#swagger-ui", deepLinking: true, persistAuthorization: false});
})();
