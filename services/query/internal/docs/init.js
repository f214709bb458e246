// Swagger UI on the document the query service builds from its endpoint declarations.
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  defaultModelsExpandDepth: -1,
  deepLinking: true,
});
