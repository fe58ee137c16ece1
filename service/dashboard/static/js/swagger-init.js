/* Starts the vendored Swagger UI on /docs (an external file: the CSP allows no inline script).
   The spec's URL comes from the container's data-openapi-url. The Authorize button takes an
   API key (HTTP bearer); it is kept only for this page's lifetime. */
"use strict";
(function () {
  const el = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: el.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    onComplete: function () { el.dataset.ready = "1"; },
  });
})();
