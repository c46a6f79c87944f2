// Starts Swagger UI on /docs. A file, not an inline script: the Content-Security-Policy
// allows scripts from this origin only. The schema URL comes from the tag's data attribute.
(function () {
  const script = document.currentScript;
  const url = (script && script.dataset.openapiUrl) || "/openapi.json";
  window.ui = SwaggerUIBundle({
    url,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis],
    // No badge that sends the schema to validator.swagger.io: nothing leaves the machine.
    validatorUrl: null,
  });
})();
