//! The OpenAPI 3.1 document of the native API, generated from the handlers' annotations and the
//! types of [`super::schema`]: the routes are registered from the same annotations
//! ([`super::api_router`]), so a route cannot exist undocumented. Served without credentials at
//! `/api/v1/openapi.json`, and browsable at `/api/docs` (Swagger UI, shipped in the binary).

use super::schema;
use std::collections::BTreeMap;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "assetlib native API",
        description = "The native API of assetlib: every operation of the product, as JSON over HTTP. \
            Authenticate with `Authorization: Bearer KEY`. Errors are RFC 9457 problems.",
        license(name = "MIT OR Apache-2.0")
    ),
    components(schemas(schema::Problem)),
    modifiers(&Bearer),
    tags(
        (name = "identity", description = "Who the key is"),
        (name = "assets", description = "Search, read, change, upload and remove assets"),
        (name = "folders", description = "The folder tree and uploads"),
        (name = "collections", description = "Named sets of assets"),
        (name = "keys", description = "API keys, for owners"),
    )
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("An API key")).build(),
            ),
        );
        openapi.security =
            Some(vec![utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
}

/// The error answers every route may give: a problem document.
pub struct Problems;

impl IntoResponses for Problems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let problem = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/problem+json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
                )
                .build()
        };
        [
            ("4XX".to_owned(), problem("The request was refused: see `code`, `detail` and `param`.").into()),
            ("5XX".to_owned(), problem("The server or a store failed.").into()),
        ]
        .into()
    }
}
