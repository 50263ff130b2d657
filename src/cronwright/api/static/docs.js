// Starts Swagger UI on /api/docs. A file rather than an inline script: the page's
// Content-Security-Policy allows scripts from this server only.
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#ui",
    deepLinking: true,
    displayOperationId: true,
    validatorUrl: null, // never send the document to validator.swagger.io
  });
});
